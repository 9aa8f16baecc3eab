"""Indexing and shaping the numpy way: ``x[key]``, :func:`reshape`, :func:`concatenate`, :func:`stack`.

``x[key]`` takes numpy's basic indices (ints, negative ones too, slices with any step,
``None``, ``Ellipsis``) and integer-array indices (lists or integer arrays of any shape, one
per axis, broadcast together; where their axes go in the result is numpy's rule). What is
free is structural: ``None`` is an output label of size 1, a full slice is nothing, an int on
an axis (after slicing, a size-1 axis) is summed away, a reshape that only adds or removes
axes of size 1 is a contraction. The rest are primitives whose derivatives are primitives of
the same kind, each of the size of the data, never a dense one-hot matrix:

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

from .backends import array_namespace, numpy_dtype
from .errors import ArgumentError, IndexingError, OperandTypeError, ShapeError
from .expr import Apply, Constant, Expr, Zeros, apply, as_expr, contract
from .primitives import Primitive, register
from .shaping import _axis

__all__ = ["concatenate", "getitem", "iterate", "length", "reshape", "stack"]


# -- plain-data params: tuples (a literal in compiled programs), printed short ---------------
class _Data(tuple):
    """A tuple param whose text (``str``, ``format``) is short: printers show it, not 10⁴ ints."""

    __slots__ = ()

    def __str__(self):
        text = tuple.__repr__(self)
        return text if len(text) <= 40 else f"<{len(self)} ints>"

    def __format__(self, spec):
        return str(self)


class _Slices(_Data):
    """Per-axis ``(start, step, count)``, printed as numpy slices: ``[1:3, ::-1]``."""

    __slots__ = ()

    def __str__(self):
        parts = []
        for start, step, count in self:
            if type(count) is str:  # a named dimension, taken whole
                parts.append(":")
                continue
            s = _python_slice(start, step, count)
            text = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
            parts.append(text + (f":{s.step}" if s.step not in (None, 1) else ""))
        return "[" + ", ".join(parts) + "]"


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _python_slice(start, step, count):
    """The Python slice taking ``count`` elements ``start, start+step, ...``."""
    if count == 0:
        return slice(0, 0, 1)
    stop = start + step * count
    return slice(start, stop if stop >= 0 else None, step)


def _canonical(start, step, count):
    """One spelling per selection (so equal slices are one node)."""
    if count == 0:
        return (0, 1, 0)
    if count == 1:
        return (start, 1, 1)
    return (start, step, count)


def _bound(value, binding):
    """``value`` (params) with dimension names replaced by their sizes, tuple classes kept."""
    if type(value) is str:
        return binding[value]
    if isinstance(value, tuple):
        return type(value)(_bound(v, binding) for v in value)
    return value


class _ShapeParams(Primitive):
    """A primitive whose params may hold dimensions (named ones are bound for evaluation)."""

    def specialize_params(self, params, binding):
        return _bound(params, binding)


def _result_dtype(*arrays):
    """The engine's dtype rule for a primitive: numpy's promotion, integers made float64."""
    dtype = np.result_type(*[numpy_dtype(a) if hasattr(a, "dtype") else a for a in arrays])
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


_INDEX_CACHE = {}  # id(flat tuple) -> (the tuple, its arrays): programs reuse one literal


def _index_arrays(flat):
    """``flat`` as an intp array, with what scatter_add needs (cached per tuple object)."""
    hit = _INDEX_CACHE.get(id(flat))
    if hit is not None and hit[0] is flat:
        return hit[1]
    idx = np.array(flat, dtype=np.intp).reshape(-1)
    order = np.argsort(idx, kind="stable")
    ordered = idx[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if idx.size else idx
    unique = starts.size == idx.size
    arrays = (idx, unique, order, ordered[starts] if idx.size else idx, starts)
    if len(_INDEX_CACHE) > 512:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(flat)] = (flat, arrays)
    return arrays


def _backend_slice(xp, x, spec):
    """``x[..., slices]`` for libraries without negative steps (torch): positive steps, then flips."""
    lead = x.ndim - len(spec)
    index, flips = [Ellipsis], []
    for axis, (start, step, count) in enumerate(spec):
        if step < 0 and count > 0:
            index.append(slice(start + (count - 1) * step, start + 1, -step))
            flips.append(lead + axis)
        else:
            index.append(_python_slice(start, step, count))
    view = x[tuple(index)]
    return xp.flip(view, axis=tuple(flips)) if flips else view


def _backend_embed(xp, g, full, spec, dtype):
    """Zeros of ``full`` with ``g`` at a slice, out of place: each axis spread by its step, then padded."""
    lead = g.ndim - len(spec)
    out = xp.astype(g, dtype)
    for axis, (start, step, count) in enumerate(spec):
        a = lead + axis
        if count == 0:
            shape = list(out.shape)
            shape[a] = full[axis]
            return xp.zeros(tuple(shape), dtype=dtype)
        if step < 0:  # the elements land at start, start+step, ...: reverse them to increasing order
            out, start, step = xp.flip(out, axis=(a,)), start + (count - 1) * step, -step
        if step > 1:  # interleave step-1 zeros after each element, keep count·step-(step-1) of them
            shape = list(out.shape)
            spread = xp.zeros(tuple(shape[:a + 1]) + (step - 1,) + tuple(shape[a + 1:]), dtype=dtype)
            out = xp.concatenate([xp.expand_dims(out, a + 1), spread], axis=a + 1)
            shape[a] = count * step
            out = out.reshape(tuple(shape))
            index = [slice(None)] * out.ndim
            index[a] = slice(0, (count - 1) * step + 1)
            out = out[tuple(index)]
        before, after = start, full[axis] - start - out.shape[a]
        out = xp.concatenate([p for p in (_zeros_like_axis(xp, out, a, before, dtype), out,
                                          _zeros_like_axis(xp, out, a, after, dtype)) if p is not None], axis=a)
    return out


def _zeros_like_axis(xp, x, axis, n, dtype):
    if n <= 0:
        return None
    shape = list(x.shape)
    shape[axis] = n
    return xp.zeros(tuple(shape), dtype=dtype)


# -- primitives ------------------------------------------------------------------------------
class Slice(_ShapeParams):
    """``x[s₁, s₂, ...]`` on the trailing axes; params ``(spec,)``, spec per axis ``(start, step, count)``."""

    name = "slice"

    def output_shape(self, arg_shapes, params):
        (shape,), (spec,) = arg_shapes, params
        lead = len(shape) - len(spec)
        return shape[:lead] + tuple(count for _, _, count in spec)

    def evaluate(self, values, params):
        x = values[0]
        xp = array_namespace(x)
        if xp is not np:
            return xp.astype(_backend_slice(xp, x, params[0]), _result_dtype(x))
        view = x[(Ellipsis,) + tuple(_python_slice(*s) for s in params[0])]
        return np.array(view, dtype=_result_dtype(x))  # a copy: the program may write its values in place

    def vjp(self, node, cotangent, k, needed):
        spec = node.params[0]
        yield 0, _embed(cotangent, node.children[0].shape[node.ndim - len(spec):], spec)

    def jvp(self, node, tangents):
        return _slice(tangents[0], node.params[0])


class Embed(_ShapeParams):
    """Zeros of the trailing shape ``full`` with the argument written at a slice; params ``(full, spec)``."""

    name = "embed"

    def output_shape(self, arg_shapes, params):
        (shape,), (full, spec) = arg_shapes, params
        lead = len(shape) - len(spec)
        if shape[lead:] != tuple(count for _, _, count in spec):
            raise ShapeError(f"embed of shape {shape} does not fit the slice {spec} of {full}")
        return shape[:lead] + tuple(full)

    def evaluate(self, values, params):
        g, (full, spec) = values[0], params
        xp = array_namespace(g)
        if xp is not np:  # zeros padded around g, then the steps: no item assignment needed
            return _backend_embed(xp, g, full, spec, _result_dtype(g))
        out = np.zeros(g.shape[:g.ndim - len(spec)] + tuple(full), dtype=_result_dtype(g))
        out[(Ellipsis,) + tuple(_python_slice(*s) for s in spec)] = g
        return out

    def vjp(self, node, cotangent, k, needed):
        yield 0, _slice(cotangent, node.params[1])

    def jvp(self, node, tangents):
        return _embed(tangents[0], node.params[0], node.params[1])


def _gather_parts(shape, block, index_shape, after, source_block):
    lead = len(shape) - len(source_block) - after
    if lead < 0 or tuple(shape[lead:lead + len(source_block)]) != tuple(source_block):
        raise ShapeError(f"gather/scatter_add of shape {shape}: its axes do not hold the block {source_block}")
    return lead, tuple(shape[len(shape) - after:]) if after else ()


class Gather(_ShapeParams):
    """``x[idx]`` on a block of axes: params ``(block, index_shape, after, flat)``, where ``flat``
    are the indices raveled over the block, which ``after`` trailing axes follow."""

    name = "gather"

    def output_shape(self, arg_shapes, params):
        block, index_shape, after, _ = params
        lead, tail = _gather_parts(arg_shapes[0], block, index_shape, after, block)
        return tuple(arg_shapes[0][:lead]) + tuple(index_shape) + tail

    def evaluate(self, values, params):
        x, (block, index_shape, after, flat) = values[0], params
        lead, tail = _gather_parts(x.shape, block, index_shape, after, block)
        merged = x.reshape(tuple(x.shape[:lead]) + (_prod(block),) + tail)
        xp = array_namespace(x)
        if xp is not np:
            idx = xp.asarray(_index_arrays(flat)[0])
            out = xp.take(merged, idx, axis=lead)
            return xp.astype(out.reshape(tuple(x.shape[:lead]) + tuple(index_shape) + tail), _result_dtype(x))
        out = np.take(merged, _index_arrays(flat)[0].reshape(tuple(index_shape)), axis=lead)
        return out.astype(_result_dtype(x), copy=False)

    def vjp(self, node, cotangent, k, needed):
        yield 0, _scatter_add(cotangent, *node.params)

    def jvp(self, node, tangents):
        return _gather(tangents[0], *node.params)


class ScatterAdd(_ShapeParams):
    """The adjoint of :class:`Gather` (same params): zeros of the block's shape, the argument's
    entries added at the indices (repeated indices add up)."""

    name = "scatter_add"

    def output_shape(self, arg_shapes, params):
        block, index_shape, after, _ = params
        lead, tail = _gather_parts(arg_shapes[0], block, index_shape, after, index_shape)
        return tuple(arg_shapes[0][:lead]) + tuple(block) + tail

    def evaluate(self, values, params):
        g, (block, index_shape, after, flat) = values[0], params
        lead, tail = _gather_parts(g.shape, block, index_shape, after, index_shape)
        idx, unique, order, targets, starts = _index_arrays(flat)
        xp = array_namespace(g)
        if xp is not np:  # the backend's scatter-add (ricci.backends.<name>.add_at)
            dtype = _result_dtype(g)
            source = xp.moveaxis(g.reshape(tuple(g.shape[:lead]) + (idx.size,) + tail), lead, 0)
            out = xp.zeros((_prod(block),) + tuple(g.shape[:lead]) + tail, dtype=dtype)
            out = xp.add_at(out, (idx,), xp.astype(source, dtype))
            return xp.moveaxis(out, 0, lead).reshape(tuple(g.shape[:lead]) + tuple(block) + tail)
        out = np.zeros(g.shape[:lead] + (_prod(block),) + tail, dtype=_result_dtype(g))
        source = np.moveaxis(g.reshape(g.shape[:lead] + (idx.size,) + tail), lead, 0)
        target = np.moveaxis(out, lead, 0)  # a view: writes land in out
        if unique:
            target[idx] = source
        elif idx.size:  # sorted, then one sum per distinct index
            target[targets] = np.add.reduceat(source[order], starts, axis=0)
        return out.reshape(g.shape[:lead] + tuple(block) + tail)

    def vjp(self, node, cotangent, k, needed):
        yield 0, _gather(cotangent, *node.params)

    def jvp(self, node, tangents):
        return _scatter_add(tangents[0], *node.params)


class Reshape(_ShapeParams):
    """C-order reshape of the trailing axes: params ``(old, new)``."""

    name = "reshape"

    def output_shape(self, arg_shapes, params):
        (shape,), (old, new) = arg_shapes, params
        lead = len(shape) - len(old)
        if lead < 0 or tuple(shape[lead:]) != tuple(old):
            raise ShapeError(f"reshape node of {old} applied to shape {shape}")
        return tuple(shape[:lead]) + tuple(new)

    def evaluate(self, values, params):
        x, (old, new) = values[0], params
        xp = array_namespace(x)
        if xp is not np:
            return xp.astype(x.reshape(tuple(x.shape[:x.ndim - len(old)]) + tuple(new)), _result_dtype(x))
        return np.array(x.reshape(x.shape[:x.ndim - len(old)] + tuple(new)), dtype=_result_dtype(x))

    def vjp(self, node, cotangent, k, needed):
        old, new = node.params
        yield 0, _reshape(cotangent, new, old)

    def jvp(self, node, tangents):
        return _reshape(tangents[0], *node.params)


class Concatenate(Primitive):
    """``np.concatenate(args, axis)``: params ``(axis,)``."""

    name = "concatenate"

    def output_shape(self, arg_shapes, params):
        return _concatenated_shape(arg_shapes, params[0])

    def evaluate(self, values, params):
        xp = array_namespace(values[0])
        if xp is not np:
            return xp.astype(xp.concatenate(list(values), axis=params[0]), _result_dtype(*values))
        return np.concatenate(values, axis=params[0]).astype(_result_dtype(*values), copy=False)

    def vjp(self, node, cotangent, k, needed):
        axis, offset = node.params[0], 0
        for i, child in enumerate(node.children):
            size = child.shape[axis]
            if child in needed:
                spec = [(0, 1, d) for d in node.shape]
                spec[axis] = _canonical(offset, 1, size)
                yield i, _slice(cotangent, spec)
            offset += size

    def jvp(self, node, tangents):
        parts = [t if t is not None else Zeros(c.shape) for c, t in zip(node.children, tangents)]
        return _concatenate(parts, node.params[0])


SLICE, EMBED, GATHER, SCATTER_ADD, RESHAPE, CONCATENATE = (
    register(p()) for p in (Slice, Embed, Gather, ScatterAdd, Reshape, Concatenate))


# -- node builders, simplifying where it is free ---------------------------------------------
def _slice(x, spec):
    spec = tuple(_canonical(*s) for s in spec)
    dims = x.shape[x.ndim - len(spec):]
    if all(s == _canonical(0, 1, d) for s, d in zip(spec, dims)):
        return x
    if isinstance(x, Zeros):
        return Zeros(x.shape[:x.ndim - len(spec)] + tuple(c for _, _, c in spec))
    if isinstance(x, Constant):
        return Constant(x.value[(Ellipsis,) + tuple(_python_slice(*s) for s in spec)])
    if isinstance(x, Apply) and len(x.params) and x.primitive is SLICE and len(x.params[0]) == len(spec):
        inner = x.params[0]  # a slice of a slice is one slice
        return _slice(x.children[0], [(s1 + s2 * t1, t1 * t2, c2) for (s1, t1, _), (s2, t2, c2) in zip(inner, spec)])
    if isinstance(x, Apply) and x.primitive is EMBED and tuple(x.params[1]) == spec:
        return x.children[0]  # the slice an embed wrote
    return apply(SLICE, [x], (_Slices(spec),))


def _embed(g, full, spec):
    spec, full = tuple(_canonical(*s) for s in spec), tuple(full)
    if all(s == _canonical(0, 1, d) for s, d in zip(spec, full)):
        return g
    if isinstance(g, Zeros):
        return Zeros(g.shape[:g.ndim - len(spec)] + full)
    return apply(EMBED, [g], (_Data(full), _Slices(spec)))


def _gather(x, block, index_shape, after, flat):
    params = (_Data(block), _Data(index_shape), int(after), _Data(flat))
    if isinstance(x, Zeros):
        return Zeros(GATHER.output_shape([x.shape], params))
    if isinstance(x, Constant):
        return Constant(GATHER.evaluate([x.value], params).astype(x.value.dtype, copy=False))
    return apply(GATHER, [x], params)


def _scatter_add(g, block, index_shape, after, flat):
    params = (_Data(block), _Data(index_shape), int(after), _Data(flat))
    if isinstance(g, Zeros):
        return Zeros(SCATTER_ADD.output_shape([g.shape], params))
    return apply(SCATTER_ADD, [g], params)


def _reshape(x, old, new):
    """``x`` with its trailing axes ``old`` reshaped to ``new`` (C order)."""
    old, new = tuple(old), tuple(new)
    lead = x.ndim - len(old)
    if old == new:
        return x
    if isinstance(x, Zeros):
        return Zeros(x.shape[:lead] + new)
    if isinstance(x, Constant):
        return Constant(x.value.reshape(x.shape[:lead] + new))
    if isinstance(x, Apply) and x.primitive is RESHAPE and len(old) >= len(x.params[1]):
        inner_old, inner_new = x.params  # reshape of a reshape: one reshape from the inner shape
        pre = old[:len(old) - len(inner_new)]
        return _reshape(x.children[0], pre + tuple(inner_old), new)
    if [d for d in old if d != 1] == [d for d in new if d != 1]:
        return _ones_changed(x, lead, old, new)
    return apply(RESHAPE, [x], (_Data(old), _Data(new)))


def _ones_changed(x, lead, old, new):
    """A reshape that only adds or removes axes of size 1: a contraction (labels)."""
    labels, it = list(range(lead)), iter(range(lead, lead + len(old)))
    kept = []
    for pos, d in enumerate(old):
        lab = next(it)
        labels.append(lab if d != 1 else ("one", pos))
        if d != 1:
            kept.append(lab)
    out, sizes, it = list(range(lead)), {}, iter(kept)
    for pos, d in enumerate(new):
        if d == 1:
            out.append(("new", pos))
            sizes[("new", pos)] = 1
        else:
            out.append(next(it))
    return contract(tuple(out), [(x, tuple(labels))], sizes)


def _concatenated_shape(shapes, axis):
    first = shapes[0]
    for i, shape in enumerate(shapes[1:], 1):
        if len(shape) != len(first):
            raise ShapeError(
                f"all the input arrays must have same number of dimensions, but the array at index 0 has "
                f"{len(first)} dimension(s) and the array at index {i} has {len(shape)} dimension(s) "
                f"(shapes {tuple(first)} and {tuple(shape)})")
        for d, (a, b) in enumerate(zip(first, shape)):
            if d != axis and a != b:
                raise ShapeError(
                    f"all the input array dimensions except for the concatenation axis must match exactly, but "
                    f"along dimension {d}, the array at index 0 has size {a} and the array at index {i} has size "
                    f"{b} (shapes {tuple(first)} and {tuple(shape)}, concatenated along axis {axis})")
    if any(type(s[axis]) is str for s in shapes):
        raise ShapeError(f"cannot concatenate shapes {[tuple(s) for s in shapes]} along the named dimension of axis {axis}")
    return tuple(first[:axis]) + (sum(s[axis] for s in shapes),) + tuple(first[axis + 1:])


def _concatenate(xs, axis):
    shape = _concatenated_shape([x.shape for x in xs], axis)
    flat = []
    for x in xs:  # nested concatenations along the same axis are one
        if isinstance(x, Apply) and x.primitive is CONCATENATE and x.params[0] == axis:
            flat.extend(x.children)
        else:
            flat.append(x)
    kept = [x for x in flat if x.shape[axis] != 0]
    if not kept or all(isinstance(x, Zeros) for x in kept):
        return Zeros(shape)
    if len(kept) == 1:
        return kept[0]
    if all(isinstance(x, Constant) for x in kept):
        return Constant(np.concatenate([x.value for x in kept], axis=axis))
    return apply(CONCATENATE, kept, (axis,))


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
