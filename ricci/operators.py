"""numpy's operators and methods on expressions (the :class:`NumpyOperators` mixin of ``Expr``).

Arithmetic broadcasts with numpy's rules (:mod:`ricci.broadcasting`): the
network gets shared indices, never a ones outer product. Comparisons give 0/1
masks for :func:`ricci.where`; ``==`` and ``!=`` keep Python's identity meaning
(expressions are interned dictionary keys), so element-wise equality is
:func:`ricci.equal`. numpy's ufuncs and functions dispatch here through
``__array_ufunc__``/``__array_function__`` (:mod:`ricci.numpy_api`).

>>> import numpy as np, ricci
>>> X, b = ricci.Tensor("X", (2, 3)), ricci.Tensor("b", (3,))
>>> (X + b).shape, (2 ** b).shape
((2, 3), (3,))
"""
import numbers

import numpy as np

from .errors import OperandTypeError

__all__ = ["NumpyOperators"]


def _is_scalar(value):
    if type(value) in _NUMBER_TYPES:  # the common case, without the ABC checks below
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Number):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iufc"


def _scalar(value):
    """A number as a Python int, float or complex (its kind kept: integer coefficients stay integers)."""
    if type(value) in _NUMBER_TYPES:
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return complex(value)


_NUMBER_TYPES = frozenset((int, float, complex))


def _sum_of(a, b, sign, what):
    """``a + sign·b`` for expressions, broadcast."""
    from .broadcasting import broadcast_arrays
    from .expr import add

    if a.shape != b.shape:
        a, b = broadcast_arrays(a, b, what=what)
    return add([(1, a), (sign, b)])


def _product_of(a, b, what):
    from .broadcasting import product

    return product(a, b, what)


class NumpyOperators:
    """numpy's operators, reductions and shaping methods, for :class:`ricci.Expr`."""

    __slots__ = ()

    # -- arithmetic -----------------------------------------------------
    def __add__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(1, self)], offset=_scalar(other))
        return _sum_of(self, as_expr(other, "right operand of +"), 1, "+")

    def __radd__(self, other):
        from .expr import as_expr

        if _is_scalar(other):
            return self + other
        return as_expr(other, "left operand of +") + self

    def __sub__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(1, self)], offset=-_scalar(other))
        return _sum_of(self, as_expr(other, "right operand of -"), -1, "-")

    def __rsub__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(-1, self)], offset=_scalar(other))
        return as_expr(other, "left operand of -") - self

    def __neg__(self):
        from .expr import add

        return add([(-1, self)])

    def __pos__(self):
        return self

    def __mul__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(_scalar(other), self)])
        return _product_of(self, as_expr(other, "right operand of *"), "*")

    def __rmul__(self, other):
        from .expr import as_expr

        if _is_scalar(other):
            return self * other
        return as_expr(other, "left operand of *") * self

    def __truediv__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(1 / _scalar(other), self)])
        return _product_of(self, as_expr(other, "right operand of /") ** -1, "/")

    def __rtruediv__(self, other):
        from .expr import add, as_expr

        if _is_scalar(other):
            return add([(_scalar(other), self ** -1)])
        return as_expr(other, "left operand of /") / self

    def __matmul__(self, other):
        from .expr import matmul

        return matmul(self, other)

    def __rmatmul__(self, other):
        from .expr import matmul

        return matmul(other, self)

    def __pow__(self, power):
        from .expr import Expr, as_expr
        from .primitives import exp, log
        from .primitives import power as _power

        if _is_scalar(power):
            return _power(self, _scalar(power))
        if isinstance(power, (Expr, np.ndarray, list, tuple)):
            # x ** y = exp(y log x): defined (and differentiable) for x > 0, as JAX's x ** y
            return exp(_product_of(log(self), as_expr(power, "exponent of **"), "**"))
        raise OperandTypeError(
            f"the exponent of ** is a {type(power).__name__}; expected a number, an array or a ricci expression"
        )

    def __rpow__(self, base):
        from .expr import as_expr
        from .primitives import exp, log

        if _is_scalar(base):
            base = _scalar(base)
            if isinstance(base, complex) or base <= 0:
                raise OperandTypeError(
                    f"base ** x is written exp(x·log(base)) and needs a positive real base, got {base!r}"
                )
            return exp(self * float(np.log(base)))
        return exp(_product_of(log(as_expr(base, "base of **")), self, "**"))

    # -- comparisons: 0/1 masks (see ricci.where) ---------------------------
    def __lt__(self, other):
        from .select import less

        return less(self, other)

    def __le__(self, other):
        from .select import less_equal

        return less_equal(self, other)

    def __gt__(self, other):
        from .select import greater

        return greater(self, other)

    def __ge__(self, other):
        from .select import greater_equal

        return greater_equal(self, other)

    # ``==``/``!=`` stay identity (expressions are interned dict keys): use ricci.equal.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    # -- numpy's protocols --------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # array * expr, np.tanh(expr) -> Expr
        from .numpy_api import array_ufunc

        return array_ufunc(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_api import array_function

        return array_function(func, types, args, kwargs)

    # -- indexing and shaping -----------------------------------------------
    def __getitem__(self, key):
        from .indexing import getitem

        return getitem(self, key)

    def reshape(self, *shape, order="C"):
        """The same values in a new shape, as ``ndarray.reshape`` (see :func:`ricci.reshape`)."""
        from .indexing import reshape

        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape, order=order)

    @property
    def T(self):  # noqa: N802 (numpy's name)
        """The transpose (axes reversed), as numpy's ``.T``."""
        from .expr import contract

        labels = tuple(range(self.ndim))
        return contract(labels[::-1], [(self, labels)])

    def transpose(self, *axes):
        """Axes permuted, as ``ndarray.transpose`` (``x.transpose(1, 0)`` or ``x.transpose((1, 0))``)."""
        from .shaping import transpose

        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return transpose(self, axes if axes != () else None)

    def swapaxes(self, axis1, axis2):
        """Two axes exchanged, as :func:`ricci.swapaxes` and ``ndarray.swapaxes``."""
        from .shaping import swapaxes

        return swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None):
        """Size-1 axes removed, as :func:`ricci.squeeze` and ``ndarray.squeeze``."""
        from .shaping import squeeze

        return squeeze(self, axis)

    # -- reductions -----------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all), as :func:`ricci.sum` and ``ndarray.sum``."""
        from .einsum import sum as _sum

        return _sum(self, axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """The mean over ``axis``, as :func:`ricci.mean` and ``ndarray.mean``.

        >>> import ricci
        >>> ricci.Tensor("x", (2, 3)).mean(axis=0).shape
        (3,)
        """
        from .shaping import mean

        return mean(self, axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """The maximum over ``axis``, as :func:`ricci.max` and ``ndarray.max``."""
        from .reductions import max as _max

        return _max(self, axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """The minimum over ``axis``, as :func:`ricci.min` and ``ndarray.min``."""
        from .reductions import min as _min

        return _min(self, axis, keepdims=keepdims)
