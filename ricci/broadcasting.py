"""numpy broadcasting, as shared indices of one network: no ones are ever materialised.

Shapes broadcast with numpy's rules: aligned from the right, a dimension of
size 1 (or a missing one) stretches to the other operand's. In a product the
stretched operand simply carries fewer labels of the hyperedge
(``X * b`` is ``einsum("ab,b->ab", X, b)``); in a sum it becomes a broadcast
view, a contraction whose output has labels no factor carries, which the
engine evaluates with ``np.broadcast_to`` (a view, not a copy). Derivatives
then sum over the broadcast axes by the contraction rule itself.

A symbolic dimension (a name such as ``"batch"``) broadcasts like any other:
against 1 it wins, against the same name it matches, against another size it
is refused.

>>> import ricci
>>> X, b = ricci.Tensor("X", (4, 3)), ricci.Tensor("b", (3,))
>>> print(X * b)
einsum("ab,b->ab", X, b)
>>> ricci.broadcast_shapes((4, 1), (3,))
(4, 3)
"""
from .errors import ShapeError
from .expr import as_expr, contract

__all__ = ["broadcast_shapes", "broadcast_to", "broadcast_arrays"]


def broadcast_shapes(*shapes, what=None):
    """The broadcast shape of ``shapes``, as ``numpy.broadcast_shapes``.

    ``what`` names the operation in the error (``"+"``, ``"maximum"``).

    >>> broadcast_shapes((2, 1, 4), (3, 1), ())
    (2, 3, 4)
    >>> broadcast_shapes(("batch", 1), (5,))
    ('batch', 5)
    >>> try:
    ...     broadcast_shapes((2, 3), (4,), what="+")
    ... except ShapeError as error:
    ...     print(error)
    operands of + have shapes (2, 3) and (4,), which do not broadcast: dimension 1 is 3 in operand 0 and 4 in operand 1
    """
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(ndim):
        dim, owner = 1, None
        for pos, shape in enumerate(shapes):
            k = axis - (ndim - len(shape))
            if k < 0:
                continue
            d = shape[k]
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim, owner = d, pos
                continue
            listed = " and ".join(str(tuple(s)) for s in shapes) if len(shapes) <= 3 else f"{len(shapes)} shapes"
            where = f"operands of {what}" if what else "shapes"
            raise ShapeError(
                f"{where} have shapes {listed}, which do not broadcast: dimension {axis} is "
                f"{dim!r} in operand {owner} and {d!r} in operand {pos}"
            )
        result.append(dim)
    return tuple(result)


def aligned_labels(shape, out_shape):
    """Labels of an operand of ``shape`` broadcast into ``out_shape`` (output labels ``0..n-1``).

    An axis that keeps its size carries the output label; a stretched size-1 axis gets a
    label of its own (``("one", axis)``), summed over a size of 1: a squeeze, not a copy.
    """
    n, m = len(out_shape), len(shape)
    labels = []
    for k, d in enumerate(shape):
        axis = n - m + k
        labels.append(axis if d == out_shape[axis] else ("one", axis))
    return tuple(labels)


def broadcast_to(x, shape, what="operand"):
    """``x`` broadcast to ``shape`` (numpy's ``broadcast_to``): a view in the network.

    >>> import ricci
    >>> ricci.broadcast_to(ricci.Tensor("b", (3,)), (2, 3)).shape
    (2, 3)
    """
    x = as_expr(x, what)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        fits = len(x.shape) <= len(shape) and broadcast_shapes(x.shape, shape) == shape
    except ShapeError:
        fits = False
    if not fits:
        raise ShapeError(f"{what} of shape {x.shape} cannot be broadcast to shape {shape} (numpy's rules: "
                         "aligned from the right, only size-1 or missing dimensions stretch)")
    labels = aligned_labels(x.shape, shape)
    return contract(tuple(range(len(shape))), [(x, labels)], dict(enumerate(shape)))


def broadcast_arrays(*xs, what="operands"):
    """The operands broadcast against each other, as ``numpy.broadcast_arrays``.

    >>> import ricci
    >>> [e.shape for e in ricci.broadcast_arrays(ricci.Tensor("a", (2, 1)), ricci.Tensor("c", (3,)))]
    [(2, 3), (2, 3)]
    """
    xs = [as_expr(x, what) for x in xs]
    shape = broadcast_shapes(*(x.shape for x in xs), what=what)
    return [broadcast_to(x, shape, what) for x in xs]


def product(a, b, what="*"):
    """``a * b`` with broadcasting: one hyperedge per output axis, each operand on its own axes."""
    shape = broadcast_shapes(a.shape, b.shape, what=what)
    out = tuple(range(len(shape)))
    return contract(out, [(a, aligned_labels(a.shape, shape)), (b, aligned_labels(b.shape, shape))],
                    dict(enumerate(shape)))
