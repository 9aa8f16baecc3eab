"""Reductions and shaping as contractions (issue 9, item 4): ``mean``, ``sum(keepdims=)``,
``transpose``, ``swapaxes``, ``moveaxis``, ``expand_dims``, ``squeeze``.

Values, shapes and dtypes are checked against numpy, gradients against central finite
differences of the numpy function, bad arguments against the ricci error types.
"""
import numpy as np
import pytest

import ricci
from conftest import fd_grad, fresh_name, make_rng


def T(shape):
    return ricci.Tensor(fresh_name("shp"), shape)


# (id, input shape, ricci function, numpy function). ricci.sum is an einsum, so its dtype is
# numpy.einsum's (int32 stays int32) where numpy.sum widens small integers: compared with dtype=.
CASES = [
    ("mean-all", (2, 3, 4), lambda x: ricci.mean(x), lambda a: np.mean(a)),
    ("mean-axis", (2, 3, 4), lambda x: ricci.mean(x, 1), lambda a: np.mean(a, 1)),
    ("mean-neg", (2, 3, 4), lambda x: ricci.mean(x, -1), lambda a: np.mean(a, -1)),
    ("mean-tuple", (2, 3, 4), lambda x: ricci.mean(x, (0, -1)), lambda a: np.mean(a, (0, -1))),
    ("mean-keep", (2, 3, 4), lambda x: ricci.mean(x, (0, 2), keepdims=True),
     lambda a: np.mean(a, (0, 2), keepdims=True)),
    ("mean-keep-all", (2, 3), lambda x: ricci.mean(x, keepdims=True), lambda a: np.mean(a, keepdims=True)),
    ("mean-size1", (2, 1, 3), lambda x: ricci.mean(x, 1), lambda a: np.mean(a, 1)),
    ("mean-empty-tuple", (2, 3), lambda x: ricci.mean(x, ()), lambda a: np.mean(a, ())),
    ("mean-0d", (), lambda x: ricci.mean(x), lambda a: np.mean(a)),
    ("sum-keep", (2, 3, 4), lambda x: ricci.sum(x, 1, keepdims=True), lambda a: np.sum(a, 1, keepdims=True, dtype=a.dtype)),
    ("sum-keep-all", (2, 3), lambda x: ricci.sum(x, keepdims=True), lambda a: np.sum(a, keepdims=True, dtype=a.dtype)),
    ("sum-keep-size1", (2, 1, 3), lambda x: ricci.sum(x, (1, 2), keepdims=True),
     lambda a: np.sum(a, (1, 2), keepdims=True, dtype=a.dtype)),
    ("sum-nokeep", (2, 3), lambda x: ricci.sum(x, 0, keepdims=False), lambda a: np.sum(a, 0, keepdims=False, dtype=a.dtype)),
    ("transpose", (2, 3, 4), lambda x: ricci.transpose(x), lambda a: np.transpose(a)),
    ("transpose-axes", (2, 3, 4), lambda x: ricci.transpose(x, (1, -1, 0)), lambda a: np.transpose(a, (1, -1, 0))),
    ("transpose-list", (2, 3, 4), lambda x: ricci.transpose(x, [2, 0, 1]), lambda a: np.transpose(a, [2, 0, 1])),
    ("transpose-array", (2, 3), lambda x: ricci.transpose(x, np.array([1, 0])),
     lambda a: np.transpose(a, np.array([1, 0]))),
    ("transpose-0d", (), lambda x: ricci.transpose(x), lambda a: np.transpose(a)),
    ("swapaxes", (2, 3, 4), lambda x: ricci.swapaxes(x, 0, 2), lambda a: np.swapaxes(a, 0, 2)),
    ("swapaxes-neg", (2, 3, 4), lambda x: ricci.swapaxes(x, -1, 1), lambda a: np.swapaxes(a, -1, 1)),
    ("swapaxes-same", (2, 3), lambda x: ricci.swapaxes(x, 1, -1), lambda a: np.swapaxes(a, 1, -1)),
    ("moveaxis", (2, 3, 4), lambda x: ricci.moveaxis(x, 0, -1), lambda a: np.moveaxis(a, 0, -1)),
    ("moveaxis-back", (2, 3, 4), lambda x: ricci.moveaxis(x, -1, 0), lambda a: np.moveaxis(a, -1, 0)),
    ("moveaxis-seq", (2, 3, 4, 5), lambda x: ricci.moveaxis(x, [0, 1], [-1, -2]),
     lambda a: np.moveaxis(a, [0, 1], [-1, -2])),
    ("moveaxis-seq2", (2, 3, 4, 5), lambda x: ricci.moveaxis(x, (3, 0), (1, 2)),
     lambda a: np.moveaxis(a, (3, 0), (1, 2))),
    ("expand-0", (2, 3), lambda x: ricci.expand_dims(x, 0), lambda a: np.expand_dims(a, 0)),
    ("expand-neg", (2, 3), lambda x: ricci.expand_dims(x, -1), lambda a: np.expand_dims(a, -1)),
    ("expand-mid", (2, 3), lambda x: ricci.expand_dims(x, 1), lambda a: np.expand_dims(a, 1)),
    ("expand-tuple", (2, 3), lambda x: ricci.expand_dims(x, (0, 2, -1)), lambda a: np.expand_dims(a, (0, 2, -1))),
    ("expand-list", (3,), lambda x: ricci.expand_dims(x, [1, 0]), lambda a: np.expand_dims(a, [1, 0])),
    ("expand-0d", (), lambda x: ricci.expand_dims(x, 0), lambda a: np.expand_dims(a, 0)),
    ("squeeze-all", (1, 3, 1, 2), lambda x: ricci.squeeze(x), lambda a: np.squeeze(a)),
    ("squeeze-axis", (1, 3, 1), lambda x: ricci.squeeze(x, 0), lambda a: np.squeeze(a, 0)),
    ("squeeze-neg", (1, 3, 1), lambda x: ricci.squeeze(x, -1), lambda a: np.squeeze(a, -1)),
    ("squeeze-tuple", (1, 3, 1), lambda x: ricci.squeeze(x, (0, 2)), lambda a: np.squeeze(a, (0, 2))),
    ("squeeze-none-left", (2, 3), lambda x: ricci.squeeze(x), lambda a: np.squeeze(a)),
    ("squeeze-to-0d", (1, 1), lambda x: ricci.squeeze(x), lambda a: np.squeeze(a)),
    ("composed", (2, 3, 4), lambda x: ricci.squeeze(ricci.expand_dims(ricci.moveaxis(x, 1, 0), 1), 1),
     lambda a: np.squeeze(np.expand_dims(np.moveaxis(a, 1, 0), 1), 1)),
]
IDS = [c[0] for c in CASES]
ONE_ELEMENT_MEANS = ("mean-size1", "mean-empty-tuple", "mean-0d")
DTYPES = [np.float64, np.float32, np.int64, np.int32]


