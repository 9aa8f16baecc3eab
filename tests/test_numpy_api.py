"""numpy's ufuncs and functions on ricci expressions (ricci.numpy_api).

Every mapped call must return a ricci expression whose value is numpy's on the
evaluated arrays and whose derivatives match central finite differences of the
plain numpy function; unmapped ones raise ricci.UnsupportedFunctionError naming
numpy's function.
"""
import numpy as np
import pytest
from conftest import assert_close, check_derivative, fd_grad, fresh_name, rand

import ricci
from ricci.numpy_api import FUNCTIONS, UFUNCS

METHODS = ("grad", "vjp", "jvp", "jacobian")


def T(shape, prefix="n"):
    return ricci.Tensor(fresh_name(prefix), shape)


def is_expr(value):
    return isinstance(value, ricci.Expr)


# -- ufuncs --------------------------------------------------------------------------------
UNARY = ["negative", "positive", "square", "reciprocal", "sqrt", "exp", "exp2", "expm1", "log", "log2", "log10",
         "log1p", "tanh", "sin", "cos", "absolute", "fabs", "sign"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_ufuncs_return_expressions_with_numpy_values(name, rng):
    ufunc = getattr(np, name)
    x = T((2, 3))
    v = rand((2, 3), rng, low=0.2, high=2.0)  # positive: every function is defined there
    y = ufunc(x)
    assert is_expr(y) and y.shape == (2, 3)
    assert_close(y.evaluate({x.name: v}), ufunc(v))
    if name != "sign":
        check_derivative("grad", y, lambda d: ufunc(d[x.name]), {x.name: v}, x, x.name, rng)


BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "power", "float_power", "logaddexp",
          "maximum", "minimum", "less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_ufuncs_broadcast_like_numpy(name, rng):
    ufunc = getattr(np, name)
    a, b = T((2, 3)), T((3,))
    va, vb = rand((2, 3), rng, 0.5, 2.0), rand((3,), rng, 0.5, 2.0)
    vb[0] = va[0, 0]  # one tie, for the comparisons
    inputs = {a.name: va, b.name: vb}
    for args, expected in [((a, b), ufunc(va, vb)), ((va, b), ufunc(va, vb)), ((a, vb), ufunc(va, vb)),
                           ((1.5, b), ufunc(1.5, vb)), ((np.float64(1.5), a), ufunc(1.5, va))]:
        y = ufunc(*args)
        assert is_expr(y) and y.shape == np.shape(expected)
        assert_close(y.evaluate(inputs), np.asarray(expected, dtype=np.float64))


def test_ndarray_operators_with_expressions(rng):
    x = T((3,))
    M, v = rand((2, 3), rng), rand((3,), rng, 0.5, 1.5)
    inputs = {x.name: v}
    for got, expected in [(M + x, M + v), (M * x, M * v), (M - x, M - v), (M / x, M / v), (M ** x, M**v if
                          np.all(M > 0) else None), (M @ x, M @ v), (M < x, M < v), (M == x, M == v)]:
        if expected is None:
            continue
        assert is_expr(got), type(got)
        assert_close(got.evaluate(inputs), np.asarray(expected, dtype=float))
    X = T((2, 3))
    g = ricci.grad(ricci.sum(M * X), X)
    assert_close(g.evaluate({X.name: M}), M)


def test_tanh_of_matmul_derives(rng):
    X, w = T((5, 3)), T((3,))
    y = np.tanh(X @ w)
    assert is_expr(y)
    inputs = {X.name: rand((5, 3), rng), w.name: rand((3,), rng)}

    def ref(d):
        return np.tanh(d[X.name] @ d[w.name])

    for method in METHODS:
        check_derivative(method, y, ref, inputs, w, w.name, rng)
    check_derivative("grad", np.exp(y) * 2.0, lambda d: np.exp(ref(d)) * 2.0, inputs, X, X.name, rng)


def test_hvp_through_numpy_calls(rng):
    w = T((3,))
    A = rand((4, 3), rng)
    L = np.sum(np.exp(A @ w))
    vw, t = rand((3,), rng), rand((3,), rng)
    H = A.T @ np.diag(np.exp(A @ vw)) @ A
    assert_close(ricci.hvp(L, w, t).evaluate({w.name: vw}), H @ t)


def test_ufunc_reduce(rng):
    x = T((2, 3))
    v = rand((2, 3), rng)
    assert_close(np.add.reduce(x).evaluate({x.name: v}), np.add.reduce(v))
    assert_close(np.add.reduce(x, axis=None).evaluate({x.name: v}), np.add.reduce(v, axis=None))
    assert_close(np.maximum.reduce(x, axis=1, keepdims=True).evaluate({x.name: v}),
                 np.maximum.reduce(v, axis=1, keepdims=True))
    assert_close(np.minimum.reduce(x, axis=0).evaluate({x.name: v}), np.minimum.reduce(v, axis=0))


# -- functions ---------------------------------------------------------------------------------
def test_einsum_with_expressions(rng):
    W, x = T((4, 3)), T((3,))
    y = np.einsum("ij,j->i", W, x)
    assert is_expr(y)
    inputs = {W.name: rand((4, 3), rng), x.name: rand((3,), rng)}
    assert_close(y.evaluate(inputs), inputs[W.name] @ inputs[x.name])
    assert is_expr(np.einsum("ij,j->i", W, x, optimize="greedy"))  # accepted, ignored
    assert is_expr(np.einsum("ij,j->i", inputs[W.name], x))
    for method in METHODS:
        check_derivative(method, y, lambda d: np.einsum("ij,j->i", d[W.name], d[x.name]), inputs, W, W.name, rng)


def test_linalg_inv_det_slogdet_solve(rng):
    A = T((3, 3))
    va = rand((3, 3), rng) + 2 * np.eye(3)
    va[0] *= -1  # a negative determinant: slogdet's sign is -1
    inputs = {A.name: va}
    inverse = np.linalg.inv(A)
    assert is_expr(inverse)
    assert_close(inverse.evaluate(inputs), np.linalg.inv(va))
    for method in METHODS:
        check_derivative(method, inverse, lambda d: np.linalg.inv(d[A.name]), inputs, A, A.name, rng)
    assert_close(np.linalg.det(A).evaluate(inputs), np.linalg.det(va))
    sign, logabs = np.linalg.slogdet(A)
    expected = np.linalg.slogdet(va)
    assert_close(sign.evaluate(inputs), expected[0])
    assert_close(logabs.evaluate(inputs), expected[1])
    assert_close(ricci.grad(logabs, A).evaluate(inputs), fd_grad(lambda d: np.linalg.slogdet(d["A"])[1], {"A": va}, "A"))
    assert_close(ricci.grad(sign, A).evaluate(inputs), np.zeros((3, 3)))
    check_derivative("jvp", logabs, lambda d: np.linalg.slogdet(d[A.name])[1], inputs, A, A.name, rng)
    b = T((3,))
    z = np.linalg.solve(A, b)
    inputs[b.name] = rand((3,), rng)
    assert_close(z.evaluate(inputs), np.linalg.solve(va, inputs[b.name]))
    check_derivative("grad", z, lambda d: np.linalg.solve(d[A.name], d[b.name]), inputs, A, A.name, rng)


@pytest.mark.parametrize("kwargs", [{}, {"ord": 2}, {"axis": 1}, {"axis": 0, "keepdims": True}, {"keepdims": True}])
def test_linalg_norm(kwargs, rng):
    shape = (4,) if kwargs.get("ord") == 2 else (2, 4)
    x = T(shape)
    v = rand(shape, rng)
    y = np.linalg.norm(x, **kwargs)
    assert_close(y.evaluate({x.name: v}), np.linalg.norm(v, **kwargs))
    check_derivative("jacobian", y, lambda d: np.linalg.norm(d[x.name], **kwargs), {x.name: v}, x, x.name, rng)
    assert is_expr(np.linalg.norm(T((2, 2)), "fro"))


PRODUCTS = [
    ("dot 2-1", lambda a, b: np.dot(a, b), (3, 4), (4,)),
    ("dot 2-2", lambda a, b: np.dot(a, b), (3, 4), (4, 2)),
    ("dot 3-2", lambda a, b: np.dot(a, b), (2, 3, 4), (4, 5)),
    ("dot 1-1", lambda a, b: np.dot(a, b), (4,), (4,)),
    ("dot 0-2", lambda a, b: np.dot(a, b), (), (2, 2)),
    ("tensordot 2", lambda a, b: np.tensordot(a, b), (2, 3, 4), (3, 4)),
    ("tensordot pairs", lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])), (2, 3, 4), (4, 2)),
    ("tensordot 0", lambda a, b: np.tensordot(a, b, axes=0), (2,), (3,)),
    ("outer", lambda a, b: np.outer(a, b), (2, 2), (3,)),
    ("inner", lambda a, b: np.inner(a, b), (2, 3), (4, 3)),
    ("matmul", lambda a, b: np.matmul(a, b), (2, 3), (3, 4)),
]


