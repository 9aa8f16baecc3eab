"""``max`` and ``min`` over axes, with numpy's axis conventions and ``keepdims=``.

==================  ==================================  ======================================
node                value                               derivative
==================  ==================================  ======================================
max(x, axes)        ``np.max(x, axis=axes)``            vjp: ``mask ⊙ broadcast(g)``;
                                                        jvp: ``Σ_axes mask ⊙ t``
min(x, axes)        ``np.min(x, axis=axes)``            the same, with argmin's mask
argmax_mask(x, …)   1 at the first maximal element of   0 (a piecewise-constant function)
argmin_mask(x, …)   each reduced slice, 0 elsewhere
==================  ==================================  ======================================

The mask has the shape of ``x``, never more: the cotangent reaches x through one
element-wise product with the cotangent broadcast over the reduced axes, and Hessians are
zero (the mask's derivative is 0). **Ties:** all of the cotangent goes to the *first*
maximal (minimal) element, in numpy's ``argmax`` order, flattened (C order) over the reduced
axes; this is a subgradient. JAX instead splits the cotangent evenly among tied elements,
so at ties the two differ (away from ties they agree). A nan is the maximum (and minimum),
as in numpy: it gets the cotangent. Reducing over an axis of size 0 raises
:class:`ricci.ShapeError`, as numpy's ValueError; integer inputs give float64 values (the
engine's rule for primitives), where numpy keeps the integer dtype.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x_red", (2, 3))
>>> ricci.max(x, axis=1)(x_red=np.array([[1.0, 5.0, 5.0], [2.0, 0.0, 1.0]]))
array([5., 2.])
>>> ricci.grad(ricci.sum(ricci.max(x, axis=1)), x)(x_red=np.array([[1.0, 5.0, 5.0], [2.0, 0.0, 1.0]]))
array([[0., 1., 0.],
       [1., 0., 0.]])
"""
import builtins

import numpy as np

from .backends import array_namespace, is_complex, numpy_dtype
from .einsum import _normalize_axes
from .errors import DtypeError, ShapeError
from .expr import Constant, Zeros, apply, as_expr, contract
from .primitives import Primitive, outer_labels, register

__all__ = ["max", "min"]


class _Axes(tuple):
    """The reduced axes (a tuple param, printed as such)."""

    __slots__ = ()

    def __format__(self, spec):
        return str(self)


def _result_dtype(x):
    dtype = numpy_dtype(x)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


class Extremum(Primitive):
    """``np.max``/``np.min`` over ``axes`` (params ``(axes,)``, sorted, non-negative)."""

    def __init__(self, name, reduce, arg):
        self.name, self.reduce, self.arg = name, reduce, arg

    def output_shape(self, arg_shapes, params):
        axes = params[0]
        return tuple(d for i, d in enumerate(arg_shapes[0]) if i not in axes)

    def evaluate(self, values, params):
        x = values[0]
        xp = array_namespace(x)
        value = getattr(xp, self.reduce)(x, axis=tuple(params[0]))
        return np.asarray(value, dtype=_result_dtype(x)) if xp is np else xp.astype(value, _result_dtype(x))

    def mask(self, node):
        return apply(MASKS[self.name], [node.children[0]], node.params)

    def vjp(self, node, cotangent, k, needed):
        x, axes = node.children[0], node.params[0]
        own = tuple(range(x.ndim))
        kept = tuple(a for a in own if a not in axes)
        o = outer_labels(k)
        yield 0, contract(o + own, [(self.mask(node), own), (cotangent, o + kept)])

    def jvp(self, node, tangents):
        x, axes = node.children[0], node.params[0]
        own = tuple(range(x.ndim))
        kept = tuple(a for a in own if a not in axes)
        return contract(kept, [(self.mask(node), own), (tangents[0], own)])


