"""numpy's functions and ufuncs on ricci expressions (``__array_ufunc__``/``__array_function__``).

``np.tanh(X @ w)``, ``ndarray * expr``, ``np.einsum("ij,j->i", W, x)`` or
``np.linalg.inv(A)`` with a ricci expression among the arguments return ricci
expressions, which derive like any other. What is covered is in two tables:
:data:`UFUNCS` (numpy ufuncs, called plainly) and :data:`FUNCTIONS` (numpy
functions). Anything else raises :class:`ricci.UnsupportedFunctionError` (a
``TypeError``) naming numpy's function (``numpy.linalg.eigh``) and what to use
instead when something close exists; so does a keyword argument or a ufunc
method (``reduce``, ``accumulate``, ``outer``, ``at``) that ricci does not map.

Conventions, where they differ from numpy:

- results are expressions, never arrays: ``out=`` is refused (expressions are
  immutable), and so are ``dtype=``, ``where=``, ``casting=``… unless they have
  numpy's default value;
- ``np.einsum(..., optimize=...)`` is accepted and ignored: ricci plans the
  contraction order itself at evaluation (``evaluate(optimize=...)``, ``compile``);
- comparisons (``np.less``, ``np.equal``…) give 1.0/0.0 float masks
  (:mod:`ricci.select`); so ``ndarray == expr`` is element-wise (it is
  ``np.equal``) while ``expr == ndarray`` is identity (expressions are interned);
- ``np.shape`` of an expression with named dimensions holds the names, and
  ``np.size`` is then an expression (``3*batch``) that evaluates once they are bound;
- ``np.linalg.slogdet`` returns ``(sign, logabsdet)`` as two expressions, sign
  with zero derivative, logabsdet with derivative X⁻ᵀ;
- ``np.max``/``np.min`` and ``np.maximum.reduce`` are :func:`ricci.max`: the
  gradient goes to the first extremal element; ``np.maximum``/``np.minimum`` split
  ties ½/½ (JAX's rules).

>>> import numpy as np, ricci
>>> X, w = ricci.Tensor("X_npapi_doc", (4, 3)), ricci.Tensor("w_npapi_doc", (3,))
>>> y = np.tanh(X @ w)
>>> type(y).__name__, y.shape
('Apply', (4,))
>>> L = np.sum(np.ones(4) * y ** 2)
>>> ricci.grad(L, w)(X_npapi_doc=np.zeros((4, 3)), w_npapi_doc=np.ones(3))
array([0., 0., 0.])
>>> try:
...     np.arctan(w)
... except ricci.UnsupportedFunctionError as error:
...     print(error)
numpy.arctan is not supported by ricci: ricci has no arctan; write it with the functions of ricci.primitives or register a primitive with ricci.primitives.register
"""
import collections
import inspect
import math

import numpy as np

from . import (
    broadcasting,
    indexing,
    linalg,
    nn,
    primitives,
    reductions,
    select,
    shaping,
    special,
)
from .backends import array_namespace
from .einsum import einsum as _ricci_einsum
from .einsum import sum as _ricci_sum
from .errors import ShapeError, UnsupportedFunctionError
from .expr import Expr, as_expr, contract
from .primitives import Primitive, outer_labels, register

__all__ = ["FUNCTIONS", "UFUNCS", "SlogdetResult", "array_function", "array_ufunc"]

_NO_VALUE = getattr(np, "_NoValue", object())
# keyword values numpy passes (or users write) that mean "the default": dropped before mapping
_DEFAULTS = {"out": (None, ()), "dtype": (None,), "where": (True,), "casting": ("same_kind",),
             "order": ("K",), "subok": (True,), "copy": (None,)}


def _binary(method, reflected):
    def apply(a, b):
        if isinstance(a, Expr):
            return getattr(a, method)(b)
        return getattr(b, reflected)(a)

    return apply


def _scaled_log(base):
    factor = 1.0 / math.log(base)
    return lambda x: primitives.log(x) * factor


