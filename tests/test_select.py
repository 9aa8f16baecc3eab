"""Comparisons, where, maximum, minimum and clip (ricci.select).

References are numpy's own functions and central finite differences of float64
numpy implementations; FD points stay away from ties and from the comparisons'
discontinuities.
"""
import numpy as np
import pytest
from conftest import assert_close, check_derivative, fd_jvp, fresh_name, rand

import ricci
from ricci.expr import Apply, Constant, topological_order

METHODS = ("grad", "vjp", "jvp", "jacobian")


def T(shape, prefix="s"):
    return ricci.Tensor(fresh_name(prefix), shape)


def away(shape, rng, gap=0.2):
    """Random values in ±[gap, 1]: no ties with 0 and with each other's sign."""
    return rand(shape, rng, away_from_zero=gap)


def same(got, expected):
    """Equal values, inf and nan included, of the same shape."""
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def kinds(expr):
    return {n.primitive.name for n in topological_order([expr]) if isinstance(n, Apply)}


def no_dense_masks(expr, limit):
    """No constant in the network is larger than ``limit`` elements (no one-hot matrices)."""
    return all(n.value.size <= limit for n in topological_order([expr]) if isinstance(n, Constant))


# -- comparisons ------------------------------------------------------------------------
COMPARISONS = [
    (ricci.less, np.less), (ricci.less_equal, np.less_equal), (ricci.greater, np.greater),
    (ricci.greater_equal, np.greater_equal), (ricci.equal, np.equal), (ricci.not_equal, np.not_equal),
]


@pytest.mark.parametrize("ours, theirs", COMPARISONS)
@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 4)), ((), (2,))])
def test_comparisons_match_numpy_with_broadcasting(ours, theirs, sa, sb, rng):
    a, b = T(sa), T(sb)
    va = np.round(rand(sa, rng) * 2) / 2  # coarse values: ties occur
    vb = np.round(rand(sb, rng) * 2) / 2
    got = ours(a, b).evaluate({a.name: va, b.name: vb})
    expected = theirs(va, vb).astype(np.float64)
    assert got.dtype == np.float64
    assert_close(got, expected)
    # an array or a number on either side
    assert_close(ours(va, b).evaluate({b.name: vb}), expected)
    assert_close(ours(a, 0.5).evaluate({a.name: va}), theirs(va, 0.5).astype(float))
    assert_close(ours(0.5, a).evaluate({a.name: va}), theirs(0.5, va).astype(float))


def test_operators_call_the_comparisons(rng):
    x = T((4,))
    v = np.array([-1.0, 0.0, 0.5, 2.0])
    for expr, expected in [(x < 0.5, v < 0.5), (x <= 0.5, v <= 0.5), (x > 0, v > 0), (x >= 0, v >= 0),
                           (0 < x, 0 < v), (1 >= x, 1 >= v), (np.zeros(4) < x, np.zeros(4) < v)]:
        assert isinstance(expr, ricci.Expr)
        assert_close(expr.evaluate({x.name: v}), expected.astype(float))
    assert str(0 < x) == f"greater({x.name}, 0)"


def test_comparison_dtype_follows_operands():
    x = T((3,))
    v = np.array([1.0, 2.0, 3.0], np.float32)
    assert (x > 1.5).evaluate({x.name: v}).dtype == np.float32
    assert (x > 1).evaluate({x.name: np.array([1, 2, 3])}).dtype == np.float64


def test_comparisons_have_zero_derivative(rng):
    x = T((3,))
    mask = x > 0
    L = ricci.sum(mask * x)  # d/dx = mask (the mask itself contributes nothing)
    v = away((3,), rng)
    assert_close(ricci.grad(L, x).evaluate({x.name: v}), (v > 0).astype(float))
    assert_close(ricci.jvp(mask, x, np.ones(3)).evaluate({x.name: v}), np.zeros(3))
    assert_close(ricci.grad(ricci.sum(mask), x).evaluate({x.name: v}), np.zeros(3))


def test_comparison_of_constants_is_a_constant():
    c = ricci.less(np.array([1.0, 3.0]), 2.0)
    assert isinstance(c, Constant)
    np.testing.assert_array_equal(c.value, [1.0, 0.0])


