"""dtypes follow numpy (issue 8).

The forward result dtype is numpy's promotion over all Tensor inputs, constants and
coefficients -- exactly what ``numpy.einsum`` (or the numpy ufunc / operator) gives.
float32 stays float32 through derivatives; integer forward evaluation stays integer
(exact above 2**53); complex works through contractions and holomorphic functions
with JAX's convention (a vjp is the transpose of the linear map, no conjugation);
non-holomorphic primitives on complex inputs and derivatives w.r.t. integer inputs
raise ``ricci.DtypeError``.

Expected values and dtypes come from numpy and from finite differences of the
complex function, never from ricci.
"""
import itertools

import numpy as np
import pytest

import ricci
from conftest import fresh_name

DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.int32, np.int64]
IDS = [np.dtype(d).name for d in DTYPES]


def sample(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "i":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def tol(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return dict(rtol=0, atol=0)
    single = dtype in (np.dtype(np.float32), np.dtype(np.complex64))
    return dict(rtol=2e-5, atol=1e-5) if single else dict(rtol=1e-12, atol=1e-12)


def check_like_numpy(got, expected, what=""):
    got = np.asarray(got)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, numpy gives {expected.dtype}"
    assert got.shape == expected.shape
    if expected.dtype.kind in "iu":
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        np.testing.assert_allclose(got, expected, err_msg=what, **tol(expected.dtype))


def T(shape, prefix="dt"):
    return ricci.Tensor(fresh_name(prefix), shape)


# ---------------------------------------------------------------------------
# forward: Tensor x Tensor, Tensor x constant, against numpy.einsum
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)),
                         ids=[f"{a}-{b}" for a, b in itertools.product(IDS, IDS)])
def test_matmul_of_two_tensors_dtype_and_value_like_numpy_einsum(da, db):
    rng = np.random.default_rng(11)
    A, B = T((3, 4)), T((4, 2))
    a, b = sample(rng, (3, 4), da), sample(rng, (4, 2), db)
    got = ricci.einsum("ij,jk->ik", A, B).evaluate({A.name: a, B.name: b})
    check_like_numpy(got, np.einsum("ij,jk->ik", a, b), f"{np.dtype(da)} @ {np.dtype(db)}")


@pytest.mark.parametrize("dt,dc", list(itertools.product(DTYPES, DTYPES)),
                         ids=[f"tensor_{a}-const_{b}" for a, b in itertools.product(IDS, IDS)])
def test_tensor_with_constant_dtype_and_value_like_numpy_einsum(dt, dc):
    rng = np.random.default_rng(12)
    X = T((3, 4))
    x, c = sample(rng, (3, 4), dt), sample(rng, (4,), dc)
    got = ricci.einsum("ij,j->i", X, c).evaluate({X.name: x})
    check_like_numpy(got, np.einsum("ij,j->i", x, c), f"tensor {np.dtype(dt)}, constant {np.dtype(dc)}")


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_three_operand_network_with_hyperedge_like_numpy(dtype):
    rng = np.random.default_rng(13)
    A, B, C = T((3, 4)), T((4, 5)), T((4,))
    a, b, c = (sample(rng, s, dtype) for s in [(3, 4), (4, 5), (4,)])
    got = ricci.einsum("ij,jk,j->ik", A, B, C).evaluate({A.name: a, B.name: b, C.name: c})
    check_like_numpy(got, np.einsum("ij,jk,j->ik", a, b, c))


def test_float64_constant_with_float32_tensors_gives_float64():
    rng = np.random.default_rng(14)
    A, B = T((3, 3)), T((3,))
    a, b = sample(rng, (3, 3), np.float32), sample(rng, (3,), np.float32)
    k = rng.normal(size=3)  # float64
    got = ricci.einsum("ij,j,j->i", A, B, k).evaluate({A.name: a, B.name: b})
    check_like_numpy(got, np.einsum("ij,j,j->i", a, b, k))
    assert np.asarray(got).dtype == np.float64
    # ... and float32 constants keep float32
    got32 = ricci.einsum("ij,j,j->i", A, B, k.astype(np.float32)).evaluate({A.name: a, B.name: b})
    assert np.asarray(got32).dtype == np.float32