@pytest.mark.parametrize("label, f, sa, sb", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_match_numpy(label, f, sa, sb, rng):
    a, b = T(sa), T(sb)
    inputs = {a.name: rand(sa, rng), b.name: rand(sb, rng)}
    y = f(a, b)
    assert is_expr(y)
    expected = f(inputs[a.name], inputs[b.name])
    assert y.shape == np.shape(expected)
    assert_close(y.evaluate(inputs), expected)
    check_derivative("vjp", y, lambda d: f(d[a.name], d[b.name]), inputs, a, a.name, rng)


def test_product_shape_errors():
    with pytest.raises(ricci.ShapeError, match="not aligned"):
        np.dot(T((2, 3)), T((2,)))
    with pytest.raises(ricci.ShapeError):
        np.tensordot(T((2, 3)), T((2, 3)), axes=([0], [1]))


SHAPING = [
    ("transpose", lambda x: np.transpose(x), (2, 3, 4)),
    ("transpose axes", lambda x: np.transpose(x, (1, 0, 2)), (2, 3, 4)),
    ("swapaxes", lambda x: np.swapaxes(x, 0, 2), (2, 3, 4)),
    ("moveaxis", lambda x: np.moveaxis(x, 0, -1), (2, 3, 4)),
    ("expand_dims", lambda x: np.expand_dims(x, 1), (2, 3)),
    ("squeeze", lambda x: np.squeeze(x), (2, 1, 3)),
    ("reshape", lambda x: np.reshape(x, (3, -1)), (2, 3)),
    ("reshape F", lambda x: np.reshape(x, (3, 2), order="F"), (2, 3)),
    ("sum", lambda x: np.sum(x, axis=1), (2, 3)),
    ("sum keepdims", lambda x: np.sum(x, 0, None, None, True), (2, 3)),
    ("mean", lambda x: np.mean(x, axis=(0, 1)), (2, 3)),
    ("max", lambda x: np.max(x, axis=0), (2, 3)),
    ("amin", lambda x: np.amin(x, axis=1, keepdims=True), (2, 3)),
    ("trace", lambda x: np.trace(x), (3, 3)),
    ("trace axes", lambda x: np.trace(x, axis1=0, axis2=2), (3, 2, 3)),
    ("concatenate", lambda x: np.concatenate([x, 2 * x], axis=1), (2, 3)),
    ("stack", lambda x: np.stack([x, x * x], axis=-1), (2, 3)),
    ("where", lambda x: np.where(x > 0, x, 0.5 * x), (2, 3)),
    ("clip", lambda x: np.clip(x, -0.5, 0.5), (2, 3)),
    ("clip kw", lambda x: np.clip(x, min=-0.5), (2, 3)),
    ("broadcast_to", lambda x: np.broadcast_to(x, (4, 2, 3)), (2, 3)),
]


@pytest.mark.parametrize("label, f, shape", SHAPING, ids=[s[0] for s in SHAPING])
def test_shaping_and_reductions_match_numpy(label, f, shape, rng):
    x = T(shape)
    v = rand(shape, rng, away_from_zero=0.05) * 0.9  # away from the kinks at 0 and the clip bounds ±0.5 ...
    v = np.where(np.abs(np.abs(v) - 0.5) < 0.05, v * 0.8, v)
    y = f(x)
    assert is_expr(y)
    expected = f(v)
    assert y.shape == np.shape(expected)
    assert_close(y.evaluate({x.name: v}), expected)
    check_derivative("vjp", y, lambda d: f(d[x.name]), {x.name: v}, x, x.name, rng)


def test_broadcast_arrays_and_shape_queries():
    a, b = T((2, 1)), T((3,))
    out = np.broadcast_arrays(a, b)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 3), (2, 3)]
    X = T(("batch", 3))
    assert np.shape(X) == ("batch", 3) and np.ndim(X) == 2
    assert np.size(T((2, 3))) == 6 and np.size(X, 1) == 3
    size = np.size(X)
    assert is_expr(size) and str(size) == "3*batch"
    assert float(size.evaluate(sizes={"batch": 4})) == 12.0
    assert str(np.size(X, 0)) == "batch"


