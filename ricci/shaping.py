"""Reductions and shaping written as contractions: ``mean``, ``transpose``, ``swapaxes``,
``moveaxis``, ``expand_dims`` and ``squeeze``, with numpy's argument conventions.

Each result is one contraction node (a relabelling, a sum, or an output label of size 1
that no factor carries), so derivatives, printing, drawing and compilation need nothing
new: the vjp of a transpose is the inverse transpose, that of ``expand_dims`` a squeeze.
``ricci.sum`` (with ``keepdims=``) lives in :mod:`ricci.einsum`.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x", (2, 3, 4))
>>> ricci.moveaxis(x, 0, -1).shape, ricci.mean(x, axis=(0, 2), keepdims=True).shape
((3, 4, 2), (1, 3, 1))
"""
import numpy as np

from .einsum import _normalize_axes, sum as _sum
from .errors import ArgumentError, ShapeError
from .expr import Constant, as_expr, contract

__all__ = ["mean", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze"]


# -- axis arguments, checked as numpy checks them ----------------------------------------
def _axis(a, ndim, shape, what="axis", where=None):
    """One axis as a non-negative int (numpy's ``normalize_axis_index``)."""
    where = where or f"shape {shape} ({ndim} dimension(s))"
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        raise ArgumentError(f"{what} {a!r} (of type {type(a).__name__}) is not an integer; "
                            f"give an int for shape {shape}")
    if not -ndim <= a < ndim:
        raise ShapeError(f"{what} {int(a)} is out of range for {where}")
    return int(a) % ndim


def _axes(given, ndim, shape, what="axis", where=None):
    """An int or a sequence of ints as a tuple of distinct non-negative axes, in the order given
    (numpy's ``normalize_axis_tuple``)."""
    if isinstance(given, (tuple, list)):
        items = tuple(given)
    else:
        items = (given,)
    axes = tuple(_axis(a, ndim, shape, what, where) for a in items)
    repeated = sorted({a for a in axes if axes.count(a) > 1})
    if repeated:
        raise ArgumentError(f"{what} {given!r} names axis {repeated[0]} more than once (shape {shape})")
    return axes


def _operand(x, fn):
    return as_expr(x, f"argument of {fn}")


def _permute(x, perm):
    labels = tuple(range(x.ndim))
    return contract(tuple(perm), [(x, labels)])


# -- reductions ----------------------------------------------------------------------------
def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (an int, a tuple of ints, or None for all), as ``numpy.mean``.

    A sum scaled by ``1/n``; ``keepdims=True`` keeps the reduced axes with size 1. The
    result dtype is numpy's: integer inputs give float64, float32 stays float32. A mean
    over no elements is nan (numpy also warns).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3))
    >>> ricci.mean(x, axis=1)(x=np.arange(6).reshape(2, 3))
    array([1., 4.])
    >>> ricci.mean(x, axis=0, keepdims=True).shape
    (1, 3)
    >>> ricci.grad(ricci.mean(x), x)(x=np.zeros((2, 3)))[0]
    array([0.16666667, 0.16666667, 0.16666667])

    A mean over one element (an axis of size 1, or ``axis=()``) is its input: an
    integer Tensor then stays integer where numpy gives float64 (ricci has no cast node;
    a float ``ones(1)`` factor would force the dtype of the derivatives too). Integer
    constants and numbers are converted first, so they give float64 as in numpy.
    """
    x = _operand(x, "mean")
    if isinstance(x, Constant) and x.value.dtype.kind in "iu":  # a known dtype: numpy's float64 mean
        x = Constant(x.value.astype(np.float64), "argument of mean")
    axes = _normalize_axes(axis, x.ndim, x.shape)
    n, names = 1, []
    for a in axes:
        if type(x.shape[a]) is str:  # a named dimension: a factor 1/batch, bound at evaluation
            names.append(x.shape[a])
        else:
            n *= x.shape[a]
    total = _sum(x, tuple(sorted(axes)), keepdims=keepdims)
    if n == 0:
        return total * float("nan")
    if names:
        from .symbolic import Size

        for name in names:
            total = total * Size(name, -1.0)
    if n == 1:  # (the input itself: 1.0 * x is simplified to x)
        return total
    return total * (1.0 / n)


# -- shaping ---------------------------------------------------------------------------
def transpose(x, axes=None):
    """Permute the axes of ``x``, as ``numpy.transpose``: output axis ``i`` is input axis
    ``axes[i]``; ``axes=None`` reverses them (``x.T``). ``axes`` must name every axis once
    (negative axes count from the end).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3, 4))
    >>> ricci.transpose(x).shape, ricci.transpose(x, (1, -1, 0)).shape
    ((4, 3, 2), (3, 4, 2))
    >>> ricci.transpose(x, (2, 0, 1))(x=np.arange(24).reshape(2, 3, 4))[1]
    array([[ 1,  5,  9],
           [13, 17, 21]])
    """
    x = _operand(x, "transpose")
    if axes is None:
        return _permute(x, tuple(range(x.ndim))[::-1])
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        axes = axes.tolist()
    if not isinstance(axes, (tuple, list)):
        raise ArgumentError(f"axes {axes!r} of transpose must be None or a tuple of {x.ndim} ints "
                            f"(a permutation of the axes of shape {x.shape})")
    if len(axes) != x.ndim:
        raise ArgumentError(f"axes {tuple(axes)!r} of transpose do not match shape {x.shape}: "
                            f"give a permutation of all {x.ndim} axes")
    return _permute(x, _axes(axes, x.ndim, x.shape, "axes"))


def swapaxes(x, axis1, axis2):
    """Interchange two axes of ``x``, as ``numpy.swapaxes``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3, 4))
    >>> ricci.swapaxes(x, 0, -1).shape
    (4, 3, 2)
    >>> ricci.swapaxes(x, 1, 1) is x
    True
    """
    x = _operand(x, "swapaxes")
    a = _axis(axis1, x.ndim, x.shape, "axis1")
    b = _axis(axis2, x.ndim, x.shape, "axis2")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return _permute(x, perm)


def moveaxis(x, source, destination):
    """Move axes ``source`` to positions ``destination`` (ints or sequences of equal
    length), the others keeping their order, as ``numpy.moveaxis``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3, 4))
    >>> ricci.moveaxis(x, 0, -1).shape, ricci.moveaxis(x, -1, 0).shape
    ((3, 4, 2), (4, 2, 3))
    >>> ricci.moveaxis(x, [0, 1], [-1, -2]).shape
    (4, 3, 2)
    """
    x = _operand(x, "moveaxis")
    src = _axes(source, x.ndim, x.shape, "source")
    dst = _axes(destination, x.ndim, x.shape, "destination")
    if len(src) != len(dst):
        raise ArgumentError(f"source {source!r} and destination {destination!r} of moveaxis must have "
                            f"the same number of elements (shape {x.shape})")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _permute(x, order)


def expand_dims(x, axis):
    """Insert axes of size 1 at positions ``axis`` (an int or a tuple) of the result, as
    ``numpy.expand_dims``. A new axis is an output label no factor carries: nothing is
    materialised, and the derivative sums it away.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2, 3))
    >>> ricci.expand_dims(x, 0).shape, ricci.expand_dims(x, -1).shape, ricci.expand_dims(x, (0, 2)).shape
    ((1, 2, 3), (2, 3, 1), (1, 2, 1, 3))
    >>> ricci.expand_dims(x, 1)(x=np.ones((2, 3))).shape
    (2, 1, 3)
    """
    x = _operand(x, "expand_dims")
    ndim = x.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    new = set(_axes(axis, ndim, x.shape, "axis", f"expand_dims of shape {x.shape} (a result of {ndim} dimension(s))"))
    labels, out, sizes, it = tuple(range(x.ndim)), [], {}, iter(range(x.ndim))
    for pos in range(ndim):
        if pos in new:
            out.append(("new", pos))
            sizes[("new", pos)] = 1
        else:
            out.append(next(it))
    return contract(tuple(out), [(x, labels)], sizes)


def squeeze(x, axis=None):
    """Remove axes of size 1 (all of them, or those in ``axis``), as ``numpy.squeeze``;
    naming an axis whose size is not 1 raises :class:`ricci.ShapeError`.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (1, 3, 1))
    >>> ricci.squeeze(x).shape, ricci.squeeze(x, 0).shape, ricci.squeeze(x, (0, -1)).shape
    ((3,), (3, 1), (3,))
    >>> ricci.squeeze(x, axis=2)(x=np.arange(3.0).reshape(1, 3, 1))
    array([[0., 1., 2.]])
    """
    x = _operand(x, "squeeze")
    if axis is None:
        axes = {a for a, d in enumerate(x.shape) if d == 1}
    else:
        axes = set(_axes(axis, x.ndim, x.shape, "axis"))
        for a in sorted(axes):
            if x.shape[a] != 1:
                raise ShapeError(f"cannot squeeze axis {a} of shape {x.shape}: its size is {x.shape[a]}, not 1")
    labels = tuple(range(x.ndim))
    return contract(tuple(a for a in labels if a not in axes), [(x, labels)])