def dot(y, w):
    """``sum(y * w)`` for a constant ``w`` of y's shape (any rank, 0-d included)."""
    labels = tuple(range(y.ndim))
    return ricci.expr.contract((), [(y, labels), (w if isinstance(w, ricci.Expr) else np.asarray(w), labels)])


def sample(shape, dtype, seed=0):
    rng = make_rng(seed)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).name for d in DTYPES])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_numpy(case, dtype):
    _, shape, fn, ref = case
    x = T(shape)
    a = sample(shape, dtype)
    expr = fn(x)
    expected = np.asarray(ref(a))
    assert expr.shape == expected.shape
    got = np.asarray(expr.evaluate({x.name: a}))
    assert got.shape == expected.shape
    if case[0] in ONE_ELEMENT_MEANS and np.dtype(dtype).kind == "i":
        expected = expected.astype(dtype)  # documented: the mean of one element is the input itself
    assert got.dtype == expected.dtype, f"dtype {got.dtype}, numpy gives {expected.dtype}"
    if expected.dtype.kind == "i":
        np.testing.assert_array_equal(got, expected)
    else:
        tol = 1e-5 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_finite_differences(case):
    _, shape, fn, ref = case
    x = T(shape)
    a = sample(shape, np.float64, seed=1)
    out_shape = np.shape(ref(a))
    w = sample(out_shape, np.float64, seed=2)
    loss = dot(fn(x), w)
    expected = fd_grad(lambda inp: np.sum(ref(inp[x.name]) * w), {x.name: a}, x.name)
    got = ricci.grad(loss, x).evaluate({x.name: a})
    assert got.shape == shape
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_gradient_stays_float32(case):
    _, shape, fn, ref = case
    x = T(shape)
    a = sample(shape, np.float32, seed=3)
    w = sample(np.shape(ref(a)), np.float32, seed=4)
    W = T(w.shape)  # a Tensor (a 0-d constant would be folded to a Python float, making it float64)
    got = ricci.grad(dot(fn(x), W), x).evaluate({x.name: a, W.name: w})
    assert got.dtype == np.float32
    expected = fd_grad(lambda inp: np.sum(ref(inp[x.name]) * w.astype(np.float64)), {x.name: a}, x.name)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_arrays_and_numbers_are_accepted(case):
    _, shape, fn, ref = case
    a = sample(shape, np.float64, seed=5)
    expr = fn(a)
    assert isinstance(expr, ricci.Expr)
    np.testing.assert_allclose(expr.evaluate({}), ref(a), rtol=1e-12)


