"""Numerically stable element-wise functions: softplus, log1p, expm1, log_sigmoid, erf, erfc, logaddexp.

Each one-argument function is a row of :data:`SPECIAL`, in the style of
:data:`ricci.primitives.ELEMENTWISE`: its name, a numerically stable numpy
implementation, its derivative f'(x) as a ricci expression of ``x`` and
``y = f(x)`` (so Hessians and HVPs work), whether f(0) == 0, and a doc line.

==============  ===============================  ===========================
function        value (numpy form)               derivative (an expression)
==============  ===============================  ===========================
softplus(x)     log(1 + eˣ) = logaddexp(0, x)    sigmoid(x)
log_sigmoid(x)  log σ(x) = −logaddexp(0, −x)     sigmoid(−x)
log1p(x)        log(1 + x), x > −1               (1 + x)⁻¹
expm1(x)        eˣ − 1                           exp(x)
erf(x)          2/√π ∫₀ˣ e^(−t²) dt              2/√π · exp(−x²)
erfc(x)         1 − erf(x), accurate in the tail −2/√π · exp(−x²)
poly_gaussian   P(x)·exp(−a x²), 0 on underflow  (P' − 2a x P)·exp(−a x²)
logaddexp(a,b)  log(eᵃ + eᵇ)                     σ(a − b), σ(b − a)
==============  ===============================  ===========================

None of them overflows: values, gradients and Hessian-vector products stay
finite and accurate for arguments of ±1e4, and of ±1e300 where the function
itself is finite there (not ``expm1(1e4)``, nor ``log1p`` below −1). The
Gaussian factors in the derivatives of ``erf``/``erfc`` are ``poly_gaussian``
nodes, evaluated as 0 where exp(−a x²) underflows, so no ``x · e^(−x²)`` ever
meets ``inf · 0``. At ±1e300 an intermediate such as ``a − b`` in
``logaddexp``'s derivative may overflow to inf (numpy may warn); the results
are still right (σ(inf) = 1).

``erf`` and ``erfc`` use ``scipy.special`` when scipy is importable, and
otherwise ``math.erf``/``math.erfc`` applied element by element (correct to
float64 rounding, but a Python-level loop: much slower on large arrays, and
real arguments only).

>>> import numpy as np, ricci
>>> z = ricci.Tensor("z", (3,))
>>> L = ricci.einsum("i->", ricci.softplus(z))
>>> ricci.grad(L, z)(z=np.array([-1e4, 0.0, 1e4]))          # sigmoid(z)
array([0. , 0.5, 1. ])
>>> ricci.hvp(L, z, np.ones(3))(z=np.array([-1e4, 0.0, 1e4]))  # σ(z)(1 − σ(z))
array([0.  , 0.25, 0.  ])
"""
import math

import numpy as np

from .backends import array_namespace, numpy_dtype
from .errors import DtypeError, ShapeError
from .expr import apply, as_expr
from .primitives import (
    PRIMITIVES,
    Elementwise,
    WeightedElementwise,
    exp,
    register,
    sigmoid,
)

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

try:  # scipy is optional: its erf/erfc are fast ufuncs
    from scipy import special as _scipy_special
except ImportError:  # pragma: no cover - depends on the environment
    _scipy_special = None


# -- numpy implementations ----------------------------------------------------
def _softplus(x):
    xp = array_namespace(x)
    if xp is np:
        return np.logaddexp(0, x)  # log(1 + eˣ) without overflow, accurate for x ≪ 0
    return xp.clip(x, 0, None) + xp.log1p(xp.exp(-xp.abs(x)))  # the same, for any backend


def _log_sigmoid(x):
    return -_softplus(-x)


def _elementwise_math(function, name):
    """``function`` (a scalar function of the math module) applied element by element."""
    vectorized = np.vectorize(function, otypes=[np.float64])

    def apply_math(x):
        x = np.asarray(x)
        if x.dtype.kind == "c":
            raise DtypeError(f"{name} of a complex argument needs scipy (math.{name} is real only)")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return np.asarray(vectorized(x), dtype=dtype)

    apply_math.__name__ = name
    return apply_math


def _fast_or_math(name):
    """scipy.special.<name> wrapped in a plain function, else the element-wise math fallback.

    Wrapped because the compiled engine writes a numpy ufunc as ``np.<name>(x)``,
    and numpy has no erf.
    """
    if _scipy_special is not None:
        ufunc = getattr(_scipy_special, name)

        def apply_scipy(x):
            return ufunc(x)

        apply_scipy.__name__ = name
        return apply_scipy
    return _elementwise_math(getattr(math, name), name)


