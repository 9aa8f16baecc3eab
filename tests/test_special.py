"""Stable element-wise functions (ricci.special) and their composites (binary_cross_entropy, gelu).

References are float64 closed forms written element by element with the
``math`` module (never ricci's own numpy forms), and central finite
differences at moderate arguments. At ±1e4 and ±1e300 values, gradients and
Hessian-vector products must be finite and equal to the closed forms.
"""
import math

import numpy as np
import pytest
from conftest import assert_close, fd_grad, fd_jvp

import ricci
from ricci import special

SQRT2 = math.sqrt(2.0)
C = 2.0 / math.sqrt(math.pi)
EXTREME = np.array([-1e300, -1e4, -745.0, -40.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 40.0, 745.0, 1e4, 1e300])
MODERATE = np.array([-3.0, -1.2, -0.3, 0.0, 0.4, 1.1, 2.5])


def _vec(f):
    return lambda x: np.array([f(float(v)) for v in np.ravel(x)]).reshape(np.shape(x))


def _sig(x):  # stable logistic
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _gauss(x):
    return C * math.exp(-x * x) if abs(x) < 1e150 else 0.0


# name -> (ricci function, f, f', f'', domain of the extreme test)
CASES = {
    "softplus": (ricci.softplus, _softplus, _sig, lambda x: _sig(x) * _sig(-x), EXTREME),
    "log_sigmoid": (ricci.log_sigmoid, lambda x: -_softplus(-x), lambda x: _sig(-x),
                    lambda x: -_sig(x) * _sig(-x), EXTREME),
    "log1p": (ricci.log1p, math.log1p, lambda x: 1.0 / (1.0 + x), lambda x: -1.0 / (1.0 + x) / (1.0 + x),
              np.array([-0.999, -0.5, -1e-10, 0.0, 1e-10, 1.0, 1e4, 1e300])),
    "expm1": (ricci.expm1, math.expm1, math.exp, math.exp,
              np.array([-1e300, -1e4, -40.0, -1e-10, 0.0, 1e-10, 1.0, 40.0, 700.0])),
    "erf": (ricci.erf, math.erf, _gauss, lambda x: -2.0 * x * _gauss(x), EXTREME),
    "erfc": (ricci.erfc, math.erfc, lambda x: -_gauss(x), lambda x: 2.0 * x * _gauss(x), EXTREME),
    "gelu": (ricci.gelu,
             lambda x: 0.5 * x * math.erfc(-x / SQRT2),
             lambda x: 0.5 * math.erfc(-x / SQRT2) + x * _gauss(x / SQRT2) / (2 * SQRT2),
             lambda x: (2.0 - x * x) * _gauss(x / SQRT2) / (2 * SQRT2) if abs(x) < 1e150 else 0.0,
             EXTREME),
}


def _derivatives(fn, n):
    x = ricci.Tensor("x", (n,))
    L = ricci.einsum("i->", fn(x))
    return x, fn(x), ricci.grad(L, x), ricci.hvp(L, x, np.ones(n))