def test_numbers_and_integer_constants():
    assert ricci.mean(3).evaluate({}) == 3.0 and ricci.mean(3).evaluate({}).dtype == np.float64
    got = ricci.mean(np.arange(4)).evaluate({})
    assert got == 1.5 and got.dtype == np.float64
    got = ricci.mean(np.arange(4).reshape(1, 4), 0).evaluate({})
    assert got.dtype == np.float64
    assert ricci.expand_dims(2.5, 0).shape == (1,)
    assert ricci.transpose([[1, 2], [3, 4]]).evaluate({}).tolist() == [[1, 3], [2, 4]]


def test_mean_over_no_elements_is_nan():
    x = T((0, 3))
    got = ricci.mean(x, 0).evaluate({x.name: np.zeros((0, 3))})
    assert got.shape == (3,) and np.isnan(got).all()


def test_these_are_contractions():
    """No new node kinds: every result is a contraction (or its input, or a scaled one)."""
    x = T((2, 1, 3))
    assert isinstance(ricci.transpose(x), ricci.expr.Contract)
    assert isinstance(ricci.expand_dims(x, 0), ricci.expr.Contract)
    assert isinstance(ricci.squeeze(x), ricci.expr.Contract)
    assert isinstance(ricci.sum(x, 0, keepdims=True), ricci.expr.Contract)
    assert ricci.transpose(x, (0, 1, 2)) is x
    assert ricci.swapaxes(x, 2, -1) is x
    assert ricci.moveaxis(x, 0, 0) is x
    assert ricci.sum(x, 1, keepdims=True) is x  # an axis of size 1: nothing to sum
    assert "einsum" in str(ricci.mean(x, 0))
    # transposing twice is the identity node
    assert ricci.transpose(ricci.transpose(x, (1, 2, 0)), (2, 0, 1)) is x


def test_mean_of_a_layer_norm_shape_broadcasts_with_keepdims():
    x = T((4, 6))
    a = sample((4, 6), np.float64, seed=6)
    mu = ricci.mean(x, -1, keepdims=True)
    centred = ricci.einsum("bd,bd->bd", x, np.ones((4, 6))) - ricci.einsum("bk,d->bd", mu, np.ones(6))
    var = ricci.mean(centred * centred, -1)
    np.testing.assert_allclose(var.evaluate({x.name: a}), np.var(a, -1), rtol=1e-12)
    loss = ricci.sum(var)
    fd = fd_grad(lambda inp: np.var(inp[x.name], -1).sum(), {x.name: a}, x.name)
    np.testing.assert_allclose(ricci.grad(loss, x).evaluate({x.name: a}), fd, rtol=1e-6, atol=1e-8)