def test_complex_constant_keeps_its_imaginary_part():
    X = T((3,))
    c = np.array([1 + 2j, -1j, 0.5])
    x = np.array([1.0, 2.0, 3.0])
    got = ricci.einsum("i,i->i", X, c).evaluate({X.name: x})
    check_like_numpy(got, np.einsum("i,i->i", x, c))
    check_like_numpy((X * c).evaluate({X.name: x}), x * c)


def test_complex_constant_in_a_sum_keeps_its_imaginary_part():
    X = T((2,))
    c = np.array([1j, 2 - 1j])
    x = np.array([1.0, -1.0])
    check_like_numpy((X + c).evaluate({X.name: x}), x + c)
    check_like_numpy((c - X).evaluate({X.name: x}), c - x)


def test_integer_einsum_stays_integer_and_exact_above_2_53():
    X, Y = T((3,)), T((3,))
    big = 2**60
    x = np.array([big + 1, big + 3, 7], dtype=np.int64)
    y = np.array([1, -1, 1], dtype=np.int64)
    got = ricci.einsum("i,i->", X, Y).evaluate({X.name: x, Y.name: y})
    assert np.asarray(got).dtype == np.int64
    assert int(got) == (big + 1) - (big + 3) + 7 == 5  # float64 would give 7 or 0
    M = T((2, 2))
    m = np.array([[big + 1, 1], [3, big + 5]], dtype=np.int64)
    v = np.array([1, 1], dtype=np.int64)
    Vt = T((2,))
    got_mv = (M @ Vt).evaluate({M.name: m, Vt.name: v})
    check_like_numpy(got_mv, m @ v)
    assert [int(t) for t in got_mv] == [big + 2, big + 8]