# numpy ufunc name -> a function of the ufunc's inputs
UFUNCS = {
    "add": _binary("__add__", "__radd__"),
    "subtract": _binary("__sub__", "__rsub__"),
    "multiply": _binary("__mul__", "__rmul__"),
    "divide": _binary("__truediv__", "__rtruediv__"),  # also np.true_divide
    "power": _binary("__pow__", "__rpow__"),
    "float_power": _binary("__pow__", "__rpow__"),  # numpy's float64 result dtype is not forced
    "matmul": _binary("__matmul__", "__rmatmul__"),
    "negative": lambda x: -x,
    "positive": lambda x: +x,
    "square": lambda x: x**2,
    "reciprocal": lambda x: x**-1,
    "sqrt": primitives.sqrt,
    "exp": primitives.exp,
    "exp2": lambda x: primitives.exp(x * math.log(2.0)),
    "expm1": special.expm1,
    "log": primitives.log,
    "log2": _scaled_log(2.0),
    "log10": _scaled_log(10.0),
    "log1p": special.log1p,
    "tanh": primitives.tanh,
    "sin": primitives.sin,
    "cos": primitives.cos,
    "absolute": primitives.abs,  # also np.abs
    "fabs": primitives.abs,
    "sign": primitives.sign,
    "logaddexp": special.logaddexp,
    "maximum": select.maximum,
    "minimum": select.minimum,
    "less": select.less,
    "less_equal": select.less_equal,
    "greater": select.greater,
    "greater_equal": select.greater_equal,
    "equal": select.equal,
    "not_equal": select.not_equal,
}

# ufunc.reduce that ricci maps: name -> (function, numpy's default axis)
_REDUCE = {"add": (_ricci_sum, 0), "maximum": (reductions.max, 0), "minimum": (reductions.min, 0)}

_WRITE_IT = "write it with the functions of ricci.primitives or register a primitive with ricci.primitives.register"
_PIECEWISE = "it is piecewise constant (zero derivative): evaluate the expression and apply numpy to the array"
SUGGESTIONS = {  # numpy's name -> what to use instead
    **{f"numpy.{n}": f"ricci has no {n}; {_WRITE_IT}" for n in (
        "arctan", "arcsin", "arccos", "arctanh", "arcsinh", "arccosh", "arctan2", "sinh", "cosh", "tan",
        "cbrt", "hypot", "deg2rad", "rad2deg", "logaddexp2", "sinc", "i0")},
    **{f"numpy.{n}": _PIECEWISE for n in ("floor", "ceil", "rint", "trunc", "round", "around", "fix",
                                          "floor_divide", "mod", "remainder", "fmod", "isnan", "isfinite",
                                          "isinf", "signbit", "argmax", "argmin", "argsort", "sort",
                                          "nonzero", "argwhere", "unique")},
    "numpy.heaviside": "use ricci.step (1 where x > 0, else 0)",
    "numpy.fmax": "use ricci.maximum (numpy.maximum: nan propagates, where fmax ignores it)",
    "numpy.fmin": "use ricci.minimum (numpy.minimum: nan propagates, where fmin ignores it)",
    "numpy.logical_and": "multiply the 0/1 masks: a * b", "numpy.logical_or": "use ricci.maximum(a, b) of the masks",
    "numpy.logical_not": "use 1 - mask, or ricci.equal(mask, 0)",
    "numpy.prod": "for positive values use ricci.exp(ricci.sum(ricci.log(x)))",
    "numpy.cumsum": "write it as an einsum with a constant triangular matrix of ones",
    "numpy.linalg.eigh": "ricci has no eigendecomposition; for log det or inverse of a symmetric matrix use "
                         "ricci.logdet / ricci.inv / ricci.solve",
    "numpy.linalg.eig": "ricci has no eigendecomposition; use ricci.det, ricci.logdet, ricci.inv or ricci.solve",
    "numpy.linalg.svd": "ricci has no SVD; ricci.norm is the Frobenius norm",
    "numpy.linalg.cholesky": "ricci has no Cholesky factor; use ricci.solve, ricci.inv or ricci.logdet",
    "numpy.linalg.pinv": "for a square invertible matrix use ricci.inv (or ricci.solve)",
    "numpy.linalg.matrix_power": "multiply with @ (an integer power is a chain of matrix products)",
    "numpy.linalg.multi_dot": "use ricci.einsum or a chain of @",
    "numpy.linalg.matmul": "use @ or ricci.einsum",
    "numpy.linalg.vector_norm": "use numpy.linalg.norm or ricci.norm",
    "numpy.var": "write it from ricci.mean: ricci.mean((x - ricci.mean(x, axis, keepdims=True))**2, axis)",
    "numpy.std": "write it as ricci.sqrt of the variance from ricci.mean",
    "numpy.ravel": "use ricci.reshape(x, -1)", "numpy.diag": "use ricci.einsum('ii->i', x) for the diagonal",
    "numpy.diagonal": "use ricci.einsum('ii->i', x)", "numpy.kron": "use ricci.einsum and ricci.reshape",
    "numpy.vdot": "use ricci.einsum on the flattened operands", "numpy.tile": "use ricci.broadcast_to and ricci.reshape",
    "numpy.repeat": "use ricci.broadcast_to and ricci.reshape", "numpy.pad": "use ricci.concatenate with zeros",
    "numpy.nansum": "use ricci.sum (a ricci network has no nan masking)", "numpy.average": "use ricci.mean",
    "numpy.logsumexp": "use ricci.logsumexp",
}