def test_comparison_shape_error():
    with pytest.raises(ricci.ShapeError, match="do not broadcast"):
        ricci.less(T((2, 3)), T((4,)))


def test_complex_ordering_is_refused():
    x = T((2,))
    with pytest.raises(ricci.DtypeError, match="no order"):
        (x < 0).evaluate({x.name: np.array([1j, 2])})


# -- where --------------------------------------------------------------------------------
@pytest.mark.parametrize("sc, sa, sb", [((3,), (3,), (3,)), ((3,), (2, 3), ()), ((2, 1), (3,), (2, 3)),
                                        ((), (2, 2), (2, 2)), ((1, 3), (4, 1), (3,))])
def test_where_matches_numpy_with_broadcasting(sc, sa, sb, rng):
    c, a, b = T(sc), T(sa), T(sb)
    vc, va, vb = np.round(rand(sc, rng)), rand(sa, rng), rand(sb, rng)
    inputs = {c.name: vc, a.name: va, b.name: vb}
    expected = np.where(vc != 0, va, vb)
    got = ricci.where(c, a, b)
    assert got.shape == expected.shape
    assert_close(got.evaluate(inputs), expected)
    # a numpy condition, array branches, number branches
    assert_close(ricci.where(vc != 0, a, b).evaluate(inputs), expected)
    assert_close(ricci.where(vc > 0, a, 2.5).evaluate(inputs), np.where(vc > 0, va, 2.5))
    assert_close(ricci.where(vc > 0, -1.0, b).evaluate(inputs), np.where(vc > 0, -1.0, vb))
    assert_close(ricci.where(c, 1.0, 0.0).evaluate(inputs), np.where(vc != 0, 1.0, 0.0))


def test_where_selects_inf_and_nan_without_leaking(rng):
    x = T((4,))
    v = np.array([-2.0, -0.5, 0.5, 3.0])
    masked = ricci.where(x > 0, x, -np.inf)
    with np.errstate(all="raise"):
        same(masked.evaluate({x.name: v}), np.where(v > 0, v, -np.inf))
    # log of a negative number in the branch not taken: numpy's value, no nan
    safe = ricci.where(x > 0, ricci.log(ricci.where(x > 0, x, 1.0)), np.nan)
    got = safe.evaluate({x.name: v})
    np.testing.assert_array_equal(np.isnan(got), v <= 0)
    assert_close(got[v > 0], np.log(v[v > 0]))
    g_safe = ricci.grad(ricci.sum(ricci.where(x > 0, ricci.log(ricci.where(x > 0, x, 1.0)), 0.0)), x)
    same(g_safe.evaluate({x.name: v}), np.where(v > 0, 1 / np.where(v > 0, v, 1.0), 0.0))
    # logsumexp over masked logits: the gradient is a softmax over the kept entries, finite
    g = ricci.grad(ricci.logsumexp(masked, axis=0), x).evaluate({x.name: v})
    e = np.exp(v[2:] - v[2:].max())
    assert_close(g, np.concatenate([[0.0, 0.0], e / e.sum()]))
    # inf in the unselected branch of an expression operand
    y = T((4,))
    inputs = {x.name: v, y.name: np.array([np.inf, np.nan, 1.0, 2.0])}
    w = ricci.where(x > 0, y, x)
    same(w.evaluate(inputs), np.where(v > 0, inputs[y.name], v))
    assert_close(ricci.grad(ricci.sum(w), x).evaluate(inputs), (v <= 0).astype(float))


@pytest.mark.parametrize("method", METHODS)
def test_where_derivatives_match_finite_differences(method, rng):
    x, y = T((2, 3)), T((3,))
    c = np.array([True, False, True])
    expr = ricci.where(x > 0, x**2 * y, ricci.sin(y) - x) + ricci.where(c, y, 2 * x)
    inputs = {x.name: away((2, 3), rng), y.name: rand((3,), rng)}

    def ref(d):
        X, Y = d[x.name], d[y.name]
        return np.where(X > 0, X**2 * Y, np.sin(Y) - X) + np.where(c, Y, 2 * X)

    check_derivative(method, expr, ref, inputs, x, x.name, rng)
    check_derivative(method, expr, ref, inputs, y, y.name, rng)