def test_symbolic_batch_dimension_through_numpy_calls(rng):
    X, w = T(("batch", 3)), T((3,))
    L = np.mean(np.tanh(X @ w) ** 2) + np.sum(np.maximum(X, 0.25)) / np.size(X)
    g = ricci.grad(L, w)  # one derivation, two batch sizes
    for n in (2, 7):
        vX, vw = rand((n, 3), rng), rand((3,), rng)

        def ref(d):
            return np.mean(np.tanh(d["X"] @ d["w"]) ** 2) + np.sum(np.maximum(d["X"], 0.25)) / d["X"].size

        inputs = {X.name: vX, w.name: vw}
        assert_close(L.evaluate(inputs), ref({"X": vX, "w": vw}))
        assert_close(g.evaluate(inputs), fd_grad(ref, {"X": vX, "w": vw}, "w"))


def test_compiled_programs_of_numpy_calls(rng):
    A, x = T((3, 3)), T((3,))
    ys = [np.linalg.inv(A) @ x, np.linalg.slogdet(A)[1], np.einsum("ij,j->i", A, np.tanh(x))]
    f = ricci.compile(ys)
    va = rand((3, 3), rng) + 3 * np.eye(3)
    vx = rand((3,), rng)
    got = f({A.name: va, x.name: vx})
    assert_close(got[0], np.linalg.solve(va, vx))
    assert_close(got[1], np.linalg.slogdet(va)[1])
    assert_close(got[2], va @ np.tanh(vx))


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda x: np.arctan(x), "numpy.arctan"),
    (lambda x: np.floor(x), "numpy.floor"),
    (lambda x: np.fmax(x, 0), "numpy.fmax"),
    (lambda x: np.linalg.eigh(np.outer(x, x)), "numpy.linalg.eigh"),
    (lambda x: np.prod(x), "numpy.prod"),
    (lambda x: np.cumsum(x), "numpy.cumsum"),
    (lambda x: np.where(x > 0), "numpy.where"),
    (lambda x: np.add.accumulate(x), "numpy.add.accumulate"),
    (lambda x: np.multiply.outer(x, x), "numpy.multiply.outer"),
    (lambda x: np.multiply.reduce(x), "numpy.multiply.reduce"),
    (lambda x: np.add.at(x, [0], 1.0), "numpy.add.at"),
    (lambda x: np.linalg.norm(x, 1), "numpy.linalg.norm"),
])
def test_unsupported_functions_name_numpys_function(call, name):
    x = T((3,))
    with pytest.raises(ricci.UnsupportedFunctionError) as info:
        call(x)
    assert name in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ricci.RicciError)


