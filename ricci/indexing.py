"""Indexing and shaping the numpy way: ``x[key]``, :func:`reshape`, :func:`concatenate`, :func:`stack`.

``x[key]`` takes numpy's basic indices (ints, negative ones too, slices with any step,
``None``, ``Ellipsis``) and integer-array indices (lists or integer arrays of any shape, one
per axis, broadcast together; where their axes go in the result is numpy's rule). What is
free is structural: ``None`` is an output label of size 1, a full slice is nothing, an int on
an axis (after slicing, a size-1 axis) is summed away, a reshape that only adds or removes
axes of size 1 is a contraction. The rest are primitives whose derivatives are primitives of
the same kind, each of the size of the data, never a dense one-hot matrix (they live in
:mod:`ricci.indexing_primitives`):

================  ===================================  ====================================
node              value                                vjp (the jvp is the node itself,
                                                       applied to the tangent: all linear)
================  ===================================  ====================================
slice             ``x[a:b:s, ...]`` (a strided view)    embed: the cotangent written into
                                                       zeros of x's shape at the slice
embed             zeros with ``g`` at a slice          slice
gather            ``x[idx]`` on a block of axes         scatter_add: cotangents added into
                  (an integer array per axis)          zeros at the indices (repeated
                                                       indices add up)
scatter_add       zeros, ``g`` added at indices        gather
reshape           ``x.reshape(shape)`` (C order)       reshape back; reshape∘reshape is one
concatenate       ``np.concatenate(xs, axis)``         a slice of the cotangent per operand
================  ===================================  ====================================

Each primitive acts on the trailing axes its params describe and passes leading axes
through, so the cotangents of Jacobians and Hessians (with leading "outer" axes) need no
second rule. ``reshape(order="F")`` is a C-order reshape between two reversals of the axes
(contractions); ``stack`` is ``concatenate`` of ``expand_dims``. Boolean masks are not
indices here: write ``ricci.where(mask, x, 0)``, or index with ``np.nonzero(mask)``.
Integer inputs give float64 results (the engine's rule for primitives), where numpy keeps
the integer dtype; constants are indexed at construction, as numpy would.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x", (4, 3))
>>> x[1:, None, ::-2].shape, x[[0, 0, 3]].shape, x[..., 1].shape
((3, 1, 2), (3, 3), (4,))
>>> ricci.grad(ricci.sum(x[[0, 0, 3], 1]), x)(x=np.zeros((4, 3)))
array([[0., 2., 0.],
       [0., 0., 0.],
       [0., 0., 0.],
       [0., 1., 0.]])
"""
import operator

import numpy as np

from .errors import ArgumentError, IndexingError, OperandTypeError, ShapeError
from .expr import Expr, as_expr, contract
from .indexing_primitives import (  # noqa: F401 (the primitives are re-exported)
    CONCATENATE,
    EMBED,
    GATHER,
    RESHAPE,
    SCATTER_ADD,
    SLICE,
    Concatenate,
    Embed,
    Gather,
    Reshape,
    ScatterAdd,
    Slice,
    _canonical,
    _concatenate,
    _gather,
    _prod,
    _reshape,
    _slice,
)
from .shaping import _axis

__all__ = ["concatenate", "getitem", "iterate", "length", "reshape", "stack"]


# -- x[key] ----------------------------------------------------------------------------------
_VALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer arrays "
          "are valid indices of a ricci expression")


def _mask_error(item):
    return IndexingError(
        f"a boolean index ({type(item).__name__}) selects a data-dependent number of elements, which a ricci "
        "expression cannot have; keep the shape with ricci.where(mask, x, 0), or index with the integer "
        "arrays np.nonzero(mask) of a constant mask")