def _unsupported(name, detail=None):
    hint = detail or SUGGESTIONS.get(name)
    return UnsupportedFunctionError(f"{name} is not supported by ricci" + (f": {hint}" if hint else ""))


def _check_kwargs(name, kwargs, allowed=()):
    """Drop default-valued keywords; refuse the others that ricci does not take."""
    kept = {}
    for key, value in kwargs.items():
        if key in allowed:
            kept[key] = value
            continue
        defaults = _DEFAULTS.get(key, ())
        if any(value is d or (type(value) is type(d) and value == d) for d in defaults):
            continue
        why = ("ricci expressions are immutable; use the returned expression" if key == "out" else
               "the dtype follows numpy's promotion of the inputs at evaluation" if key == "dtype" else
               "select with ricci.where instead" if key == "where" else "ricci does not take it")
        raise UnsupportedFunctionError(f"{name}(..., {key}=...) is not supported by ricci: {why}")
    return kept


def array_ufunc(expr_self, ufunc, method, *inputs, **kwargs):
    """``Expr.__array_ufunc__``: numpy ufunc calls with an expression among the inputs.

    >>> import numpy as np, ricci
    >>> b = ricci.Tensor("b_ufunc_doc", (3,))
    >>> print(np.ones((2, 3)) + b)
    ones((2, 3)) + b_ufunc_doc
    >>> np.add.reduce(b).shape, np.exp(b).shape
    ((), (3,))
    """
    name = f"numpy.{ufunc.__name__}"
    if not all(isinstance(x, (Expr, np.ndarray, np.generic, int, float, complex, list, tuple)) for x in inputs):
        return NotImplemented
    if method == "__call__":
        function = UFUNCS.get(ufunc.__name__)
        if function is None:
            raise _unsupported(name)
        _check_kwargs(name, kwargs)
        return function(*inputs)
    if method == "reduce" and ufunc.__name__ in _REDUCE:
        function, default_axis = _REDUCE[ufunc.__name__]
        kwargs = _check_kwargs(f"{name}.reduce", kwargs, ("axis", "keepdims"))
        (x,) = inputs
        return function(x, kwargs.get("axis", default_axis), keepdims=kwargs.get("keepdims", False))
    hint = f"the ufunc method {method!r} is not mapped"
    if method == "outer":
        hint += "; broadcast instead (a[:, None] * b) or use ricci.einsum"
    elif method == "reduce":
        hint += " (ricci maps numpy.add/maximum/minimum.reduce)"
    raise _unsupported(f"{name}.{method}", hint)


# -- numpy functions ------------------------------------------------------------------
def _labels(prefix, n):
    return tuple((prefix, i) for i in range(n))


