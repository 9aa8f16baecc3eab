"""Comparisons, ``where``, ``maximum``, ``minimum`` and ``clip``, with numpy's broadcasting.

=======================  ==============================  =========================================
function                 value                           derivative
=======================  ==============================  =========================================
less(a, b), …, equal     1.0 where the comparison        0 (a piecewise-constant function, as in
                         holds, else 0.0                 JAX: comparisons carry no gradient)
where(c, a, b)           ``np.where(c != 0, a, b)``      to a: ``where(c, g, 0)``; to b:
                                                         ``where(c, 0, g)`` (summed over broadcast
                                                         axes); jvp: ``where(c, ta, tb)``
maximum(a, b)            ``np.maximum(a, b)``            g·[a > b] + ½·g·[a = b] to a, and the
minimum(a, b)            ``np.minimum(a, b)``            mirror image to b (ties split ½/½, as JAX)
clip(x, lo, hi)          ``minimum(maximum(x, lo), hi)`` that of the composition (JAX's convention)
=======================  ==============================  =========================================

Comparisons give *floating-point* 0/1 masks, not booleans: a ricci network is a
floating-point computation (the mask's dtype is that of the compared values, float64
for integers). Any expression can be the condition of :func:`where`: nonzero is True
(nan is True, as ``bool(nan)`` in numpy). ``where`` *selects*, it never blends: the
branch that is not taken can hold inf or nan without harm, and its derivatives are
``where`` nodes again (never dense one-hot matrices), so Hessians work. A numpy
condition stays a constant of the network (a named :class:`ricci.Constant` keeps its
name). Python numbers are kept as parameters of the node (``greater(x, 0)``), so they
print as written and do not promote float32.

``==`` and ``!=`` on expressions are Python's identity (expressions are interned
dictionary keys): element-wise equality is :func:`equal` / :func:`not_equal`.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x_select_doc", (3,))
>>> r = ricci.where(x > 0, x, 0.0)                 # relu, written with where
>>> print(r)
where(greater(x_select_doc, 0), x_select_doc, 0)
>>> r(x_select_doc=np.array([-1.0, 2.0, 3.0]))
array([0., 2., 3.])
>>> print(ricci.grad(ricci.sum(r), x))
where(greater(x_select_doc, 0), ones(3), 0)
"""
import math

import numpy as np

from .backends import array_namespace, numpy_dtype
from .broadcasting import broadcast_shapes, broadcast_to
from .errors import ArgumentError, DtypeError, OperandTypeError, ShapeError
from .expr import Apply, Constant, Expr, Zeros, add, apply, as_expr
from .operators import _is_scalar, _scalar
from .primitives import Primitive, WeightedElementwise, register

__all__ = [
    "clip",
    "equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "maximum",
    "minimum",
    "not_equal",
    "where",
]


class _Scalar(float):
    """A real number kept as a node parameter; its ``repr`` is valid Python even for inf/nan."""

    __slots__ = ()

    def __repr__(self):
        text = float.__repr__(self)
        return text if math.isfinite(self) else f"float({text!r})"


def _param(value):
    """A Python/numpy real number as a parameter, or None when it must be a constant (complex)."""
    value = _scalar(value)
    return None if isinstance(value, complex) else _Scalar(value)


def _float_dtype(values):
    """The dtype the compiled engine gives a primitive of these arguments (float64 for integers)."""
    dtype = np.result_type(*[numpy_dtype(v) if hasattr(v, "dtype") else np.asarray(v).dtype for v in values])
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _apply(ufunc, a, b, dtype):
    """``ufunc(a, b)`` as ``dtype`` on the arrays' backend (numpy's ufunc itself for numpy)."""
    xp = array_namespace(a)
    if xp is np:
        return ufunc(a, b).astype(dtype, copy=False)
    if not hasattr(b, "shape"):
        b = xp.asarray(b, dtype=dtype)  # a Python number: the arrays' dtype (torch would make it float32)
    return xp.astype(getattr(xp, ufunc.__name__)(a, b), dtype)


def _same_shape(name, arg_shapes):
    if len(set(arg_shapes)) != 1:  # the public functions broadcast before they apply
        raise ShapeError(f"arguments of the {name} node have shapes {' and '.join(map(str, arg_shapes))}; "
                         "they need equal shapes (ricci.where/maximum/... broadcast them first)")
    return arg_shapes[0]