def test_hessian_of_a_transposed_quadratic():
    x = T((2, 3))
    a = sample((2, 3), np.float64, seed=7)
    y = ricci.moveaxis(ricci.expand_dims(x, 0), 0, -1)  # (2, 3, 1)
    loss = ricci.sum(ricci.mean(y * y, axis=(0, 2)))
    H = ricci.hessian(loss, x).evaluate({x.name: a})
    expected = np.einsum("ik,jl->ijkl", np.eye(2), np.eye(3)) * (2 / 2)
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# bad arguments: numpy's errors, as ricci errors naming the axis and the shape
# ---------------------------------------------------------------------------
SHAPE = (2, 1, 3)
BAD = [
    ("mean-range", lambda x: ricci.mean(x, 3), ricci.ShapeError, "axis 3"),
    ("mean-neg-range", lambda x: ricci.mean(x, -4), ricci.ShapeError, "axis -4"),
    ("mean-dup", lambda x: ricci.mean(x, (0, -3)), ricci.ArgumentError, "axis"),
    ("mean-float", lambda x: ricci.mean(x, 1.0), ricci.ArgumentError, "axis"),
    ("mean-bool", lambda x: ricci.mean(x, True), ricci.ArgumentError, "axis"),
    ("sum-keep-range", lambda x: ricci.sum(x, 5, keepdims=True), ricci.ShapeError, "axis 5"),
    ("transpose-dup", lambda x: ricci.transpose(x, (0, 0, 1)), ricci.ArgumentError, "axis 0"),
    ("transpose-dup-neg", lambda x: ricci.transpose(x, (0, -3, 1)), ricci.ArgumentError, "axis 0"),
    ("transpose-short", lambda x: ricci.transpose(x, (1, 0)), ricci.ArgumentError, "axes"),
    ("transpose-long", lambda x: ricci.transpose(x, (1, 0, 2, 3)), ricci.ArgumentError, "axes"),
    ("transpose-range", lambda x: ricci.transpose(x, (0, 1, 3)), ricci.ShapeError, "axes 3"),
    ("transpose-int", lambda x: ricci.transpose(x, 1), ricci.ArgumentError, "axes"),
    ("transpose-float", lambda x: ricci.transpose(x, (0, 1, 2.0)), ricci.ArgumentError, "axes"),
    ("swapaxes-range", lambda x: ricci.swapaxes(x, 0, 3), ricci.ShapeError, "axis2 3"),
    ("swapaxes-range1", lambda x: ricci.swapaxes(x, -4, 0), ricci.ShapeError, "axis1 -4"),
    ("swapaxes-tuple", lambda x: ricci.swapaxes(x, (0,), 1), ricci.ArgumentError, "axis1"),
    ("moveaxis-dup", lambda x: ricci.moveaxis(x, (0, 0), (1, 2)), ricci.ArgumentError, "source"),
    ("moveaxis-dup-dst", lambda x: ricci.moveaxis(x, (0, 1), (2, -1)), ricci.ArgumentError, "destination"),
    ("moveaxis-len", lambda x: ricci.moveaxis(x, 0, (1, 2)), ricci.ArgumentError, "same number"),
    ("moveaxis-range", lambda x: ricci.moveaxis(x, 3, 0), ricci.ShapeError, "source 3"),
    ("moveaxis-range-dst", lambda x: ricci.moveaxis(x, 0, -4), ricci.ShapeError, "destination -4"),
    ("expand-range", lambda x: ricci.expand_dims(x, 4), ricci.ShapeError, "axis 4"),
    ("expand-neg-range", lambda x: ricci.expand_dims(x, -5), ricci.ShapeError, "axis -5"),
    ("expand-dup", lambda x: ricci.expand_dims(x, (0, 0)), ricci.ArgumentError, "axis 0"),
    ("expand-dup-neg", lambda x: ricci.expand_dims(x, (4, -1)), ricci.ArgumentError, "axis 4"),
    ("expand-float", lambda x: ricci.expand_dims(x, 0.5), ricci.ArgumentError, "axis"),
    ("squeeze-not-1", lambda x: ricci.squeeze(x, 0), ricci.ShapeError, "axis 0"),
    ("squeeze-not-1-tuple", lambda x: ricci.squeeze(x, (1, 2)), ricci.ShapeError, "axis 2"),
    ("squeeze-range", lambda x: ricci.squeeze(x, 3), ricci.ShapeError, "axis 3"),
    ("squeeze-dup", lambda x: ricci.squeeze(x, (1, -2)), ricci.ArgumentError, "axis 1"),
]


