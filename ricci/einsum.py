"""``ricci.einsum``: build a contraction node from an einsum string.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
>>> ricci.einsum("ij,jb->ib", W, x).shape
(4, 5)
>>> ricci.einsum("ii", ricci.Tensor("S", (3, 3))).shape   # implicit output: the trace
()
"""
import numpy as np

from .errors import ArgumentError, OperandError, RicciError, ShapeError, SubscriptError
from .expr import as_expr, contract
from .subscripts import label_text, parse_subscripts, sublists_to_subscripts


_NO_SUBSCRIPTS = object()


def einsum(subscripts=_NO_SUBSCRIPTS, *operands):
    """Contract ``operands`` as ``numpy.einsum(subscripts, *operands)`` would, symbolically.

    Operands are ricci expressions, numpy arrays or numbers (constants).
    Supports explicit and implicit output, traces and diagonals (a repeated
    index in one operand), hyperedges (an index shared by three or more
    operands), outer products, sums and ``...``.

    >>> import numpy as np, ricci
    >>> a, b = ricci.Tensor("a", (3,)), ricci.Tensor("b", (3,))
    >>> ricci.einsum("i,i,i->i", a, b, a)(a=np.ones(3), b=np.arange(3.0))
    array([0., 1., 2.])

    As in numpy, an index of size 1 in one operand broadcasts against the
    same index of size n in another, and ``...`` dimensions broadcast
    right-aligned (missing ones count as size 1). Nothing is materialised:
    the size-1 dimension is summed alone (squeezed), so gradients follow.

    >>> x, y = ricci.Tensor("x", (10, 2)), ricci.Tensor("y", (1, 2))
    >>> ricci.einsum("ij,ij->j", x, y).shape
    (2,)
    >>> ricci.einsum("...i,...i->...", ricci.Tensor("p", (3, 1, 4)), ricci.Tensor("q", (5, 4))).shape
    (3, 5)

    The interleaved form ``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])``
    takes integers in [0, 52) and ``Ellipsis`` as in numpy:

    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> ricci.einsum(A, [0, 1], B, [1, 2], [0, 2]).shape
    (2, 4)
    """
    if subscripts is _NO_SUBSCRIPTS:
        raise OperandError("einsum needs subscripts and at least one operand, such as einsum('ij,jk->ik', A, B) "
                           "or, interleaved, einsum(A, [0, 1], B, [1, 2], [0, 2])")
    if not isinstance(subscripts, (str, bytes)):
        return _einsum_sublists((subscripts,) + operands)
    if isinstance(subscripts, bytes):
        subscripts = _ascii(subscripts)
    return _einsum(subscripts, operands)


def _ascii(subscripts):
    try:
        return subscripts.decode("ascii")
    except UnicodeDecodeError:
        raise SubscriptError(f"subscripts {subscripts!r} are not ASCII: indices are ASCII letters") from None


def _einsum_sublists(args):
    """``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])``, through the equivalent string."""
    operands, sublists = args[0:len(args) - len(args) % 2:2], args[1:len(args) - len(args) % 2:2]
    output = args[-1] if len(args) % 2 else None
    if not sublists:
        raise OperandError(
            f"einsum was given no subscripts: call it as einsum('ij,jk->ik', A, B) or, interleaved, "
            f"einsum(A, [0, 1], B, [1, 2], [0, 2]); got {len(args)} argument(s) starting with a "
            f"{type(args[0]).__name__}")
    subscripts = sublists_to_subscripts(sublists, output)
    try:
        return _einsum(subscripts, operands)
    except RicciError as error:
        note = " (the interleaved form, with sublist integers 0-25 written 'A'-'Z' and 26-51 'a'-'z')"
        raise type(error)(str(error) + note) from None


def _einsum(subscripts, operands):
    exprs = [as_expr(op, f"operand {pos} of einsum({subscripts!r})") for pos, op in enumerate(operands)]
    inputs, output = parse_subscripts(subscripts, [e.ndim for e in exprs])
    sizes = {}  # label -> (size, operand) of its first occurrence of size != 1
    for pos, (expr, labels) in enumerate(zip(exprs, inputs)):
        local = {}
        for lab, dim in zip(labels, expr.shape):
            if local.setdefault(lab, dim) != dim:  # a diagonal: numpy does not broadcast within an operand
                raise ShapeError(
                    f"in einsum({subscripts!r}), {_kind(lab)} is repeated in operand {pos} with sizes "
                    f"{local[lab]} and {dim}; a diagonal needs equal sizes"
                )
        for lab, dim in local.items():
            if dim == 1:
                continue
            if lab not in sizes:
                sizes[lab] = (dim, pos)
            elif sizes[lab][0] != dim:
                first_dim, first_pos = sizes[lab]
                named = " and a named dimension matches only itself" if str in (type(first_dim), type(dim)) else ""
                raise ShapeError(
                    f"in einsum({subscripts!r}), {_kind(lab)} has size {first_dim!r} in operand {first_pos} "
                    f"but {dim!r} in operand {pos} (sizes broadcast only when one of them is 1{named})"
                )
    factors = []
    for pos, (expr, labels) in enumerate(zip(exprs, inputs)):
        # A size-1 occurrence of an index that is larger elsewhere broadcasts: it gets a label
        # of its own, summed alone (a squeeze), so the operand simply does not carry the index.
        labels = tuple(("broadcast", pos, lab) if dim == 1 and lab in sizes else lab
                       for lab, dim in zip(labels, expr.shape))
        factors.append((expr, labels))
    return contract(output, factors)


def _kind(lab):
    return "'...' dimension" if isinstance(lab, tuple) else f"index {label_text(lab)!r}"


def sum(x, axis=None, keepdims=False):  # noqa: A001 (numpy's name)
    """Sum over ``axis`` (an int, a tuple of ints, or None for all), as an einsum (``numpy.sum``).

    Axes follow numpy: negative ones count from the end; out-of-range axes
    raise :class:`ricci.ShapeError`, bool or repeated axes :class:`ricci.ArgumentError`.
    ``keepdims=True`` keeps the summed axes with size 1 (output labels of size 1
    that no factor carries), so the result broadcasts against ``x``. The dtype is
    ``numpy.einsum``'s: an int32 sum stays int32 where ``numpy.sum`` gives int64.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3))
    >>> ricci.sum(x, axis=1)(x=np.ones((2, 3)))
    array([3., 3.])
    >>> ricci.sum(x, axis=1, keepdims=True).shape
    (2, 1)
    """
    x = as_expr(x, "argument of sum")
    labels = tuple(range(x.ndim))
    axes = _normalize_axes(axis, x.ndim, x.shape)
    if not keepdims:
        return contract(tuple(a for a in labels if a not in axes), [(x, labels)])
    # A summed axis of size 1 keeps its label (nothing to sum); the others become new size-1 labels.
    out = tuple(("kept", a) if a in axes and x.shape[a] != 1 else a for a in labels)
    return contract(out, [(x, labels)], {lab: 1 for lab in out if type(lab) is tuple})


def _normalize_axes(axis, ndim, shape):
    """``axis`` as a set of non-negative axes, checked as numpy checks them."""
    if axis is None:
        return set(range(ndim))
    given = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = set()
    for a in given:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise ArgumentError(f"axis {a!r} (of type {type(a).__name__}) is not an integer; "
                                f"give an int or a tuple of ints for shape {shape}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {int(a)} is out of range for shape {shape} ({ndim} dimension(s))")
        a = int(a) % ndim
        if a in axes:
            raise ArgumentError(f"axis {axis!r} names axis {a} more than once (shape {shape})")
        axes.add(a)
    return axes