def _sizes_agree(what, a, ia, b, ib):
    if a.shape[ia] != b.shape[ib]:
        raise ShapeError(f"{what}: shapes {a.shape} and {b.shape} not aligned: dimension {ia} of the first "
                         f"({a.shape[ia]!r}) != dimension {ib} of the second ({b.shape[ib]!r})")


def _defaults_only(name, **given):
    """Refuse numpy arguments that ricci takes only at their default (None), given positionally or not."""
    for key, value in given.items():
        if value is not None and value is not _NO_VALUE:
            _check_kwargs(name, {key: value})


def _dot(a, b, out=None):
    _defaults_only("numpy.dot", out=out)
    a, b = as_expr(a, "first argument of dot"), as_expr(b, "second argument of dot")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    la, lb = _labels("a", a.ndim), _labels("b", b.ndim)
    k = -1 if b.ndim == 1 else -2
    _sizes_agree("dot", a, a.ndim - 1, b, b.ndim + k)
    la = la[:-1] + ("k",)
    lb = lb[:k] + ("k",) + (lb[k + 1:] if k == -2 else ())
    out = la[:-1] + tuple(lab for lab in lb if lab != "k")
    return contract(out, [(a, la), (b, lb)])


def _tensordot(a, b, axes=2):
    a, b = as_expr(a, "first argument of tensordot"), as_expr(b, "second argument of tensordot")
    if isinstance(axes, (int, np.integer)):
        axes_a, axes_b = list(range(a.ndim - int(axes), a.ndim)), list(range(int(axes)))
    else:
        axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"tensordot: shape-mismatch for sum ({len(axes_a)} axes of the first, {len(axes_b)} of the second)")
    axes_a = [int(i) % a.ndim for i in axes_a] if a.ndim else list(axes_a)
    axes_b = [int(i) % b.ndim for i in axes_b] if b.ndim else list(axes_b)
    la, lb = list(_labels("a", a.ndim)), list(_labels("b", b.ndim))
    for n, (i, j) in enumerate(zip(axes_a, axes_b)):
        _sizes_agree("tensordot", a, i, b, j)
        la[i] = lb[j] = ("k", n)
    out = tuple(lab for lab in la if lab[0] == "a") + tuple(lab for lab in lb if lab[0] == "b")
    return contract(out, [(a, tuple(la)), (b, tuple(lb))])


def _flat(x, what):
    x = as_expr(x, what)
    return x if x.ndim == 1 else indexing.reshape(x, -1)


def _outer(a, b, out=None):
    _defaults_only("numpy.outer", out=out)
    a, b = _flat(a, "first argument of outer"), _flat(b, "second argument of outer")
    return contract(("i", "j"), [(a, ("i",)), (b, ("j",))])


def _inner(a, b):
    a, b = as_expr(a, "first argument of inner"), as_expr(b, "second argument of inner")
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    _sizes_agree("inner", a, a.ndim - 1, b, b.ndim - 1)
    la, lb = _labels("a", a.ndim - 1) + ("k",), _labels("b", b.ndim - 1) + ("k",)
    return contract(la[:-1] + lb[:-1], [(a, la), (b, lb)])


def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _defaults_only("numpy.trace", dtype=dtype, out=out)
    a = as_expr(a, "argument of trace")
    if offset != 0:
        raise UnsupportedFunctionError("numpy.trace(..., offset=...) is not supported by ricci: "
                                       "slice the expression first (x[:, k:])")
    if a.ndim < 2:
        raise ShapeError(f"trace needs at least 2 dimensions, got shape {a.shape}")
    i, j = axis1 % a.ndim, axis2 % a.ndim
    if i == j:
        raise ShapeError(f"trace: axis1 and axis2 cannot be the same ({axis1}, {axis2})")
    _sizes_agree("trace", a, i, a, j)
    labels = tuple("d" if n in (i, j) else n for n in range(a.ndim))
    return contract(tuple(n for n in range(a.ndim) if n not in (i, j)), [(a, labels)])


def _reshape(a, shape=None, order="C", *, newshape=None):
    if shape is None:
        shape = newshape
    if shape is None:
        raise UnsupportedFunctionError("numpy.reshape needs a shape")
    return indexing.reshape(a, shape, order=order)