def _parse(key, x):
    """The items of ``key`` as ``(kind, value)``: "int", "slice", "array", "new" and "..." (a marker)."""
    items, ellipsis, consumed = [], False, 0
    for item in key if type(key) is tuple else (key,):
        if item is None:
            items.append(("new", None))
        elif item is Ellipsis:
            if ellipsis:
                raise IndexingError("an index can only have a single ellipsis ('...')")
            ellipsis = True
            items.append(("...", None))
        elif isinstance(item, slice):
            items.append(("slice", item))
        elif isinstance(item, (bool, np.bool_)):
            raise _mask_error(item)
        elif isinstance(item, (int, np.integer)):
            items.append(("int", int(item)))
        elif isinstance(item, Expr):
            raise OperandTypeError(
                f"an index of shape {item.shape} is a ricci expression: indices must be known when the "
                "expression is built (ints, slices, None, ..., integer arrays)")
        elif isinstance(item, (list, tuple, np.ndarray)):
            try:
                array = np.asarray(item)
            except ValueError:
                raise IndexingError(f"the index {item!r} is not a rectangular integer array") from None
            if array.dtype.kind == "b":
                raise _mask_error(item)
            if array.dtype.kind not in "iu":
                if array.size:
                    raise IndexingError(f"arrays used as indices must be of integer type, got dtype {array.dtype}")
                array = array.astype(np.intp)
            items.append(("array", array))
        elif hasattr(item, "__index__"):
            items.append(("int", operator.index(item)))
        else:
            raise IndexingError(f"{_VALID}; got {item!r} of type {type(item).__name__}")
        consumed += items[-1][0] in ("int", "slice", "array")
    if consumed > x.ndim:
        raise IndexingError(f"too many indices for an expression of shape {x.shape}: it is {x.ndim}-dimensional, "
                            f"but {consumed} were indexed")
    fill = [("slice", slice(None))] * (x.ndim - consumed)
    if ellipsis:
        at = [kind for kind, _ in items].index("...")
        items[at + 1:at + 1] = fill  # (the marker stays: numpy's ``...`` separates array indices)
    else:
        items.extend(fill)
    return items


def _slice_spec(s, n, axis):
    for part, what in ((s.start, "start"), (s.stop, "stop"), (s.step, "step")):
        if part is not None and (isinstance(part, (bool, np.bool_)) or not hasattr(part, "__index__")):
            raise ArgumentError(f"slice indices must be integers or None, got the {what} {part!r} "
                                f"(of type {type(part).__name__}) for axis {axis}")
    if s.step is not None and operator.index(s.step) == 0:
        raise ArgumentError(f"slice step cannot be zero (axis {axis})")
    start, stop, step = slice(*(None if p is None else operator.index(p) for p in (s.start, s.stop, s.step))).indices(n)
    return _canonical(start, step, len(range(start, stop, step)))


def _checked(index, n, axis):
    """Array indices made non-negative; one out of range is numpy's IndexError."""
    index = np.asarray(index, dtype=np.intp)
    bad = (index < -n) | (index >= n)
    if bad.any():
        raise IndexingError(f"index {int(index[bad].flat[0])} is out of bounds for axis {axis} with size {n}")
    return np.where(index < 0, index + n, index)