class FirstExtremumMask(Primitive):
    """1.0 at the first ``arg`` (argmax/argmin) of each slice over ``axes``, 0 elsewhere; derivative 0."""

    def __init__(self, name, arg):
        self.name, self.arg = name, arg

    def output_shape(self, arg_shapes, params):
        return arg_shapes[0]

    def evaluate(self, values, params):
        x, axes = values[0], tuple(params[0])
        xp = array_namespace(x)
        if is_complex(x):
            raise DtypeError(f"{self.name}: max and min of complex values have no derivative (numpy orders "
                             "complex numbers lexicographically); use real inputs")
        rest = tuple(a for a in range(x.ndim) if a not in axes)
        moved = xp.transpose(x, rest + axes)
        flat = moved.reshape(tuple(moved.shape[:len(rest)]) + (-1,))
        first = getattr(xp, self.arg)(flat, axis=-1)
        onehot = xp.arange(flat.shape[-1]) == first[..., None]
        mask = xp.astype(onehot.reshape(moved.shape), _result_dtype(x))
        return xp.transpose(mask, tuple(int(i) for i in np.argsort(rest + axes)))

    def vjp(self, node, cotangent, k, needed):
        return iter(())  # piecewise constant: no contribution

    def jvp(self, node, tangents):
        return Zeros(node.shape)


MASKS = {
    "max": register(FirstExtremumMask("argmax_mask", "argmax")),
    "min": register(FirstExtremumMask("argmin_mask", "argmin")),
}
MAX = register(Extremum("max", "max", "argmax"))  # numpy's names, resolved on the arrays' backend
MIN = register(Extremum("min", "min", "argmin"))


def _extremum(primitive, word, x, axis, keepdims):
    x = as_expr(x, f"argument of {primitive.name}")
    axes = tuple(sorted(_normalize_axes(axis, x.ndim, x.shape)))
    empty = [a for a in axes if x.shape[a] == 0]
    if empty:
        raise ShapeError(f"zero-size array to reduction operation {word} which has no identity "
                         f"(axis {empty[0]} of shape {x.shape} has size 0)")
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    if builtins.all(x.shape[a] == 1 for a in axes):  # one element per slice (or axis=()): a relabelling
        y = contract(kept, [(x, tuple(range(x.ndim)))])
    elif isinstance(x, Constant):
        y = Constant(getattr(np, primitive.reduce)(x.value, axis=axes))
    else:
        y = apply(primitive, [x], (_Axes(axes),))
    if keepdims:
        out = tuple(a if a in kept else ("kept", a) for a in range(x.ndim))
        y = contract(out, [(y, kept)], {("kept", a): 1 for a in axes})
    return y


def max(x, axis=None, keepdims=False):
    """The maximum over ``axis`` (None: all axes; an int; a tuple), as ``numpy.max``.

    ``keepdims=True`` keeps the reduced axes with size 1. The derivative sends all of the
    cotangent to the first maximal element (numpy's argmax order); JAX splits ties evenly
    instead (see the module docstring).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_max", (2, 3))
    >>> a = np.array([[1.0, 7.0, 3.0], [4.0, 4.0, -1.0]])
    >>> ricci.max(x)(x_max=a), ricci.max(x, axis=0)(x_max=a), x.max(axis=-1, keepdims=True)(x_max=a)
    (array(7.), array([4., 7., 3.]), array([[7.],
           [4.]]))
    >>> ricci.grad(ricci.sum(ricci.max(x, axis=1)), x)(x_max=a)   # the first of the tied 4s
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """
    return _extremum(MAX, "maximum", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """The minimum over ``axis`` (None: all axes; an int; a tuple), as ``numpy.min``; the
    derivative goes to the first minimal element (see :func:`max`).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_min", (2, 3))
    >>> a = np.array([[1.0, 7.0, 1.0], [4.0, 4.0, -1.0]])
    >>> ricci.min(x, axis=(0, 1))(x_min=a), ricci.min(x, axis=1, keepdims=True).shape
    (array(-1.), (2, 1))
    >>> ricci.grad(ricci.sum(x.min(axis=1)), x)(x_min=a)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    return _extremum(MIN, "minimum", x, axis, keepdims)