def _where(condition, *xy):
    if len(xy) != 2:
        raise _unsupported("numpy.where", "numpy.where(condition) with one argument gives the indices of the "
                           "nonzero elements, whose number depends on the values; pass x and y "
                           "(numpy.where(condition, x, y)), or evaluate first")
    return select.where(condition, *xy)


def _clip(a, a_min=_NO_VALUE, a_max=_NO_VALUE, out=None, *, min=_NO_VALUE, max=_NO_VALUE):
    _defaults_only("numpy.clip", out=out)
    lo = min if min is not _NO_VALUE else a_min
    hi = max if max is not _NO_VALUE else a_max
    return select.clip(a, None if lo is _NO_VALUE else lo, None if hi is _NO_VALUE else hi)


def _broadcast_to(array, shape, subok=False):
    return broadcasting.broadcast_to(array, shape, "argument of broadcast_to")


def _broadcast_arrays(*args, subok=False):
    return tuple(broadcasting.broadcast_arrays(*args, what="broadcast_arrays"))


def _shape(a):
    return as_expr(a, "argument of shape").shape


def _ndim(a):
    return as_expr(a, "argument of ndim").ndim


def _size(a, axis=None):
    """An int, or with named dimensions a float-valued expression (so that ``x / np.size(x)`` works)."""
    from .symbolic import Size

    shape = as_expr(a, "argument of size").shape
    dims = shape if axis is None else (shape[axis],)
    names = [d for d in dims if isinstance(d, str)]
    number = math.prod(d for d in dims if not isinstance(d, str))
    if not names:
        return number
    total = contract((), [(Size(name, 1.0), ()) for name in names])
    return total if number == 1 else float(number) * total


SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])


class _SlogdetPart(Primitive):
    """``np.linalg.slogdet(X)[part]``: the sign (zero derivative) or log|det X| (derivative X⁻ᵀ)."""

    def __init__(self, name, part):
        self.name, self.part = name, part

    def output_shape(self, arg_shapes, params):
        linalg._square(arg_shapes, self.name)
        return ()

    def evaluate(self, values, params):
        xp = array_namespace(values[0])
        part = xp.linalg.slogdet(values[0])[self.part]
        return np.asarray(part) if xp is np else part

    def vjp(self, node, cotangent, k, needed):
        if self.part == 1:  # G X⁻ᵀ, as logdet's
            o = outer_labels(k)
            yield 0, contract(o + ("a", "b"), [(cotangent, o), (linalg.inv(node.children[0]), ("b", "a"))])

    def jvp(self, node, tangents):
        if self.part == 0:
            from .expr import Zeros

            return Zeros(())
        return contract((), [(linalg.inv(node.children[0]), ("a", "b")), (tangents[0], ("b", "a"))])


_SIGN = register(_SlogdetPart("slogdet_sign", 0))
_LOGABSDET = register(_SlogdetPart("logabsdet", 1))


def _slogdet(a):
    from .expr import apply

    a = as_expr(a, "argument of slogdet")
    return SlogdetResult(apply(_SIGN, [a]), apply(_LOGABSDET, [a]))


def _norm(x, ord=None, axis=None, keepdims=False):
    x = as_expr(x, "argument of norm")
    n_axes = x.ndim if axis is None else (1 if isinstance(axis, (int, np.integer)) else len(axis))
    frobenius = ord is None or (ord == "fro" and n_axes == 2) or (ord == 2 and n_axes == 1)
    if not frobenius:
        raise _unsupported("numpy.linalg.norm", f"ord={ord!r} over {n_axes} axis/axes is not mapped; ricci maps "
                           "the Frobenius / vector 2-norm (ord=None, 'fro' for matrices, 2 for vectors); write "
                           "other norms with ricci.abs, ricci.sum and ricci.max")
    if axis is None and not keepdims:
        return nn.norm(x)
    return primitives.sqrt(_ricci_sum(x * x, axis, keepdims=keepdims))