def test_integer_sums_and_scalings_stay_integer():
    X = T((3,))
    x = np.array([2**60 + 1, 5, -7], dtype=np.int64)
    check_like_numpy((X + X).evaluate({X.name: x}), x + x)
    check_like_numpy((3 * X).evaluate({X.name: x}), 3 * x)
    check_like_numpy(ricci.sum(X).evaluate({X.name: x}), np.asarray(np.sum(x)))
    x32 = np.array([1, 2, 3], dtype=np.int32)
    check_like_numpy(ricci.einsum("i,i->", X, X).evaluate({X.name: x32}), np.einsum("i,i->", x32, x32))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64, np.complex64, np.complex128],
                         ids=["int32", "int64", "float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("fn", ["tanh", "exp", "sin"])
def test_elementwise_result_dtype_like_numpy_ufunc(fn, dtype):
    X = T((4,))
    x = np.array([0, 1, 2, 3]).astype(dtype)
    got = getattr(ricci, fn)(X).evaluate({X.name: x})
    check_like_numpy(got, getattr(np, fn)(x), f"{fn} of {np.dtype(dtype)}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("coef", [2.0, 3, 1 + 2j, -0.5j], ids=["float", "int", "complex", "imag"])
def test_python_scalar_coefficients_like_numpy(dtype, coef):
    """(1+2j) * x and friends: numpy's promotion with Python scalars."""
    X = T((3,))
    x = np.array([1.0, -2.0, 0.5], dtype=dtype)
    check_like_numpy((coef * X).evaluate({X.name: x}), coef * x, f"{coef!r} * {np.dtype(dtype)}")
    check_like_numpy((X * coef + X).evaluate({X.name: x}), x * coef + x)


def test_complex_coefficient_times_complex_tensor_and_in_einsum():
    X = T((2, 2))
    x = np.array([[1 + 1j, 2], [0, -1j]])
    check_like_numpy(((1 + 2j) * X).evaluate({X.name: x}), (1 + 2j) * x)
    check_like_numpy(ricci.einsum("ij,jk->ik", (1 + 2j) * X, X).evaluate({X.name: x}), ((1 + 2j) * x) @ x)


# ---------------------------------------------------------------------------
# float32 through derivatives
# ---------------------------------------------------------------------------
def _mlp(prefix, n=4, m=3):
    W = ricci.Tensor(prefix + "W", (n, n))
    x = ricci.Tensor(prefix + "x", (n, m))
    y = ricci.tanh(W @ x)
    return W, x, y


def test_float32_inputs_give_float32_gradient():
    rng = np.random.default_rng(15)
    W, x, y = _mlp(fresh_name("f32") + "_")
    L = ricci.einsum("ib,ib->", y, y)
    w, xv = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    got = ricci.grad(L, W).evaluate({W.name: w.astype(np.float32), x.name: xv.astype(np.float32)})
    assert np.asarray(got).dtype == np.float32
    c = np.tanh(w @ xv)
    expected = (2 * c * (1 - c**2)) @ xv.T
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_float32_hessian_and_jacobian_stay_float32():
    rng = np.random.default_rng(16)
    W, x, y = _mlp(fresh_name("f32h") + "_")
    L = ricci.einsum("ib,ib->", y, y)
    inputs = {W.name: rng.normal(size=(4, 4)).astype(np.float32), x.name: rng.normal(size=(4, 3)).astype(np.float32)}
    assert np.asarray(ricci.hessian(L, W).evaluate(inputs)).dtype == np.float32
    assert np.asarray(ricci.jacobian(y, x).evaluate(inputs)).dtype == np.float32


def test_float32_cotangent_in_vjp_gives_float32():
    rng = np.random.default_rng(17)
    W, x, y = _mlp(fresh_name("f32v") + "_")
    w, xv = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    G = rng.normal(size=(4, 3))
    inputs = {W.name: w.astype(np.float32), x.name: xv.astype(np.float32)}
    got = ricci.vjp(y, W, G.astype(np.float32)).evaluate(inputs)
    assert np.asarray(got).dtype == np.float32
    c = np.tanh(w @ xv)
    np.testing.assert_allclose(got, (G * (1 - c**2)) @ xv.T, rtol=1e-4, atol=1e-5)


def test_float64_cotangent_with_float32_inputs_promotes_to_float64():
    """A cotangent is a constant of the derived network: numpy's promotion applies."""
    rng = np.random.default_rng(17)
    W, x, y = _mlp(fresh_name("f64v") + "_")
    w, xv = rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    G = rng.normal(size=(4, 3))
    inputs = {W.name: w.astype(np.float32), x.name: xv.astype(np.float32)}
    got64 = ricci.vjp(y, W, G).evaluate(inputs)
    assert np.asarray(got64).dtype == np.float64
    c = np.tanh(w.astype(np.float32) @ xv.astype(np.float32)).astype(np.float64)
    np.testing.assert_allclose(got64, (G * (1 - c**2)) @ xv.astype(np.float32).T, rtol=1e-4, atol=1e-5)


def test_complex_cotangent_of_tensor_free_derivative_stays_complex():
    X = T((3,))
    y = 3 * X  # its vjp is 3 * cotangent: no Tensor left in the derivative
    c = np.array([1 + 1j, -2j, 0.5])
    x = np.array([1.0, 2.0, 3.0])
    got = ricci.vjp(y, X, c).evaluate({X.name: x})
    check_like_numpy(got, 3 * c)
    got_jvp = ricci.jvp(y, X, c).evaluate({X.name: x})
    check_like_numpy(got_jvp, 3 * c)
    # with a float32 input, numpy would still give complex128 for a complex128 constant
    got32 = ricci.vjp(y, X, c).evaluate({X.name: x.astype(np.float32)})
    check_like_numpy(got32, np.einsum("i,->i", c, np.float32(3)))


# ---------------------------------------------------------------------------
# complex holomorphic functions, JAX's convention
# ---------------------------------------------------------------------------
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


HOLOMORPHIC = {
    "exp": (ricci.exp, np.exp),
    "log": (ricci.log, np.log),
    "tanh": (ricci.tanh, np.tanh),
    "sin": (ricci.sin, np.sin),
    "cos": (ricci.cos, np.cos),
    "sqrt": (ricci.sqrt, np.sqrt),
    "sigmoid": (ricci.sigmoid, _sigmoid),
    "power3": (lambda e: e**3, lambda z: z**3),
    "power_half": (lambda e: ricci.power(e, 0.5), lambda z: z**0.5),
    "power_m1": (lambda e: e**-1, lambda z: z**-1.0),
}


def _complex_point(rng, shape):
    # real part in [0.5, 1.5]: away from the branch cut of log, sqrt and z**0.5, and from poles
    return rng.uniform(0.5, 1.5, size=shape) + 1j * rng.uniform(-0.8, 0.8, size=shape)


def fd_vjp_complex(F, x, c, h=1e-6):
    """sum(c * (F(x + h e_k) - F(x - h e_k)) / 2h) for each coordinate k (real h)."""
    out = np.zeros(x.shape, dtype=complex)
    for k in np.ndindex(*x.shape):
        e = np.zeros(x.shape)
        e[k] = h
        out[k] = np.sum(c * (F(x + e) - F(x - e))) / (2 * h)
    return out


@pytest.mark.parametrize("name", list(HOLOMORPHIC))
def test_holomorphic_elementwise_vjp_jvp_grad_complex(name):
    fr, fn = HOLOMORPHIC[name]
    rng = np.random.default_rng(18)
    X = T((4,))
    x = _complex_point(rng, (4,))
    c = rng.normal(size=4) + 1j * rng.normal(size=4)
    t = rng.normal(size=4) + 1j * rng.normal(size=4)
    y = fr(X)
    check_like_numpy(y.evaluate({X.name: x}), fn(x), f"{name} forward")
    expected = fd_vjp_complex(fn, x, c)
    got = ricci.vjp(y, X, c).evaluate({X.name: x})
    assert np.asarray(got).dtype == np.complex128
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-8, err_msg=f"vjp of {name}")
    # not the conjugate convention (which would be conj(c) f'(x) or c conj(f'(x)))
    assert not np.allclose(got, np.conj(expected), rtol=1e-3, atol=1e-6)
    # jvp: the directional derivative along a complex tangent (holomorphic: F'(x) t)
    h = 1e-6
    fd_jvp = (fn(x + h * t) - fn(x - h * t)) / (2 * h)
    np.testing.assert_allclose(ricci.jvp(y, X, t).evaluate({X.name: x}), fd_jvp, rtol=1e-7, atol=1e-8)
    # grad of sum(f(x)): the vjp with cotangent 1
    g = ricci.grad(ricci.einsum("i->", y), X).evaluate({X.name: x})
    np.testing.assert_allclose(g, fd_vjp_complex(fn, x, np.ones(4)), rtol=1e-7, atol=1e-8)


def test_complex_network_vjp_through_contractions_and_functions():
    """y = A tanh(B x) + exp(x) with complex A, B, x: vjp w.r.t. x and B against FD."""
    rng = np.random.default_rng(19)
    prefix = fresh_name("cnet") + "_"
    A, B, X = (ricci.Tensor(prefix + n, s) for n, s in [("A", (3, 4)), ("B", (4, 3)), ("x", (3,))])
    a = 0.5 * (rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4)))
    b = 0.5 * (rng.normal(size=(4, 3)) + 1j * rng.normal(size=(4, 3)))
    x = 0.5 * (rng.normal(size=3) + 1j * rng.normal(size=3))
    y = A @ ricci.tanh(B @ X) + ricci.exp(X)
    c = rng.normal(size=3) + 1j * rng.normal(size=3)
    inputs = {A.name: a, B.name: b, X.name: x}
    check_like_numpy(y.evaluate(inputs), a @ np.tanh(b @ x) + np.exp(x))
    gx, gb = ricci.evaluate([ricci.vjp(y, X, c), ricci.vjp(y, B, c)], inputs)
    np.testing.assert_allclose(gx, fd_vjp_complex(lambda z: a @ np.tanh(b @ z) + np.exp(z), x, c),
                               rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gb, fd_vjp_complex(lambda m: a @ np.tanh(m @ x) + np.exp(x), b, c),
                               rtol=1e-7, atol=1e-8)