def getitem(x, key):
    """``x[key]`` with numpy's indexing rules (what ``Expr.__getitem__`` calls).

    Basic indices: ints (negative count from the end), slices with any step, ``None`` (a new
    axis of size 1) and one ``...``; advanced indices: integer arrays or lists of any shape,
    broadcast together. numpy's placement rule holds: the broadcast index shape replaces the
    indexed axes when the array indices are adjacent in the key, and comes first otherwise
    (ints count as array indices once there is one). Out-of-range indices raise
    :class:`ricci.IndexingError` (an ``IndexError``); boolean masks are refused (use
    ``ricci.where``). See the module docstring for the derivative rules.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_getitem", (2, 3, 4))
    >>> x[0].shape, x[:, ::-1].shape, x[None, ..., 1].shape, x[:, [2, 0]].shape
    ((3, 4), (2, 3, 4), (1, 2, 3), (2, 2, 4))
    >>> x[:, [[0], [1]], [1, 2]].shape, x[[0, 1], :, [1, 2]].shape
    ((2, 2, 2), (2, 3))
    >>> a = np.arange(24.0).reshape(2, 3, 4)
    >>> np.array_equal(x[1, 1:, ::2](x_getitem=a), a[1, 1:, ::2])
    True
    """
    x = as_expr(x, "indexed operand")
    items = _parse(key, x)
    advanced = any(kind == "array" for kind, _ in items)
    spec, arrays, axis_of = [], {}, {}
    axis = 0
    for pos, (kind, value) in enumerate(items):  # stage 1: one slice node for the basic indices
        if kind not in ("int", "slice", "array"):
            continue
        n, axis_of[pos] = x.shape[axis], axis
        if type(n) is str and not (kind == "slice" and value == slice(None)):
            raise ShapeError(f"axis {axis} of shape {x.shape} is the named dimension {n!r}: only ':' indexes it "
                             "(its size is bound at evaluation)")
        if kind == "slice" and value == slice(None):
            spec.append((0, 1, n))
        elif kind == "slice":
            spec.append(_slice_spec(value, n, axis))
        elif kind == "int" and not advanced:
            if not -n <= value < n:
                raise IndexingError(f"index {value} is out of bounds for axis {axis} with size {n}")
            spec.append(_canonical(value % n, 1, 1))
        else:  # an array, or an int among arrays: an advanced index
            arrays[pos] = _checked(value, n, axis)
            spec.append((0, 1, n))
        axis += 1
    y = _slice(x, spec)
    labels = list(range(x.ndim))  # y's axes, one per axis of x
    if arrays:  # stage 2: one gather over the block of advanced axes
        try:
            index_shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        except ValueError:
            shapes = " ".join(str(a.shape) for a in arrays.values())
            raise IndexingError(f"shape mismatch: indexing arrays could not be broadcast together with shapes {shapes}") from None
        positions = sorted(arrays)
        adjacent = positions == list(range(positions[0], positions[-1] + 1))
        adv = [axis_of[p] for p in positions]
        rest = [a for a in range(x.ndim) if a not in adv]
        before = [a for a in rest if adjacent and a < adv[0]]
        after = [a for a in rest if a not in before]
        block = tuple(x.shape[a] for a in adv)
        if _prod(index_shape) == 0:
            flat = ()
        else:
            broadcast = [np.broadcast_to(arrays[p], index_shape) for p in positions]
            flat = tuple(np.ravel_multi_index(broadcast, block).reshape(-1).tolist())
        y = _gather(contract(tuple(before + adv + after), [(y, tuple(labels))]), block, index_shape, len(after), flat)
        b_labels = [("b", i) for i in range(len(index_shape))]
        labels = before + b_labels + after
    out, sizes, placed = [], {}, False  # stage 3: new axes in, int axes (size 1 now) out
    for pos, (kind, _) in enumerate(items):
        if kind == "new":
            out.append(("new", pos))
            sizes[("new", pos)] = 1
        elif kind == "slice":
            out.append(axis_of[pos])
        elif kind == "array" or (kind == "int" and advanced):
            if not placed and adjacent:
                out.extend(b_labels)
            placed = True
    if arrays and not adjacent:
        out = b_labels + out
    return contract(tuple(out), [(y, tuple(labels))], sizes)


def length(x):
    """``len(x)``: the size of axis 0, as numpy's ``len``; a 0-d expression has none (TypeError).

    >>> import ricci
    >>> ricci.indexing.length(ricci.Tensor("x_len", (3, 2)))
    3
    """
    if x.ndim == 0:
        raise OperandTypeError("len() of a 0-d expression (it has no axis 0)")
    return x.shape[0]


def iterate(x):
    """``iter(x)``: the sub-expressions ``x[0], x[1], ...`` along axis 0, as numpy iterates.

    >>> import ricci
    >>> [y.shape for y in ricci.indexing.iterate(ricci.Tensor("x_iter", (3, 2)))]
    [(2,), (2,), (2,)]
    """
    n = length(x)
    return (getitem(x, i) for i in range(n))