def _operands(a, b, what):
    """``(args, params, swapped)`` of a binary node, or None when both are constants.

    A number becomes a parameter (``swapped``: it was the first operand); two
    expressions of different shapes are broadcast against each other.
    """
    if _is_scalar(a) and not _is_scalar(b) and _param(a) is not None:
        found = _operands(b, a, what)
        return None if found is None else (found[0], found[1], True)
    a = as_expr(a, f"first argument of {what}")
    if _is_scalar(b):
        p = _param(b)
        if p is not None:
            return ([a], (p,), False) if not isinstance(a, Constant) else None
    b = as_expr(b, f"second argument of {what}")
    if isinstance(a, Constant) and isinstance(b, Constant):
        return None
    if a.shape != b.shape:
        shape = broadcast_shapes(a.shape, b.shape, what=what)
        a, b = broadcast_to(a, shape, f"first argument of {what}"), broadcast_to(b, shape, f"second argument of {what}")
    return [a, b], (), False


def _constant_value(x, what):
    if isinstance(x, Constant):
        return x.value
    return as_expr(x, what).value


# -- comparisons ------------------------------------------------------------------
class Comparison(Primitive):
    """``a < b`` etc. as 1.0/0.0 in the arguments' float dtype (params: a number in place of b)."""

    def __init__(self, name, ufunc, symbol, mirrored):
        self.name, self.ufunc, self.symbol, self.mirrored = name, ufunc, symbol, mirrored

    def output_shape(self, arg_shapes, params):
        return _same_shape(self.name, arg_shapes)

    def evaluate(self, values, params):
        dtype = _float_dtype(values)
        if dtype.kind == "c" and self.name not in ("equal", "not_equal"):
            raise DtypeError(f"{self.name} ({self.symbol}) of complex values: complex numbers have no order")
        other = values[1] if len(values) == 2 else params[0]
        with np.errstate(invalid="ignore"):
            return _apply(self.ufunc, values[0], other, dtype)

    def vjp(self, node, cotangent, k, needed):
        return iter(())  # piecewise constant: no contribution

    def jvp(self, node, tangents):
        return Zeros(node.shape)


_COMPARISONS = {
    name: register(Comparison(name, ufunc, symbol, mirrored))
    for name, ufunc, symbol, mirrored in (
        ("less", np.less, "<", "greater"),
        ("less_equal", np.less_equal, "<=", "greater_equal"),
        ("greater", np.greater, ">", "less"),
        ("greater_equal", np.greater_equal, ">=", "less_equal"),
        ("equal", np.equal, "==", "equal"),
        ("not_equal", np.not_equal, "!=", "not_equal"),
    )
}


def _compare(name, a, b):
    operands = _operands(a, b, name)
    if operands is None:  # numbers and constants: the mask is a constant
        value = _COMPARISONS[name].ufunc(_constant_value(a, name), _constant_value(b, name))
        return Constant(np.asarray(value, dtype=np.float64))
    args, params, swapped = operands
    primitive = _COMPARISONS[_COMPARISONS[name].mirrored if swapped else name]
    return apply(primitive, args, params)


def less(a, b):
    """``a < b`` element-wise with numpy's broadcasting, as 1.0/0.0 (zero derivative).

    ``x < y`` on expressions is this function. The value is a float mask in the
    operands' dtype (float64 for integers), usable as the condition of :func:`where`.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_less_doc", (2, 3))
    >>> (a < np.array([0.0, 1.0, 2.0]))(a_less_doc=np.ones((2, 3)))
    array([[0., 0., 1.],
           [0., 0., 1.]])
    """
    return _compare("less", a, b)


def less_equal(a, b):
    """``a <= b`` element-wise with broadcasting, as 1.0/0.0 (zero derivative); see :func:`less`.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_less_equal_doc", (3,))
    >>> (a <= 1)(a_less_equal_doc=np.array([0.0, 1.0, 2.0]))
    array([1., 1., 0.])
    """
    return _compare("less_equal", a, b)