def test_where_hvp_matches_finite_differences_of_the_gradient(rng):
    x = T((5,))
    L = ricci.sum(ricci.where(x > 0, x**3, -(x**2)) + ricci.where(x < 0.5, ricci.exp(x), 0.0))
    v, t = away((5,), rng), rand((5,), rng)

    def grad_ref(d):
        X = d["x"]
        return np.where(X > 0, 3 * X**2, -2 * X) + np.where(X < 0.5, np.exp(X), 0.0)

    expected = fd_jvp(grad_ref, {"x": v}, "x", t)
    assert_close(ricci.hvp(L, x, t).evaluate({x.name: v}), expected, rtol=1e-5)
    H = ricci.hessian(L, x).evaluate({x.name: v})
    assert_close(H @ t, expected, rtol=1e-5)


def test_where_derivatives_are_where_nodes_not_dense_masks(rng):
    n = 50
    x = T((n,))
    mask = rng.uniform(size=n) > 0.5
    f = ricci.where(x > 0, ricci.tanh(x), ricci.where(mask, x**2, 0.0))
    for d in (ricci.grad(ricci.sum(f), x), ricci.jvp(f, x, np.ones(n)), ricci.hvp(ricci.sum(f), x, np.ones(n))):
        assert "where" in kinds(d)
        assert no_dense_masks(d, n)  # masks of n elements, never n×n


def test_constant_condition_stays_a_named_constant():
    x = T((3,))
    M = ricci.Constant(np.array([1.0, 0.0, 1.0]), name="M_where_test")
    w = ricci.where(M, x, 7.0)
    assert str(w) == f"M_where_test = <constant (3,) float64>\nwhere(M_where_test, {x.name}, 7)"
    assert M in topological_order([w])
    g = ricci.grad(ricci.sum(ricci.where(M, 2.0, x)), x)
    assert "~M_where_test" in str(g)
    assert_close(g.evaluate({x.name: np.ones(3)}), [0.0, 1.0, 0.0])


def test_python_bool_and_constant_conditions_take_one_branch():
    x, y = T((3,)), T((2, 3))
    assert ricci.where(True, x, y).shape == (2, 3)
    inputs = {x.name: np.arange(3.0), y.name: -np.ones((2, 3))}
    assert_close(ricci.where(True, x, y).evaluate(inputs), np.where(True, inputs[x.name], inputs[y.name]))
    assert_close(ricci.where(np.array([0, 0, 0]), x, y).evaluate(inputs), inputs[y.name])
    assert_close(ricci.where([1, 0, 2], x, 5.0).evaluate(inputs), np.where([1, 0, 2], inputs[x.name], 5.0))
    c = ricci.where(np.array([True, False]), np.array([1.0, 2.0]), 3.0)  # all constants: a constant
    assert isinstance(c, Constant)
    np.testing.assert_array_equal(c.value, [1.0, 3.0])


def test_where_print_is_deterministic_and_readable():
    x = ricci.Tensor("x_where_print_test", (3,))
    r = ricci.where(x > 0, x, 0.0)
    assert str(r) == "where(greater(x_where_print_test, 0), x_where_print_test, 0)"
    g = ricci.grad(ricci.sum(ricci.where(x > 0, 0.0, x)), x)
    assert str(g) == str(ricci.grad(ricci.sum(ricci.where(x > 0, 0.0, x)), x))
    assert "where(equal(greater(x_where_print_test, 0), 0)" in str(g)
    assert "where" in r.to_einsum() and "where" in r.to_latex()


@pytest.mark.parametrize("bad", [None, "x > 0", {1: 2}, np.array(["a", "b", "c"]), object()])
def test_where_refuses_weird_conditions(bad):
    with pytest.raises(ricci.OperandTypeError, match="condition of where"):
        ricci.where(bad, T((3,)), 0.0)


