"""``ricci.einsum``: build a contraction node from an einsum string.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
>>> ricci.einsum("ij,jb->ib", W, x).shape
(4, 5)
>>> ricci.einsum("ii", ricci.Tensor("S", (3, 3))).shape   # implicit output: the trace
()
"""
import numpy as np

from .errors import ArgumentError, ShapeError
from .expr import as_expr, contract
from .subscripts import ELLIPSIS, label_text, parse_subscripts


def einsum(subscripts, *operands):
    """Contract ``operands`` as ``numpy.einsum(subscripts, *operands)`` would, symbolically.

    Operands are ricci expressions, numpy arrays or numbers (constants).
    Supports explicit and implicit output, traces and diagonals (a repeated
    index in one operand), hyperedges (an index shared by three or more
    operands), outer products, sums and ``...``.

    >>> import numpy as np, ricci
    >>> a, b = ricci.Tensor("a", (3,)), ricci.Tensor("b", (3,))
    >>> ricci.einsum("i,i,i->i", a, b, a)(a=np.ones(3), b=np.arange(3.0))
    array([0., 1., 2.])
    """
    exprs = [as_expr(op, f"operand {pos} of einsum({subscripts!r})") for pos, op in enumerate(operands)]
    inputs, output = parse_subscripts(subscripts, [e.ndim for e in exprs])
    seen = {}
    for pos, (expr, labels) in enumerate(zip(exprs, inputs)):
        for lab, dim in zip(labels, expr.shape):
            if lab not in seen:
                seen[lab] = (dim, pos)
            elif seen[lab][0] != dim:
                first_dim, first_pos = seen[lab]
                kind = "'...' dimension" if isinstance(lab, tuple) else f"index {label_text(lab)!r}"
                raise ShapeError(
                    f"in einsum({subscripts!r}), {kind} has size {first_dim} in operand {first_pos} "
                    f"but {dim} in operand {pos}"
                    + (" (ricci does not broadcast size-1 '...' dimensions; write them out)" if
                       isinstance(lab, tuple) and lab[0] == ELLIPSIS else "")
                )
    return contract(output, list(zip(exprs, inputs)))


def sum(x, axis=None):  # noqa: A001 (numpy's name)
    """Sum over ``axis`` (an int, a tuple of ints, or None for all), as an einsum.

    Axes follow numpy: negative ones count from the end; out-of-range axes
    raise :class:`ricci.ShapeError`, bool or repeated axes :class:`ricci.ArgumentError`.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3))
    >>> ricci.sum(x, axis=1)(x=np.ones((2, 3)))
    array([3., 3.])
    """
    x = as_expr(x, "argument of sum")
    labels = tuple(range(x.ndim))
    axes = _normalize_axes(axis, x.ndim, x.shape)
    return contract(tuple(a for a in labels if a not in axes), [(x, labels)])


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