def greater(a, b):
    """``a > b`` element-wise with broadcasting, as 1.0/0.0 (zero derivative); see :func:`less`.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_greater_doc", (3,))
    >>> print(0 < a)                       # Python turns 0 < a into a > 0
    greater(a_greater_doc, 0)
    >>> ricci.greater(a, 0)(a_greater_doc=np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
    return _compare("greater", a, b)


def greater_equal(a, b):
    """``a >= b`` element-wise with broadcasting, as 1.0/0.0 (zero derivative); see :func:`less`.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_greater_equal_doc", (3,))
    >>> (a >= 0)(a_greater_equal_doc=np.array([-1.0, 0.0, 2.0]))
    array([0., 1., 1.])
    """
    return _compare("greater_equal", a, b)


def equal(a, b):
    """``a == b`` element-wise with broadcasting, as 1.0/0.0 (zero derivative).

    The ``==`` operator of expressions is identity (they are interned dictionary
    keys); use this function for element-wise equality.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_equal_doc", (3,))
    >>> ricci.equal(a, np.array([1.0, 5.0, 3.0]))(a_equal_doc=np.array([1.0, 2.0, 3.0]))
    array([1., 0., 1.])
    """
    return _compare("equal", a, b)


def not_equal(a, b):
    """``a != b`` element-wise with broadcasting, as 1.0/0.0 (zero derivative); see :func:`equal`.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_not_equal_doc", (3,))
    >>> ricci.not_equal(a, 2.0)(a_not_equal_doc=np.array([1.0, 2.0, np.nan]))
    array([1., 0., 1.])
    """
    return _compare("not_equal", a, b)


# -- where --------------------------------------------------------------------------
class Where(Primitive):
    """``np.where(c != 0, a, b)`` of equal-shape children ``[c, a, b]``.

    A number branch is a parameter: ``[c, a]`` with params ``(b,)``, or ``[c]`` with
    ``(a, b)`` (:func:`_select` writes ``where(c, number, x)`` as ``where(not c, x, number)``).
    """

    name = "where"

    def output_shape(self, arg_shapes, params):
        if len(arg_shapes) + len(params) != 3 or not arg_shapes:
            raise ArgumentError(f"a where node has a condition and two branches, got {len(arg_shapes)} "
                                f"arguments and {len(params)} parameters")
        return _same_shape("where", arg_shapes)

    def evaluate(self, values, params):
        branches = list(values[1:]) + list(params)
        xp = array_namespace(values[0])
        if xp is not np:
            return xp.astype(xp.where(values[0] != 0, branches[0], branches[1]), _float_dtype(values))
        return np.where(values[0] != 0, branches[0], branches[1]).astype(_float_dtype(values), copy=False)

    def vjp(self, node, cotangent, k, needed):
        cond = node.children[0]
        for i, child in enumerate(node.children[1:], 1):
            if child in needed:  # i == 1: selected where cond holds; i == 2: where it does not
                c = cond if i == 1 else _logical_not(cond)
                yield i, _select(broadcast_to(c, cotangent.shape) if k else c, cotangent, 0.0)

    def jvp(self, node, tangents):
        cond, shape = node.children[0], node.shape
        ta = tangents[1] if len(tangents) > 1 else None
        tb = tangents[2] if len(tangents) > 2 else None
        return _select(cond, Zeros(shape) if ta is None else ta, Zeros(shape) if tb is None else tb)


WHERE = register(Where())


def _logical_not(cond):
    """1 where ``cond`` is 0, else 0: a constant for a constant, else ``equal(cond, 0)``."""
    if isinstance(cond, Constant):
        name = cond.name
        if name is not None:
            name = name[1:] if name.startswith("~") and len(name) > 1 else f"~{name}"
        return Constant((cond.value == 0).astype(np.int8), name=name)
    if isinstance(cond, Apply) and cond.primitive is _COMPARISONS["equal"] and cond.params == (0.0,):
        inner = cond.children[0]  # not(not c) = c when c is a 0/1 mask
        if isinstance(inner, Apply) and isinstance(inner.primitive, Comparison):
            return inner
    return _compare("equal", cond, 0.0)


def _full(shape, value):
    return Zeros(shape) if value == 0 else add([(1.0, Zeros(shape))], offset=value)


def _select(cond, a, b):
    """The where node of a condition and two branches of one shape (expressions or numbers)."""
    shape = cond.shape
    if isinstance(a, Zeros):
        a = 0.0
    if isinstance(b, Zeros):
        b = 0.0
    a_number, b_number = not isinstance(a, Expr), not isinstance(b, Expr)
    if isinstance(cond, Constant):  # a constant condition may take one branch everywhere
        if np.all(cond.value != 0):
            return _full(shape, a) if a_number else a
        if not np.any(cond.value != 0):
            return _full(shape, b) if b_number else b
    if a_number and b_number:
        if a == b:
            return _full(shape, a)
        return apply(WHERE, [cond], (_Scalar(a), _Scalar(b)))
    if a_number:
        return apply(WHERE, [_logical_not(cond), b], (_Scalar(a),))
    if b_number:
        return apply(WHERE, [cond, a], (_Scalar(b),))
    return apply(WHERE, [cond, a, b])


def _condition(condition):
    """The condition of :func:`where` as an expression, or a Python bool."""
    if isinstance(condition, Expr):
        return condition
    if isinstance(condition, (bool, np.bool_)):
        return bool(condition)
    if isinstance(condition, (np.ndarray, list, tuple)) or _is_scalar(condition):
        try:
            array = np.asarray(condition)
        except (ValueError, TypeError) as error:
            raise OperandTypeError(f"the condition of where is not a rectangular array: {error}") from None
        if array.dtype.kind not in "biufc":
            raise OperandTypeError(f"the condition of where has dtype {array.dtype}; expected booleans "
                                   "(or numbers: nonzero is True) or a ricci expression")
        if array.ndim == 0:
            return bool(array)
        return Constant((array != 0).astype(np.int8), "condition of where")
    raise OperandTypeError(f"the condition of where is a {type(condition).__name__}; expected a bool, "
                           "a numpy array of bools, or a ricci expression such as x > 0")


def _branch(value, what):
    """A branch of where: a real number (kept as a parameter) or an expression."""
    if _is_scalar(value):
        p = _param(value)
        if p is not None:
            return p
    return as_expr(value, what)


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``, with numpy's broadcasting (``numpy.where``).

    ``condition`` is a bool, a numpy array of bools (a constant of the network), or any
    ricci expression (nonzero is True), typically a comparison such as ``x > 0``;
    ``x`` and ``y`` are expressions, arrays or numbers. It *selects*: an inf or nan in
    the branch not taken never leaks into the value or the derivatives. The gradient
    reaching ``x`` is ``where(condition, g, 0)`` and ``y``'s ``where(condition, 0, g)``,
    each summed over the axes it was broadcast along; the condition has no gradient.
    As in JAX, a branch whose own derivative is inf or nan where it is not taken (``log(x)``
    at ``x = 0``) still meets a 0 there (0·inf = nan): feed it a safe argument,
    ``where(x > 0, log(where(x > 0, x, 1)), 0)``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_where_doc", (2, 2))
    >>> s = ricci.where(np.array([True, False]), x, -np.inf)   # mask columns
    >>> s(x_where_doc=np.ones((2, 2)))
    array([[  1., -inf],
           [  1., -inf]])
    >>> ricci.grad(ricci.logsumexp(s, axis=1).sum(), x)(x_where_doc=np.ones((2, 2)))
    array([[1., 0.],
           [1., 0.]])
    """
    cond = _condition(condition)
    a, b = _branch(x, "second argument of where"), _branch(y, "third argument of where")
    shapes = [getattr(v, "shape", ()) for v in (cond, a, b)]
    shape = broadcast_shapes(*shapes, what="where")
    if isinstance(cond, Constant) and (np.all(cond.value != 0) or not np.any(cond.value != 0)):
        cond = bool(np.all(cond.value != 0))  # one branch everywhere
    if isinstance(cond, bool):
        chosen = a if cond else b
        return _full(shape, chosen) if not isinstance(chosen, Expr) else broadcast_to(chosen, shape, "where")
    if isinstance(cond, Constant) and all(isinstance(v, (Constant, float)) for v in (a, b)):  # constants
        value = np.where(cond.value != 0, getattr(a, "value", a), getattr(b, "value", b))
        return Constant(np.broadcast_to(value, shape))
    cond = broadcast_to(cond, shape, "condition of where")
    a = a if not isinstance(a, Expr) else broadcast_to(a, shape, "second argument of where")
    b = b if not isinstance(b, Expr) else broadcast_to(b, shape, "third argument of where")
    return _select(cond, a, b)