def test_where_shape_errors():
    with pytest.raises(ricci.ShapeError, match="where"):
        ricci.where(T((2,)), T((3,)), 0.0)
    with pytest.raises(ricci.ShapeError, match="where"):
        ricci.where(np.ones(4, bool), T((2, 3)), T((3,)))
    with pytest.raises(ricci.OperandTypeError):
        ricci.where(T((3,)), "a", 0.0)


def test_where_with_symbolic_batch_dimension(rng):
    X = ricci.Tensor(fresh_name("Xb"), ("batch", 3))
    w = ricci.Tensor(fresh_name("wb"), (3,))
    u = X * w
    L = ricci.mean(ricci.where(u > 0, u, 0.1 * u) + ricci.maximum(X, 0.3) * ricci.clip(u, -0.5, None))
    gw, gX = ricci.grad(L, [w, X])  # derived once, evaluated at two batch sizes
    for n in (2, 5):
        Xv, wv = away((n, 3), rng, 0.35), away((3,), rng, 0.35)

        def ref(d, n=n):
            U = d["X"] * d["w"]
            return np.mean(np.where(U > 0, U, 0.1 * U) + np.maximum(d["X"], 0.3) * np.clip(U, -0.5, None))

        inputs = {X.name: Xv, w.name: wv}
        assert_close(L.evaluate(inputs), ref({"X": Xv, "w": wv}))
        from conftest import fd_grad

        assert_close(gw.evaluate(inputs), fd_grad(ref, {"X": Xv, "w": wv}, "w"), rtol=1e-5)
        assert_close(gX.evaluate(inputs), fd_grad(ref, {"X": Xv, "w": wv}, "X"), rtol=1e-5)


def test_where_in_compiled_programs(rng):
    x, y = T((4,)), T((3, 4))
    out = [ricci.where(x > 0, y, -np.inf), ricci.grad(ricci.sum(ricci.maximum(x, y) ** 2), x)]
    f = ricci.compile(out)
    assert "where" in f.source and "maximum" in f.source
    vx, vy = away((4,), rng), rand((3, 4), rng)
    got = f({x.name: vx, y.name: vy})
    same(got[0], np.where(vx > 0, vy, -np.inf))
    m = np.maximum(vx, vy)
    assert_close(got[1], np.sum(2 * m * (vx > vy), axis=0))


def test_where_keeps_float32():
    x = T((3,))
    v = np.array([-1.0, 0.5, 2.0], np.float32)
    assert ricci.where(x > 0, x, -np.inf).evaluate({x.name: v}).dtype == np.float32
    assert ricci.where(np.array([True, False, True]), x, 0.0).evaluate({x.name: v}).dtype == np.float32


# -- maximum, minimum ---------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [(ricci.maximum, np.maximum), (ricci.minimum, np.minimum)])
@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 4)), ((), (2,))])
def test_maximum_minimum_match_numpy(ours, theirs, sa, sb, rng):
    a, b = T(sa), T(sb)
    va, vb = rand(sa, rng), rand(sb, rng)
    inputs = {a.name: va, b.name: vb}
    assert_close(ours(a, b).evaluate(inputs), theirs(va, vb))
    assert_close(ours(vb, a).evaluate(inputs), theirs(vb, va))
    assert_close(ours(a, 0.1).evaluate(inputs), theirs(va, 0.1))
    assert_close(ours(0.1, a).evaluate(inputs), theirs(0.1, va))


def test_maximum_propagates_nan():
    x = T((2,))
    got = ricci.maximum(x, 0.0).evaluate({x.name: np.array([np.nan, 1.0])})
    np.testing.assert_array_equal(np.isnan(got), [True, False])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_maximum_minimum_derivatives_match_finite_differences(method, which, rng):
    x, y = T((2, 3)), T((3,))
    ours, theirs = getattr(ricci, which), getattr(np, which)
    expr = ours(x, y) * ours(ricci.sin(x), 0.25)
    vx = away((2, 3), rng, 0.3)
    vy = vx[0] + np.array([0.2, -0.15, 0.25])  # no ties with either row
    inputs = {x.name: vx, y.name: vy}

    def ref(d):
        return theirs(d[x.name], d[y.name]) * theirs(np.sin(d[x.name]), 0.25)

    check_derivative(method, expr, ref, inputs, x, x.name, rng)
    check_derivative(method, expr, ref, inputs, y, y.name, rng)