def test_unsupported_functions_suggest_an_alternative():
    x = T((3,))
    with pytest.raises(ricci.UnsupportedFunctionError, match="ricci has no arctan; write it with"):
        np.arctan(x)
    with pytest.raises(ricci.UnsupportedFunctionError, match="ricci.maximum"):
        np.fmax(x, 0)


@pytest.mark.parametrize("call, keyword", [
    (lambda x: np.add(x, x, out=np.zeros(3)), "out"),
    (lambda x: np.tanh(x, dtype=np.float32), "dtype"),
    (lambda x: np.exp(x, where=np.array([True, False, True])), "where"),
    (lambda x: np.sum(x, dtype=np.float32), "dtype"),
    (lambda x: np.sum(x, 0, np.float32), "dtype"),
    (lambda x: np.sum(x, initial=1.0), "initial"),
    (lambda x: np.einsum("i->", x, dtype=np.float32), "dtype"),
    (lambda x: np.max(x, out=np.zeros(())), "out"),
    (lambda x: np.trace(np.outer(x, x), offset=1), "offset"),
    (lambda x: np.add.reduce(x, dtype=np.float32), "dtype"),
])
def test_unsupported_keyword_arguments_are_named(call, keyword):
    x = T((3,))
    with pytest.raises(ricci.UnsupportedFunctionError, match=f"{keyword}="):
        call(x)


def test_in_place_numpy_operators_are_refused():
    x = T((3,))
    a = np.zeros(3)
    with pytest.raises(ricci.UnsupportedFunctionError, match="out="):
        a += x
    np.testing.assert_array_equal(a, np.zeros(3))


def test_default_valued_keywords_are_accepted():
    x = T((3,))
    assert is_expr(np.sum(x, out=None, dtype=None))
    assert is_expr(np.add(x, 1.0, casting="same_kind"))


def test_tables_are_consistent():
    for name in UFUNCS:
        assert isinstance(getattr(np, name), np.ufunc), name
    assert np.linalg.inv in FUNCTIONS and np.einsum in FUNCTIONS