# -- maximum and minimum ----------------------------------------------------------
class Extremum(WeightedElementwise):
    """``np.maximum``/``np.minimum`` of two equal-shape arguments (or one and a number parameter).

    The derivative goes to the larger (smaller) argument, ½ to each at a tie (JAX's rule).
    """

    def __init__(self, name, ufunc, wins):
        self.name, self.ufunc, self.wins = name, ufunc, wins

    def output_shape(self, arg_shapes, params):
        return _same_shape(self.name, arg_shapes)

    def evaluate(self, values, params):
        dtype = _float_dtype(values)
        if dtype.kind == "c":
            raise DtypeError(f"{self.name} of complex values: complex numbers have no order")
        other = values[1] if len(values) == 2 else params[0]
        return _apply(self.ufunc, values[0], other, dtype)

    def weights(self, node):
        a = node.children[0]
        b = node.children[1] if len(node.children) == 2 else node.params[0]
        tie = 0.5 * _compare("equal", a, b)
        yield tie + _compare(self.wins, a, b)
        if len(node.children) == 2:
            yield tie + _compare(self.wins, b, a)


MAXIMUM = register(Extremum("maximum", np.maximum, "greater"))
MINIMUM = register(Extremum("minimum", np.minimum, "less"))


def _extremum(primitive, a, b):
    operands = _operands(a, b, primitive.name)
    if operands is None:
        value = primitive.ufunc(_constant_value(a, primitive.name), _constant_value(b, primitive.name))
        return Constant(value)
    args, params, _ = operands  # symmetric: the order of a number does not matter
    return apply(primitive, args, params)