def _einsum(*operands, optimize=False):
    return _ricci_einsum(*operands)  # optimize: ricci plans the order itself at evaluation


def _sum_like(function, name):  # numpy.sum(a, axis, dtype, out, keepdims) and numpy.mean
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False):
        _defaults_only(name, dtype=dtype, out=out)
        return function(a, axis, keepdims=bool(keepdims))

    return reduce


def _max_like(function, name):  # numpy.max(a, axis, out, keepdims)
    def reduce(a, axis=None, out=None, keepdims=False):
        _defaults_only(name, out=out)
        return function(a, axis, keepdims=bool(keepdims))

    return reduce


def _concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    _defaults_only("numpy.concatenate", out=out, dtype=dtype)
    return indexing.concatenate(arrays, axis)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting=None):
    _defaults_only("numpy.stack", out=out, dtype=dtype)
    return indexing.stack(arrays, axis)


# numpy function -> ricci function taking the same arguments (the arguments it supports)
FUNCTIONS = {
    np.einsum: _einsum,
    np.sum: _sum_like(_ricci_sum, "numpy.sum"),
    np.mean: _sum_like(shaping.mean, "numpy.mean"),
    np.max: _max_like(reductions.max, "numpy.max"),
    np.amax: _max_like(reductions.max, "numpy.amax"),
    np.min: _max_like(reductions.min, "numpy.min"),
    np.amin: _max_like(reductions.min, "numpy.amin"),
    np.dot: _dot,
    np.tensordot: _tensordot,
    np.outer: _outer,
    np.inner: _inner,
    np.trace: _trace,
    np.transpose: lambda a, axes=None: shaping.transpose(a, axes),
    np.swapaxes: lambda a, axis1, axis2: shaping.swapaxes(a, axis1, axis2),
    np.moveaxis: lambda a, source, destination: shaping.moveaxis(a, source, destination),
    np.expand_dims: lambda a, axis: shaping.expand_dims(a, axis),
    np.squeeze: lambda a, axis=None: shaping.squeeze(a, axis),
    np.reshape: _reshape,
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.where: _where,
    np.clip: _clip,
    np.broadcast_to: _broadcast_to,
    np.broadcast_arrays: _broadcast_arrays,
    np.shape: _shape,
    np.ndim: _ndim,
    np.size: _size,
    np.linalg.inv: lambda a: linalg.inv(a),
    np.linalg.det: lambda a: linalg.det(a),
    np.linalg.slogdet: _slogdet,
    np.linalg.solve: lambda a, b: linalg.solve(a, b),
    np.linalg.norm: _norm,
}
_SIGNATURES = {}


def _numpy_name(func):
    module = getattr(func, "__module__", None) or "numpy"
    return f"{module}.{getattr(func, '__name__', repr(func))}"


def array_function(func, types, args, kwargs):
    """``Expr.__array_function__``: a numpy function called with an expression among the arguments.

    >>> import numpy as np, ricci
    >>> W, x = ricci.Tensor("W_npfunc_doc", (2, 3)), ricci.Tensor("x_npfunc_doc", (3,))
    >>> print(np.einsum("ij,j->i", W, x))
    einsum("ab,b->a", W_npfunc_doc, x_npfunc_doc)
    >>> np.linalg.inv(np.eye(3) + np.outer(x, x)).shape, np.shape(ricci.Tensor("X_npfunc_doc", ("batch", 3)))
    ((3, 3), ('batch', 3))
    """
    if not all(issubclass(t, (Expr, np.ndarray)) for t in types):
        return NotImplemented
    name = _numpy_name(func)
    function = FUNCTIONS.get(func)
    if function is None:
        raise _unsupported(name)
    signature = _SIGNATURES.get(func)
    if signature is None:
        signature = _SIGNATURES[func] = inspect.signature(function)
    allowed = tuple(p for p in signature.parameters if signature.parameters[p].kind != inspect.Parameter.VAR_POSITIONAL)
    kwargs = _check_kwargs(name, kwargs, allowed)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        raise UnsupportedFunctionError(f"{name}: {error}; ricci supports {name}{signature}") from None
    return function(*args, **kwargs)