# -- reshape, concatenate, stack -------------------------------------------------------------
def reshape(x, shape, order="C"):
    """The same values in a new shape, as ``numpy.reshape``: an int or a tuple of ints, one of
    them negative for "whatever is left"; ``order="C"`` (row-major) or ``"F"`` (column-major).

    A reshape that only adds or removes axes of size 1 is a contraction; others are one
    reshape node (a reshape of a reshape is one), whose vjp reshapes back. A shape of another
    size raises :class:`ricci.ShapeError` naming both shapes.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_reshape", (2, 3))
    >>> ricci.reshape(x, -1).shape, x.reshape(3, 1, -1).shape, ricci.reshape(x, (1, 2, 3)).shape
    ((6,), (3, 1, 2), (1, 2, 3))
    >>> ricci.reshape(x, (3, 2), order="F")(x_reshape=np.arange(6.0).reshape(2, 3))
    array([[0., 4.],
           [3., 2.],
           [1., 5.]])
    """
    x = as_expr(x, "argument of reshape")
    if order not in ("C", "F"):
        raise ArgumentError(f"reshape order must be 'C' or 'F', got {order!r} (an expression has no memory "
                            "layout for 'A' or 'K')")
    given = shape
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ArgumentError(f"reshape shape entries must be integers, got {d!r} (of type {type(d).__name__}) "
                                f"in {given!r}")
    shape = tuple(int(d) for d in shape)
    size = x.size
    unknown = [i for i, d in enumerate(shape) if d < 0]
    if len(unknown) > 1:
        raise ShapeError(f"cannot reshape shape {x.shape} into {shape}: can only specify one unknown dimension")
    if unknown:
        known = _prod(d for d in shape if d >= 0)
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape an expression of shape {x.shape} (size {size}) into shape {shape}")
        shape = tuple(size // known if d < 0 else d for d in shape)
    if _prod(shape) != size:
        raise ShapeError(f"cannot reshape an expression of shape {x.shape} (size {size}) into shape {shape}")
    if order == "C":
        return _reshape(x, x.shape, shape)
    backwards = contract(tuple(range(x.ndim))[::-1], [(x, tuple(range(x.ndim)))])
    y = _reshape(backwards, x.shape[::-1], shape[::-1])
    return contract(tuple(range(y.ndim))[::-1], [(y, tuple(range(y.ndim)))])


def _operands(arrays, fn):
    if isinstance(arrays, Expr):
        return list(iterate(arrays))
    if isinstance(arrays, np.ndarray):
        return [as_expr(a, f"operand {i} of {fn}") for i, a in enumerate(arrays)]
    if not isinstance(arrays, (list, tuple)):
        raise OperandTypeError(f"{fn} takes a sequence of expressions or arrays, got a {type(arrays).__name__}")
    if not arrays:
        raise ArgumentError(f"need at least one array to {fn.removesuffix('e')}")
    return [as_expr(a, f"operand {i} of {fn}") for i, a in enumerate(arrays)]


def concatenate(arrays, axis=0):
    """Join expressions along an existing axis, as ``numpy.concatenate`` (``axis=None``
    flattens them first). The vjp hands each operand its slice of the cotangent.

    >>> import numpy as np, ricci
    >>> a, b = ricci.Tensor("a_cat", (2, 3)), ricci.Tensor("b_cat", (2, 1))
    >>> ricci.concatenate([a, b], axis=1).shape, ricci.concatenate([a, a], axis=None).shape
    ((2, 4), (12,))
    >>> ricci.concatenate([b, np.zeros((2, 1))], axis=-1)(b_cat=np.ones((2, 1)))
    array([[1., 0.],
           [1., 0.]])
    """
    xs = _operands(arrays, "concatenate")
    if axis is None:
        return _concatenate([reshape(x, -1) for x in xs], 0)
    for i, x in enumerate(xs):
        if x.ndim == 0:
            raise ShapeError(f"zero-dimensional arrays cannot be concatenated (operand {i} is 0-d)")
    return _concatenate(xs, _axis(axis, xs[0].ndim, xs[0].shape))


def stack(arrays, axis=0):
    """Join same-shape expressions along a new axis, as ``numpy.stack``.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_stack", (2, 3))
    >>> ricci.stack([a, 2 * a]).shape, ricci.stack([a, a], axis=-1).shape
    ((2, 2, 3), (2, 3, 2))
    >>> ricci.stack([a, 2 * a], axis=1)(a_stack=np.ones((2, 3)))[0]
    array([[1., 1., 1.],
           [2., 2., 2.]])
    """
    xs = _operands(arrays, "stack")
    for i, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ShapeError(f"all input arrays must have the same shape, but operand 0 has shape {xs[0].shape} "
                             f"and operand {i} has shape {x.shape}")
    ndim = xs[0].ndim + 1
    axis = _axis(axis, ndim, xs[0].shape, "axis", f"stack of shape {xs[0].shape} (a result of {ndim} dimension(s))")
    labels = tuple(range(ndim - 1))
    out = labels[:axis] + ("new",) + labels[axis:]
    return _concatenate([contract(out, [(x, labels)], {"new": 1}) for x in xs], axis)