def maximum(a, b):
    """The element-wise maximum with numpy's broadcasting (``numpy.maximum``: nan wins).

    The gradient goes to the larger argument; at a tie it is split ½/½, as in JAX
    (``ricci.max``, a reduction, sends it to the first maximal element instead). A
    broadcast argument's gradient is summed over its broadcast axes.

    >>> import numpy as np, ricci
    >>> a = ricci.Tensor("a_maximum_doc", (3,))
    >>> ricci.maximum(a, 0)(a_maximum_doc=np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    >>> ricci.grad(ricci.sum(ricci.maximum(a, 0)), a)(a_maximum_doc=np.array([-1.0, 0.0, 2.0]))
    array([0. , 0.5, 1. ])
    """
    return _extremum(MAXIMUM, a, b)


def minimum(a, b):
    """The element-wise minimum with numpy's broadcasting (``numpy.minimum``); ties split ½/½.

    >>> import numpy as np, ricci
    >>> a, b = ricci.Tensor("a_minimum_doc", (2,)), ricci.Tensor("b_minimum_doc", (2, 1))
    >>> ricci.minimum(a, b)(a_minimum_doc=np.array([1.0, 4.0]), b_minimum_doc=np.array([[2.0], [3.0]]))
    array([[1., 2.],
           [1., 3.]])
    """
    return _extremum(MINIMUM, a, b)


def clip(x, a_min, a_max):
    """``x`` limited to ``[a_min, a_max]``, as ``numpy.clip``: ``minimum(maximum(x, a_min), a_max)``.

    Either bound may be None (no limit on that side), not both (numpy before 2.1 refuses
    that too; newer numpy returns ``x`` unchanged): an :class:`ricci.ArgumentError`.
    Bounds broadcast like ``x``. The derivative is that of the composition, JAX's
    convention: 1 inside, 0 outside, ½ on a bound. When ``a_min > a_max`` the value is
    ``a_max``, as numpy's.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_clip_doc", (4,))
    >>> ricci.clip(x, -1.0, 1.0)(x_clip_doc=np.array([-3.0, 0.5, 1.0, 7.0]))
    array([-1. ,  0.5,  1. ,  1. ])
    >>> ricci.grad(ricci.sum(ricci.clip(x, -1.0, None)), x)(x_clip_doc=np.array([-3.0, 0.5, 1.0, 7.0]))
    array([0., 1., 1., 1.])
    """
    if a_min is None and a_max is None:
        raise ArgumentError("clip needs a_min or a_max (or both); both are None")
    y = x if a_min is None else maximum(x, a_min)
    return y if a_max is None else minimum(y, a_max)
