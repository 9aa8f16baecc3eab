"""``ricci.einsum``: build a contraction node from an einsum string.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
>>> ricci.einsum("ij,jb->ib", W, x).shape
(4, 5)
>>> ricci.einsum("ii", ricci.Tensor("S", (3, 3))).shape   # implicit output: the trace
()
"""
from .errors import ShapeError
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

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3))
    >>> ricci.sum(x, axis=1)(x=np.ones((2, 3)))
    array([3., 3.])
    """
    x = as_expr(x, "argument of sum")
    axes = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    try:
        axes = {a % x.ndim if x.ndim else a for a in axes}
        if any(not 0 <= a < x.ndim for a in axes):
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise ShapeError(f"axis {axis!r} is out of range for shape {x.shape}") from None
    labels = tuple(range(x.ndim))
    return contract(tuple(a for a in labels if a not in axes), [(x, labels)])