@pytest.mark.parametrize("bad", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_ricci_errors_as_numpy_does(bad):
    _, call, error, text = bad
    for operand in (T(SHAPE), np.zeros(SHAPE)):  # an expression or an array
        with pytest.raises(error) as info:
            call(operand)
        assert isinstance(info.value, ricci.RicciError)
        message = str(info.value)
        assert text in message and str(SHAPE) in message, message


@pytest.mark.parametrize("bad", BAD, ids=[b[0] for b in BAD])
def test_numpy_rejects_the_same_calls(bad):
    """The table above is numpy's behaviour: each call fails on an array in numpy too."""
    name, call, _, _ = bad
    fns = {"mean": np.mean, "sum": np.sum, "transpose": np.transpose, "swapaxes": np.swapaxes,
           "moveaxis": np.moveaxis, "expand": np.expand_dims, "squeeze": np.squeeze}
    src = call.__code__.co_names  # the ricci function the lambda calls
    fn_name = next(n for n in src if n in ("mean", "sum", "transpose", "swapaxes", "moveaxis",
                                           "expand_dims", "squeeze"))
    np_fn = fns["expand" if fn_name == "expand_dims" else fn_name]

    class Shim:  # call the lambda with numpy's functions in ricci's place
        def __getattr__(self, attr):
            return np_fn if attr == fn_name else getattr(ricci, attr)

    shimmed = type(call)(call.__code__, {**call.__globals__, "ricci": Shim()})
    with pytest.raises((ValueError, TypeError, IndexError)):
        shimmed(np.zeros(SHAPE))


def test_operand_of_the_wrong_type():
    for fn in (ricci.mean, ricci.transpose, ricci.squeeze):
        with pytest.raises(ricci.OperandTypeError, match="argument of"):
            fn("not an array")
    with pytest.raises(ricci.OperandTypeError):
        ricci.expand_dims(object(), 0)


def test_expr_methods_match_numpy_and_the_functions():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(2, 1, 3))
    x = ricci.Tensor("methods_x", a.shape)
    cases = [
        (x.mean(), a.mean()), (x.mean(axis=2, keepdims=True), a.mean(axis=2, keepdims=True)),
        (x.sum(axis=(0, 2), keepdims=True), a.sum(axis=(0, 2), keepdims=True)),
        (x.transpose(), a.transpose()), (x.transpose(2, 0, 1), a.transpose(2, 0, 1)),
        (x.transpose((1, 2, 0)), a.transpose((1, 2, 0))), (x.swapaxes(0, -1), a.swapaxes(0, -1)),
        (x.squeeze(), a.squeeze()), (x.squeeze(1), a.squeeze(1)),
    ]
    for expr, ref in cases:
        got = expr.evaluate({x.name: a})
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert x.transpose(2, 0, 1) is ricci.transpose(x, (2, 0, 1))
    with pytest.raises(ricci.ShapeError):
        x.squeeze(0)