def test_complex64_inputs_give_complex64_gradient():
    rng = np.random.default_rng(20)
    X = T((3,))
    x = _complex_point(rng, (3,))
    y = ricci.einsum("i->", ricci.exp(X) * X)
    got = ricci.grad(y, X).evaluate({X.name: x.astype(np.complex64)})
    assert np.asarray(got).dtype == np.complex64
    np.testing.assert_allclose(got, np.exp(x) * (1 + x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["abs", "relu", "sign", "step"])
def test_non_holomorphic_primitive_of_complex_input_raises_dtype_error(name):
    X = T((3,))
    z = np.array([1 + 1j, -2j, 0.5])
    with pytest.raises(ricci.DtypeError) as info:
        getattr(ricci, name)(X).evaluate({X.name: z})
    assert name in str(info.value) and "complex" in str(info.value)
    with pytest.raises(ricci.DtypeError):
        ricci.grad(ricci.einsum("i->", getattr(ricci, name)(X) * X), X).evaluate({X.name: z})


@pytest.mark.parametrize("name", ["abs", "relu", "sign", "step"])
def test_non_holomorphic_primitive_of_complex_constant_raises_dtype_error(name):
    X = T((3,))
    with pytest.raises(ricci.DtypeError):
        e = ricci.einsum("i,i->i", X, getattr(ricci, name)(np.array([1 + 1j, -2j, 0.5])))
        e.evaluate({X.name: np.ones(3)})


@pytest.mark.parametrize("name", ["abs", "relu", "sign", "step"])
def test_non_holomorphic_primitives_of_real_inputs_still_work(name):
    X = T((4,))
    x = np.array([-1.5, -0.5, 0.5, 2.0])
    ref = {"abs": np.abs, "relu": lambda v: np.maximum(v, 0), "sign": np.sign,
           "step": lambda v: (v > 0).astype(float)}[name]
    np.testing.assert_allclose(getattr(ricci, name)(X).evaluate({X.name: x}), ref(x))


# ---------------------------------------------------------------------------
# integer inputs: forward yes, derivatives no
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["grad", "vjp", "jvp", "jacobian", "hessian", "hvp"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_derivative_wrt_integer_input_raises_dtype_error_mentioning_floats(method, dtype):
    X = T((3,))
    L = ricci.einsum("i,i->", X, X)
    y = X * X
    d = {
        "grad": lambda: ricci.grad(L, X),
        "vjp": lambda: ricci.vjp(y, X, np.ones(3)),
        "jvp": lambda: ricci.jvp(y, X, np.ones(3)),
        "jacobian": lambda: ricci.jacobian(y, X),
        "hessian": lambda: ricci.hessian(L, X),
        "hvp": lambda: ricci.hvp(L, X, np.ones(3)),
    }[method]
    x = np.array([1, 2, 3], dtype=dtype)
    with pytest.raises(ricci.DtypeError) as info:
        d().evaluate({X.name: x})
    assert "float" in str(info.value).lower()
    # the forward of the same expressions evaluates, as integers
    check_like_numpy(L.evaluate({X.name: x}), np.einsum("i,i->", x, x))
    check_like_numpy(y.evaluate({X.name: x}), x * x)


def test_gradient_wrt_float_input_with_other_inputs_integer_works():
    """Only the variable of differentiation must be floating: an integer data input is fine."""
    W, D = T((2, 3)), T((3,))
    L = ricci.einsum("ij,j->", W, D)
    d = np.array([1, 2, 3], dtype=np.int64)
    got = ricci.grad(L, W).evaluate({W.name: np.zeros((2, 3)), D.name: d})
    np.testing.assert_allclose(got, np.tile(d, (2, 1)))