def test_maximum_ties_split_the_gradient_in_half():
    x, y = T((3,)), T((3,))
    inputs = {x.name: np.array([1.0, 2.0, 3.0]), y.name: np.array([1.0, 5.0, 0.0])}
    L = ricci.sum(ricci.maximum(x, y))
    assert_close(ricci.grad(L, x).evaluate(inputs), [0.5, 0.0, 1.0])
    assert_close(ricci.grad(L, y).evaluate(inputs), [0.5, 1.0, 0.0])
    assert_close(ricci.grad(ricci.sum(ricci.minimum(x, y)), x).evaluate(inputs), [0.5, 1.0, 0.0])
    assert_close(ricci.grad(ricci.sum(ricci.maximum(x, 2.0)), x).evaluate(inputs), [0.0, 0.5, 1.0])
    assert_close(ricci.jvp(ricci.maximum(x, y), x, np.ones(3)).evaluate(inputs), [0.5, 0.0, 1.0])
    assert_close(ricci.grad(ricci.sum(ricci.maximum(x, x)), x).evaluate(inputs), np.ones(3))


def test_maximum_broadcast_gradient_sums_over_broadcast_axes(rng):
    x, b = T((4, 3)), T((3,))
    vx, vb = rand((4, 3), rng), rand((3,), rng) + 1e-3
    g = ricci.grad(ricci.sum(ricci.maximum(x, b)), b).evaluate({x.name: vx, b.name: vb})
    assert_close(g, np.sum(vb > vx, axis=0).astype(float))


def test_maximum_hvp(rng):
    x, y = T((4,)), T((4,))
    L = ricci.sum(ricci.maximum(x, y) ** 3)
    vx = away((4,), rng, 0.3)
    vy = -vx * 0.5
    t = rand((4,), rng)

    def grad_ref(d):
        return 3 * np.maximum(d["x"], vy) ** 2 * (d["x"] > vy)

    expected = fd_jvp(grad_ref, {"x": vx}, "x", t)
    assert_close(ricci.hvp(L, x, t).evaluate({x.name: vx, y.name: vy}), expected, rtol=1e-5)


def test_maximum_shape_error_and_complex():
    with pytest.raises(ricci.ShapeError, match="maximum"):
        ricci.maximum(T((2, 3)), T((2,)))
    x = T((2,))
    with pytest.raises(ricci.DtypeError):
        ricci.maximum(x, 0.0).evaluate({x.name: np.array([1j, 1.0])})


# -- clip -----------------------------------------------------------------------------------
def test_clip_matches_numpy(rng):
    x = T((2, 5))
    v = rand((2, 5), rng) * 3
    lo, hi = np.array([-1.0, 0.0, -2.0, 0.5, -0.5]), 1.0
    for args in [(-1.0, 1.0), (None, 0.5), (-0.5, None), (lo, hi), (1.0, -1.0)]:
        assert_close(ricci.clip(x, *args).evaluate({x.name: v}), np.clip(v, *args))
    a_min = T((5,))
    assert_close(ricci.clip(x, a_min, 2.0).evaluate({x.name: v, a_min.name: lo}), np.clip(v, lo, 2.0))


def test_clip_derivatives(rng):
    x = T((6,))
    v = np.array([-3.0, -0.5, 0.2, 0.9, 4.0, 1.0])
    g = ricci.grad(ricci.sum(ricci.clip(x, -1.0, 1.0)), x).evaluate({x.name: v})
    assert_close(g, [0.0, 1.0, 1.0, 1.0, 0.0, 0.5])  # ½ on a bound, as JAX
    inner = v[:5]
    y = T((5,))

    def ref(d):
        return np.clip(d[y.name], -1.0, 1.0) ** 2

    check_derivative("jacobian", ricci.clip(y, -1.0, 1.0) ** 2, ref, {y.name: inner}, y, y.name, rng)


def test_clip_needs_a_bound():
    with pytest.raises(ricci.ArgumentError, match="a_min or a_max"):
        ricci.clip(T((3,)), None, None)