@pytest.mark.parametrize("name", sorted(CASES))
def test_extreme_arguments_match_closed_forms(name):
    fn, f, df, d2f, xs = CASES[name]
    _, y, g, h = _derivatives(fn, xs.size)
    with np.errstate(over="ignore"):  # x² or a − b may overflow to inf on the way (to a right 0 or 1)
        got = [e(x=xs) for e in (y, g, h)]
    for value, ref, what in zip(got, (f, df, d2f), ("value", "gradient", "HVP")):
        expected = _vec(ref)(xs)
        assert np.all(np.isfinite(value)), f"{name} {what} not finite: {value}"
        # derivatives: absolute 1e-16 too, as ricci.sigmoid = (tanh(x/2) + 1)/2 rounds e⁻⁴⁰ to 0
        atol = 1e-300 if what == "value" else 1e-16
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=atol, err_msg=f"{name} {what}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_and_hvps_match_finite_differences(name):
    fn, f, _, _, xs = CASES[name]
    xs = MODERATE if name != "log1p" else np.array([-0.6, -0.2, 0.0, 0.7, 3.0])
    ref = _vec(f)
    x, _, g, h = _derivatives(fn, xs.size)
    loss = lambda d: float(np.sum(ref(d["x"])))  # noqa: E731
    assert_close(g(x=xs), fd_grad(loss, {"x": xs}, "x"), rtol=1e-6, atol=1e-7)
    grad_ref = lambda d: g(x=d["x"])  # noqa: E731  (FD of ricci's gradient, itself checked above)
    assert_close(h(x=xs), fd_jvp(grad_ref, {"x": xs}, "x", np.ones(xs.size)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_both_evaluation_routes_agree(name):
    fn, _, _, _, xs = CASES[name]
    _, y, g, h = _derivatives(fn, xs.size)
    with np.errstate(over="ignore"):
        direct = [e(x=xs) for e in (y, g, h)]
        together = ricci.evaluate([y, g, h], {"x": xs})
    for a, b in zip(direct, together):
        np.testing.assert_array_equal(a, b)


def test_small_arguments_keep_relative_accuracy():
    x = ricci.Tensor("x", (2,))
    tiny = np.array([1e-30, -1e-20])
    np.testing.assert_allclose(ricci.log1p(x)(x=tiny), tiny, rtol=1e-15)
    np.testing.assert_allclose(ricci.expm1(x)(x=tiny), tiny, rtol=1e-15)
    assert ricci.softplus(x)(x=np.array([-700.0, -40.0]))[0] > 0  # e⁻⁷⁰⁰, not 0
    np.testing.assert_allclose(ricci.softplus(x)(x=np.array([-700.0, -40.0])), np.exp([-700.0, -40.0]), rtol=1e-14)
    np.testing.assert_allclose(ricci.erfc(x)(x=np.array([20.0, 26.0])), [math.erfc(20.0), math.erfc(26.0)], rtol=1e-13)
    # gelu in the left tail is accurate (1 + erf would cancel to 0)
    got = ricci.gelu(x)(x=np.array([-10.0, -30.0]))
    # (rtol 1e-12: the rounding of x/√2 is amplified by erfc's slope, 2u ≈ 42, in the reference too)
    np.testing.assert_allclose(got, [-5 * math.erfc(10 / SQRT2), -15 * math.erfc(30 / SQRT2)], rtol=1e-12)
    assert np.all(got < 0)


def test_the_naive_forms_fail_where_these_do_not():
    """The issue's measurements: log(1 + exp(z)) is inf at 1e4; softplus is not."""
    z = ricci.Tensor("z", (2,))
    zs = np.array([1e4, -1e4])
    with np.errstate(over="ignore"):
        naive = ricci.einsum("i->", ricci.log(1 + ricci.exp(z)))(z=zs)
    assert not np.isfinite(naive)
    L = ricci.einsum("i->", ricci.softplus(z))
    assert float(L(z=zs)) == 1e4
    np.testing.assert_array_equal(ricci.grad(L, z)(z=zs), [1.0, 0.0])
    np.testing.assert_array_equal(ricci.hvp(L, z, np.ones(2))(z=zs), [0.0, 0.0])


# -- logaddexp --------------------------------------------------------------------
def _lae(a, b):
    if a == b:
        return a + math.log(2.0)
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


PAIRS = [(1e4, 1e4), (1e4, -1e4), (-1e4, 1e4), (-1e4, -1e4), (1e300, -1e300), (-1e300, -1e300),
         (1e300, 1e300), (0.0, 0.0), (3.0, -2.0), (-745.0, -744.0), (40.0, 0.0)]


def test_logaddexp_extremes_value_gradients_and_hessian():
    a_vals = np.array([p[0] for p in PAIRS])
    b_vals = np.array([p[1] for p in PAIRS])
    n = len(PAIRS)
    a, b = ricci.Tensor("a", (n,)), ricci.Tensor("b", (n,))
    y = ricci.logaddexp(a, b)
    L = ricci.einsum("i->", y)
    ga, gb = ricci.grad(L, a), ricci.grad(L, b)
    haa, hab = ricci.hvp(L, a, np.ones(n)), ricci.jvp(ga, b, np.ones(n))
    with np.errstate(over="ignore"):
        got = {k: e(a=a_vals, b=b_vals) for k, e in dict(y=y, ga=ga, gb=gb, haa=haa, hab=hab).items()}
    for k, v in got.items():
        assert np.all(np.isfinite(v)), (k, v)
    np.testing.assert_allclose(got["y"], [_lae(p, q) for p, q in PAIRS], rtol=1e-15)
    sig = np.array([_sig(p - q) if abs(p - q) != math.inf else float(p > q)
                    for p, q in ((p, q) if abs(p - q) < 1e308 else (np.sign(p - q), 0.0) for p, q in PAIRS)])
    np.testing.assert_allclose(got["ga"], sig, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(got["gb"], 1 - sig, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(got["haa"], sig * (1 - sig), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(got["hab"], -sig * (1 - sig), rtol=1e-12, atol=1e-16)
    assert got["haa"][PAIRS.index((0.0, 0.0))] == 0.25  # a tie is smooth: no sign/abs kink


def test_logaddexp_matches_finite_differences(rng):
    n = 5
    av, bv = rng.normal(size=n) * 2, rng.normal(size=n) * 2
    a, b = ricci.Tensor("a", (n,)), ricci.Tensor("b", (n,))
    W = rng.normal(size=n)
    L = ricci.einsum("i,i->", ricci.logaddexp(a, b) * ricci.logaddexp(b, a * 2.0), W)

    def ref(d):
        return float(np.sum(np.logaddexp(d["a"], d["b"]) * np.logaddexp(d["b"], 2 * d["a"]) * W))

    inputs = {"a": av, "b": bv}
    for var, name in ((a, "a"), (b, "b")):
        g = ricci.grad(L, var)
        assert_close(g(**inputs), fd_grad(ref, inputs, name), rtol=1e-6, atol=1e-7)
        v = rng.normal(size=n)
        h = ricci.hvp(L, var, v)
        assert_close(h(**inputs), fd_jvp(lambda d: g(**d), inputs, name, v), rtol=1e-5, atol=1e-6)


def test_logaddexp_with_a_constant_and_in_two_dimensions():
    X = ricci.Tensor("X", (2, 3))
    c = np.arange(6.0).reshape(2, 3)
    xs = np.array([[1e4, -1e4, 0.0], [2.0, -3.0, 1e300]])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(ricci.logaddexp(X, c)(X=xs), np.logaddexp(xs, c))
        np.testing.assert_allclose(ricci.logaddexp(c, X)(X=xs), np.logaddexp(c, xs))
        g = ricci.grad(ricci.einsum("ij->", ricci.logaddexp(c, X)), X)(X=xs)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(c - xs))
    np.testing.assert_allclose(g, expected, rtol=1e-13)


# -- binary cross-entropy -------------------------------------------------------------
def _bce(z, t):
    return sum(_softplus(float(a)) - float(b) * float(a) for a, b in zip(np.ravel(z), np.ravel(t)))


def test_binary_cross_entropy_extremes():
    z = ricci.Tensor("z", (6,))
    zs = np.array([1e4, -1e4, 1e4, -1e4, 0.0, 1e300])
    ts = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 1.0])
    L = ricci.binary_cross_entropy(z, ts)
    assert float(L(z=zs)) == pytest.approx(2e4 + math.log(2.0), rel=1e-15)
    sig = np.array([1.0, 0.0, 1.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(ricci.grad(L, z)(z=zs), sig - ts, rtol=1e-15, atol=1e-16)
    np.testing.assert_array_equal(ricci.hvp(L, z, np.ones(6))(z=zs), sig * (1 - sig))
    # the sigmoid form of the issue is nan there
    naive = -ricci.einsum("i,i->", ricci.log(ricci.sigmoid(z)), ts) - ricci.einsum(
        "i,i->", ricci.log(1 - ricci.sigmoid(z)), 1 - ts)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert not np.isfinite(naive(z=zs))


def test_binary_cross_entropy_is_accurate_elementwise():
    z = ricci.Tensor("z", (3,))
    zs, ts = np.array([1e4, 20.0, -35.0]), np.array([1.0, 1.0, 0.0])
    # per element: 0, e⁻²⁰, e⁻³⁵ — summing softplus and t·z separately would lose them
    np.testing.assert_allclose(float(ricci.binary_cross_entropy(z, ts)(z=zs)),
                               math.log1p(math.exp(-20.0)) + math.log1p(math.exp(-35.0)), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_binary_cross_entropy_reductions_and_fd(reduction, rng):
    Z = ricci.Tensor("Z", (3, 4))
    zs, ts = rng.normal(size=(3, 4)) * 3, rng.uniform(size=(3, 4))
    out = ricci.binary_cross_entropy(Z, ts, reduction=reduction)
    elements = np.logaddexp(0, zs) - ts * zs
    expected = {"sum": elements.sum(), "mean": elements.mean(), "none": elements}[reduction]
    assert_close(out(Z=zs), expected, rtol=1e-13, atol=1e-14)
    L = out if reduction != "none" else ricci.einsum("ij->", out)
    scale = 1.0 / 12 if reduction == "mean" else 1.0

    def ref(d):
        return float(np.sum(np.logaddexp(0, d["Z"]) - ts * d["Z"]) * scale)

    g = ricci.grad(L, Z)
    assert_close(g(Z=zs), fd_grad(ref, {"Z": zs}, "Z"), rtol=1e-6, atol=1e-8)
    assert_close(g(Z=zs), (1 / (1 + np.exp(-zs)) - ts) * scale, rtol=1e-13, atol=1e-15)
    V = rng.normal(size=(3, 4))
    s = 1 / (1 + np.exp(-zs))
    assert_close(ricci.hvp(L, Z, V)(Z=zs), s * (1 - s) * V * scale, rtol=1e-12, atol=1e-15)


def test_logistic_regression_with_softplus_at_huge_weights(rng):
    """A logistic regression loss whose logits reach ±1e4: finite loss, gradient and Hessian."""
    n, p = 8, 3
    X = rng.normal(size=(n, p))
    y = (rng.uniform(size=n) > 0.5).astype(float)
    w = ricci.Tensor("w", (p,))
    z = ricci.einsum("np,p->n", X, w)
    L = ricci.binary_cross_entropy(z, y, reduction="mean")
    for ws in (rng.normal(size=p), 5e3 * np.array([1.0, -1.0, 0.5])):
        zs = X @ ws
        s = 1 / (1 + np.exp(-np.clip(zs, -700, 700)))
        loss = float(L(w=ws))
        assert loss == pytest.approx(np.mean(np.logaddexp(0, zs) - y * zs), rel=1e-12)
        assert_close(ricci.grad(L, w)(w=ws), X.T @ (s - y) / n, rtol=1e-12, atol=1e-14)
        H = ricci.hessian(L, w)(w=ws)
        assert np.all(np.isfinite(H))
        assert_close(H, X.T @ (X * (s * (1 - s))[:, None]) / n, rtol=1e-10, atol=1e-14)


# -- erf without scipy ----------------------------------------------------------------------
def test_math_fallback_for_erf_matches_and_keeps_dtype():
    slow_erf = special._elementwise_math(math.erf, "erf")
    slow_erfc = special._elementwise_math(math.erfc, "erfc")
    xs = np.array([[-1e30, -3.0, 0.0], [0.5, 6.0, 1e4]])
    np.testing.assert_array_equal(slow_erf(xs), _vec(math.erf)(xs))
    np.testing.assert_array_equal(slow_erfc(xs), _vec(math.erfc)(xs))
    assert slow_erf(xs.astype(np.float32)).dtype == np.float32
    assert slow_erf(np.array([1, 2])).dtype == np.float64
    assert slow_erf(np.float64(0.5)).shape == ()
    with pytest.raises(ricci.DtypeError, match="scipy"):
        slow_erf(np.array([1j]))
    if special._scipy_special is not None:
        np.testing.assert_allclose(special._erf(xs), slow_erf(xs), rtol=1e-15)
        np.testing.assert_allclose(special._erfc(xs), slow_erfc(xs), rtol=1e-14)


def test_erf_compiles_without_a_numpy_erf():
    """scipy's erf is a ufunc; the engine must not write it as np.erf."""
    x = ricci.Tensor("x", (3,))
    f = ricci.compile([ricci.erf(x), ricci.erfc(x)])
    assert "np.erf" not in f.source
    got = f(x=np.array([0.0, 1.0, -2.0]))
    np.testing.assert_allclose(got[0], _vec(math.erf)(np.array([0.0, 1.0, -2.0])), rtol=1e-15)


# -- dtypes, shapes, zeros, printing ---------------------------------------------------------
@pytest.mark.parametrize("fn", [ricci.softplus, ricci.log_sigmoid, ricci.log1p, ricci.expm1,
                                ricci.erf, ricci.erfc, ricci.gelu])
def test_float32_stays_float32(fn):
    x = ricci.Tensor("x", (2, 2))
    xs = np.array([[0.1, 0.5], [1.0, 2.0]], dtype=np.float32)
    assert fn(x)(x=xs).dtype == np.float32
    assert ricci.grad(ricci.einsum("ij->", fn(x)), x)(x=xs).dtype == np.float32


def test_zero_at_zero_shortcuts():
    zero = ricci.Tensor("x", (2,)) * 0.0
    for fn in (ricci.log1p, ricci.expm1, ricci.erf):
        assert np.all(fn(zero)(x=np.ones(2)) == 0)
    assert np.allclose(ricci.softplus(zero)(x=np.ones(2)), math.log(2.0))


def test_printing_names_the_functions():
    a, b = ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))
    text = str(ricci.logaddexp(a, b) * ricci.softplus(a))
    assert "logaddexp(a, b)" in text and "softplus(a)" in text
    assert "erfc" in str(ricci.gelu(a))


# -- bad input ---------------------------------------------------------------------------------
def test_bad_input():
    a, b = ricci.Tensor("a", (2,)), ricci.Tensor("b", (3,))
    with pytest.raises(ricci.ShapeError, match="logaddexp"):
        ricci.logaddexp(a, b)
    with pytest.raises(ricci.ShapeError, match="binary_cross_entropy .logits, targets. have shapes"):
        ricci.binary_cross_entropy(a, np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        ricci.binary_cross_entropy(a, np.ones(2), reduction="max")
    with pytest.raises(ricci.OperandTypeError):
        ricci.softplus("x")
    with pytest.raises(ricci.OperandTypeError):
        ricci.gelu(None)
    with pytest.raises(ricci.OperandTypeError):
        ricci.logaddexp(a, "b")


def test_third_derivatives_stay_finite_at_huge_arguments():
    xs = np.array([-1e300, -1e4, 0.3, 1e4, 1e300])
    for fn in (ricci.erf, ricci.erfc, ricci.gelu, ricci.softplus, ricci.log_sigmoid):
        x = ricci.Tensor("x", (5,))
        L = ricci.einsum("i->", fn(x))
        third = ricci.jvp(ricci.hvp(L, x, np.ones(5)), x, np.ones(5))
        with np.errstate(over="ignore"):
            got = third(x=xs)
        assert np.all(np.isfinite(got)), (fn.__name__, got)
        assert got[0] == 0 and got[-1] == 0
    x = ricci.Tensor("x", (1,))
    third = ricci.jvp(ricci.hvp(ricci.einsum("i->", ricci.erf(x)), x, np.ones(1)), x, np.ones(1))
    np.testing.assert_allclose(third(x=np.array([0.3])), C * (4 * 0.09 - 2) * math.exp(-0.09), rtol=1e-13)


def test_poly_gaussian():
    x = ricci.Tensor("x", (4,))
    xs = np.array([-1e300, -2.0, 0.5, 30.0])
    y = special.poly_gaussian(x, 0.5, [1.0, 0.0, -1.0])  # (1 − x²) e^(−x²/2)
    np.testing.assert_allclose(y(x=xs), (1 - np.clip(xs, -50, 50) ** 2) * np.exp(-np.clip(xs, -50, 50) ** 2 / 2),
                               rtol=1e-14, atol=1e-300)
    g = ricci.grad(ricci.einsum("i->", y), x)  # (x³ − 3x) e^(−x²/2)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(g(x=xs), [0.0, -2.0 * math.exp(-2.0), (0.125 - 1.5) * math.exp(-0.125),
                                             (27000 - 90) * math.exp(-450)], rtol=1e-13, atol=1e-300)
    with pytest.raises(ValueError, match="poly_gaussian"):
        special.poly_gaussian(x, 0.0, [1.0])
    with pytest.raises(ValueError, match="poly_gaussian"):
        special.poly_gaussian(x, 1.0, [])


def test_erf_through_the_engine_without_scipy(monkeypatch):
    """The math.erf fallback, wired into the primitives, gives the same values and derivatives."""
    calls = []

    def counted(function, name):
        slow = special._elementwise_math(function, name)
        return lambda v: calls.append(name) or slow(v)

    for name in ("erf", "erfc"):
        monkeypatch.setattr(ricci.primitives.PRIMITIVES[name], "function", counted(getattr(math, name), name))
    x = ricci.Tensor("x_without_scipy", (4,))  # a new name: no compiled program cached from other tests
    xs = np.array([-1e4, -0.5, 2.0, 1e300])
    assert ricci.erf(x)(x_without_scipy=xs)[1] == math.erf(-0.5) and "erf" in calls
    for fn, ref in ((ricci.erf, math.erf), (ricci.erfc, math.erfc), (ricci.gelu, None)):
        y = fn(x)
        g = ricci.grad(ricci.einsum("i->", y), x)
        if ref is not None:
            np.testing.assert_array_equal(y(x_without_scipy=xs), _vec(ref)(xs))
        assert np.all(np.isfinite(g(x_without_scipy=xs)))
    assert "erfc" in calls
    np.testing.assert_allclose(ricci.gelu(x)(x_without_scipy=xs), [0.5 * v * math.erfc(-v / SQRT2) for v in xs], rtol=1e-15)