_erf_numpy = _fast_or_math("erf")
_erfc_numpy = _fast_or_math("erfc")


def _erf(x):
    xp = array_namespace(x)
    return _erf_numpy(x) if xp is np else xp.erf(x)  # torch/jax/cupy's own erf; dask: chunk by chunk


def _erfc(x):
    xp = array_namespace(x)
    return _erfc_numpy(x) if xp is np else xp.erfc(x)


def _poly_gaussian(x, a, *coefficients):
    """P(x)·exp(−a x²) with P = Σ c_k x^k, as 0 where exp(−a x²) underflows (no inf·0 = nan)."""
    xp = array_namespace(x)
    if xp is np:
        x = np.asarray(x)
    dtype = np.result_type(numpy_dtype(x), np.float16)  # keep float32 float32; integers become float64
    astype = (lambda v: v.astype(dtype)) if xp is np else (lambda v: xp.astype(v, dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        inside = a * x * x < 1400.0  # beyond, exp(−a x²) < e⁻¹⁴⁰⁰: 0 in float64 times any small polynomial
    xs = astype(xp.where(inside, x, 0))
    p = xs * 0 + coefficients[-1]
    for c in reversed(coefficients[:-1]):
        p = p * xs + c
    return astype(xp.where(inside, p * xp.exp(-a * xs * xs), 0))


def _poly_gaussian_derivative(x, y, a, *c):
    """(P' − 2a x P)·exp(−a x²): again a poly_gaussian, so derivatives of every order stay finite."""
    n = len(c)
    new = [((k + 1) * c[k + 1] if k + 1 < n else 0.0) - (2 * a * c[k - 1] if k >= 1 else 0.0) for k in range(n + 1)]
    return poly_gaussian(x, a, new)


def poly_gaussian(x, a, coefficients):
    """P(x)·exp(−a x²) element-wise, for a constant ``a > 0`` and P = Σ_k coefficients[k] x^k.

    The derivatives of ``erf``, ``erfc`` and ``gelu`` are of this form. It is
    computed as 0 where exp(−a x²) underflows, so a huge x gives 0 (not
    inf·0 = nan), and its derivative is again a ``poly_gaussian``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.special.poly_gaussian(x, 1.0, [0.0, 1.0])(x=np.array([0.0, 1.0, 1e300]))   # x e^(−x²)
    array([0.        , 0.36787944, 0.        ])
    """
    coefficients = tuple(float(c) for c in coefficients)
    if not coefficients or float(a) <= 0:
        raise ValueError("poly_gaussian needs a > 0 and at least one coefficient")
    while len(coefficients) > 1 and coefficients[-1] == 0:
        coefficients = coefficients[:-1]
    return PRIMITIVES["poly_gaussian"](x, float(a), *coefficients)


# -- the table ----------------------------------------------------------------
# name, numpy function, f'(x) from (x, y=f(x), *params), whether f(0) == 0, doc
SPECIAL = [
    ("softplus", _softplus, lambda x, y: sigmoid(x), lambda: False,
     "Softplus log(1 + eˣ), computed as logaddexp(0, x); softplus' = sigmoid."),
    ("log_sigmoid", _log_sigmoid, lambda x, y: sigmoid(-x), lambda: False,
     "log σ(x) = −softplus(−x), computed as −logaddexp(0, −x); its derivative is σ(−x)."),
    ("log1p", np.log1p, lambda x, y: (1 + x) ** -1, lambda: True,
     "log(1 + x) for x > −1, accurate for small x; log1p' = 1/(1 + x)."),
    ("expm1", np.expm1, lambda x, y: exp(x), lambda: True,
     "eˣ − 1, accurate for small x; expm1' = exp."),
    ("poly_gaussian", _poly_gaussian, _poly_gaussian_derivative, lambda a, *c: c[0] == 0,
     "P(x)·exp(−a x²) for a constant a > 0 and polynomial coefficients c₀, c₁, …; 0 where exp underflows."),
    ("erf", _erf, lambda x, y: poly_gaussian(x, 1.0, [_TWO_OVER_SQRT_PI]), lambda: True,
     "Error function; erf' = 2/√π · exp(−x²)."),
    ("erfc", _erfc, lambda x, y: poly_gaussian(x, 1.0, [-_TWO_OVER_SQRT_PI]), lambda: False,
     "Complementary error function 1 − erf(x), accurate where erf(x) is near 1; erfc' = −2/√π · exp(−x²)."),
]

for _name, _function, _derivative, _zero, _doc in SPECIAL:
    register(Elementwise(_name, _function, _derivative, _zero, _doc))


class LogAddExp(WeightedElementwise):
    """log(eᵃ + eᵇ) of two arguments of the same shape (:func:`logaddexp` broadcasts them first).

    ∂/∂a = σ(a − b) and ∂/∂b = σ(b − a): bounded, and 1/2 each at a tie.
    """

    name = "logaddexp"

    def output_shape(self, arg_shapes, params):
        a, b = arg_shapes
        if a != b:  # logaddexp() broadcasts before it applies
            raise ShapeError(f"arguments of the logaddexp node have shapes {a} and {b}; they need equal shapes")
        return a

    def evaluate(self, values, params):
        return array_namespace(values[0]).logaddexp(values[0], values[1])

    def weights(self, node):
        a, b = node.children
        return sigmoid(a - b), sigmoid(b - a)


register(LogAddExp())


# -- public functions -----------------------------------------------------------
def softplus(x):
    """log(1 + eˣ) element-wise, without overflow; its derivative is ``sigmoid(x)``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.softplus(x)(x=np.array([-1e4, 0.0, 1e4]))
    array([0.00000000e+00, 6.93147181e-01, 1.00000000e+04])
    """
    return PRIMITIVES["softplus"](x)


def log_sigmoid(x):
    """log σ(x) = −softplus(−x) element-wise, finite for x ≪ 0; its derivative is ``sigmoid(-x)``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.log_sigmoid(x)(x=np.array([-1e4, 0.0, 1e4]))
    array([-1.00000000e+04, -6.93147181e-01, -0.00000000e+00])
    """
    return PRIMITIVES["log_sigmoid"](x)


def log1p(x):
    """log(1 + x) element-wise (x > −1), accurate for tiny x, as ``np.log1p``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.log1p(x)(x=np.array([1e-20, np.e - 1]))
    array([1.e-20, 1.e+00])
    """
    return PRIMITIVES["log1p"](x)


def expm1(x):
    """eˣ − 1 element-wise, accurate for tiny x, as ``np.expm1``; its derivative is ``exp(x)``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.expm1(x)(x=np.array([1e-20, -1e4]))
    array([ 1.e-20, -1.e+00])
    """
    return PRIMITIVES["expm1"](x)


def erf(x):
    """The error function element-wise; its derivative is 2/√π · exp(−x²).

    Uses ``scipy.special.erf`` when scipy is importable, else ``math.erf``
    element by element (correct, slower, real arguments only).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.erf(x)(x=np.array([-1e4, 0.5, 1e300])).round(6).tolist()
    [-1.0, 0.5205, 1.0]
    """
    return PRIMITIVES["erf"](x)


def erfc(x):
    """1 − erf(x) element-wise, accurate in the right tail; derivative −2/√π · exp(−x²).

    Uses ``scipy.special.erfc`` when scipy is importable, else ``math.erfc``
    element by element (correct, slower, real arguments only).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.erfc(x)(x=np.array([0.0, 10.0]))
    array([1.00000000e+00, 2.08848758e-45])
    """
    return PRIMITIVES["erfc"](x)


def logaddexp(a, b):
    """log(eᵃ + eᵇ) element-wise, without overflow, with numpy's broadcasting (``np.logaddexp``).

    The gradients are σ(a − b) for ``a`` and σ(b − a) for ``b`` (½ each at a
    tie); a broadcast argument's gradient is summed over its broadcast axes.

    >>> import numpy as np, ricci
    >>> a, b = ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))
    >>> ricci.logaddexp(a, b)(a=np.array([1e4, 0.0]), b=np.array([1e4, -1e300]))
    array([10000.69314718,     0.        ])
    >>> ricci.grad(ricci.einsum("i->", ricci.logaddexp(a, b)), a)(a=np.zeros(2), b=np.zeros(2))
    array([0.5, 0.5])
    >>> ricci.logaddexp(0.0, a).shape   # softplus(a), a scalar broadcast
    (2,)
    """
    from .broadcasting import broadcast_arrays

    a = as_expr(a, "first argument of logaddexp")
    b = as_expr(b, "second argument of logaddexp")
    if a.shape != b.shape:
        a, b = broadcast_arrays(a, b, what="logaddexp")
    return apply(PRIMITIVES["logaddexp"], [a, b])
