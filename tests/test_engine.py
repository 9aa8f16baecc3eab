"""The compiled engine's own mechanisms: step mode, shared pairwise products, in-place
updates, planner options, wide networks. Expected values come from numpy."""
import itertools

import numpy as np
import opt_einsum
import pytest

import ricci
from ricci.engine import emit
from ricci.expr import contract

_ids = itertools.count()


def T(shape, prefix="e"):
    return ricci.Tensor(f"{prefix}{next(_ids)}", shape)


def rnn(steps, hidden=5, batch=3):
    W, U, h0 = T((hidden, hidden), "W"), T((hidden, 2), "U"), T((hidden, batch), "h")
    xs = [T((2, batch), "x") for _ in range(steps)]
    h = h0
    for x in xs:
        h = ricci.tanh(ricci.einsum("ij,jb->ib", W, h) + ricci.einsum("ij,jb->ib", U, x))
    return W, U, h0, xs, ricci.einsum("ib,ib->", h, h)


def rnn_numpy(W, U, h0, xs):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(W @ hs[-1] + U @ x))
    dW, dU, delta = np.zeros_like(W), np.zeros_like(U), 2 * hs[-1]
    for t in range(len(xs), 0, -1):
        delta = delta * (1 - hs[t] ** 2)
        dW += delta @ hs[t - 1].T
        dU += delta @ xs[t - 1].T
        delta = W.T @ delta
    return dW, dU


@pytest.mark.parametrize("limit", [None, 0])
def test_unrolled_rnn_gradients_straight_line_and_as_steps(monkeypatch, limit):
    if limit is not None:
        monkeypatch.setattr(emit, "STRAIGHT_LINE_LIMIT", limit)
    W, U, h0, xs, L = rnn(7)
    rng = np.random.default_rng(0)
    vals = {W.name: rng.normal(size=W.shape) / 2, U.name: rng.normal(size=U.shape), h0.name: rng.normal(size=h0.shape)}
    vals.update({x.name: rng.normal(size=x.shape) for x in xs})
    f = ricci.compile(ricci.grad(L, [W, U]))
    got = f(vals)
    ref = rnn_numpy(vals[W.name], vals[U.name], vals[h0.name], [vals[x.name] for x in xs])
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    again = f(vals)  # a second call sees the same inputs: nothing was overwritten in place
    for a, b in zip(again, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert all(np.shares_memory(a, v) is False for a in got for v in vals.values())


def test_shared_pairwise_product_is_computed_once_and_not_corrupted():
    # (a ⊙ b) feeds two networks; one of them is scaled, which must not touch the other
    a, b, c, d = T((4, 3)), T((4, 3)), T((3, 2)), T((3, 5))
    p = ricci.einsum("ij,ij,jk->ik", a, b, c)
    q = 3.0 * ricci.einsum("ij,ij,jk->ik", a, b, d)
    rng = np.random.default_rng(1)
    vals = {t.name: rng.normal(size=t.shape) for t in (a, b, c, d)}
    f = ricci.compile([p, q])
    assert f.source.count(" * ") <= 2, f.source
    got = f(vals)
    A, B, C, D = (vals[t.name] for t in (a, b, c, d))
    np.testing.assert_allclose(got[0], (A * B) @ C)
    np.testing.assert_allclose(got[1], 3.0 * ((A * B) @ D))


def test_sum_with_a_common_coefficient_and_integer_terms():
    x, y, z = T((3,)), T((3,)), T((3,))
    e = 2 * (x * y) + 2 * (y * z) + 2 * (x * z)
    vals = {x.name: np.array([1, 2, 3]), y.name: np.array([4, 5, 6]), z.name: np.array([7, 8, 9])}
    got = e.evaluate(vals)
    X, Y, Z = vals[x.name], vals[y.name], vals[z.name]
    ref = 2 * (X * Y) + 2 * (Y * Z) + 2 * (X * Z)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_a_3000_factor_ring_and_all_its_gradients():
    n = 3000
    Ms = [T((2, 2), "R") for _ in range(n)]
    ring = contract((), [(M, (i, (i + 1) % n)) for i, M in enumerate(Ms)])
    rng = np.random.default_rng(2)
    mats = [np.eye(2) + 0.01 * rng.normal(size=(2, 2)) for _ in range(n)]
    vals = {M.name: m for M, m in zip(Ms, mats)}
    prod = np.eye(2)
    for m in mats:
        prod = prod @ m
    np.testing.assert_allclose(ring.evaluate(vals), np.trace(prod), rtol=1e-9)
    g0 = ricci.evaluate(ricci.grad(ring, Ms[:2]), vals)
    rest = np.eye(2)
    for m in mats[1:]:
        rest = rest @ m
    np.testing.assert_allclose(g0[0], rest.T, rtol=1e-9)


def test_many_labels_and_operands_never_reach_numpy_einsum_whole():
    n = 80  # 81 labels: beyond einsum's 52 letters
    vs = [T((2,)) for _ in range(n)]
    e = contract(tuple(range(n)), [(v, (i,)) for i, v in enumerate(vs)])  # an 80-way outer product...
    e = contract((), [(e, tuple(range(n)))] + [(v, (i,)) for i, v in enumerate(vs)])  # ...contracted back
    vals = {v.name: np.array([0.5, 1.0]) for v in vs}
    np.testing.assert_allclose(e.evaluate(vals), 1.25 ** n, rtol=1e-12)
    assert "einsum(" not in ricci.compile(e).source or all(
        line.count(",") <= 1 for line in ricci.compile(e).source.splitlines() if "einsum(" in line)


@pytest.mark.parametrize("optimize", ["auto", "greedy", "dp", "optimal", "random-greedy",
                                      opt_einsum.RandomGreedy(max_repeats=4)])
def test_planner_options_agree_with_numpy(optimize):
    shapes = {"a": 3, "b": 4, "c": 5, "d": 2, "e": 3}
    spec = "ab,bc,cd,de,ea->"
    ts = [T(tuple(shapes[ch] for ch in term)) for term in spec.split("->")[0].split(",")]
    rng = np.random.default_rng(3)
    arrs = [rng.normal(size=t.shape) for t in ts]
    e = ricci.einsum(spec, *ts)
    got = e.evaluate({t.name: a for t, a in zip(ts, arrs)}, optimize=optimize)
    np.testing.assert_allclose(got, np.einsum(spec, *arrs), rtol=1e-12)


def test_cotengra_optimizer_when_installed():
    cotengra = pytest.importorskip("cotengra", reason="cotengra is an optional extra: pip install 'ricci[cotengra]'")
    Ms = [T((3, 3), "C") for _ in range(6)]
    e = contract((), [(M, (i, (i + 1) % 6)) for i, M in enumerate(Ms)])
    vals = {M.name: 2 * np.eye(3) for M in Ms}
    assert float(e.evaluate(vals, optimize="cotengra")) == pytest.approx(3 * 64)
    opt = cotengra.HyperOptimizer(max_repeats=4, progbar=False, parallel=False)  # no fork: jax may be loaded
    assert float(e.evaluate(vals, optimize=opt)) == pytest.approx(3 * 64)


def test_unknown_optimizer_names_the_choices():
    x = T((2,))
    with pytest.raises(ricci.ArgumentError, match="greedy"):
        ricci.compile(x, optimize="fastest")


def test_singular_inverse_names_the_operand():
    X = T((2, 2), "Sing")
    with pytest.raises(ricci.SingularMatrixError, match=X.name) as info:
        ricci.inv(X).evaluate({X.name: np.zeros((2, 2))})
    assert isinstance(info.value, np.linalg.LinAlgError)


def test_repeated_evaluate_of_one_expression_returns_an_array_each_time():
    x = T((3,))
    e = ricci.einsum("i,i->", x, x)
    vals = {x.name: np.array([1.0, 2.0, 3.0])}
    first, second = e.evaluate(vals), e.evaluate(vals)  # the second takes evaluate's fast path
    for got in (first, second, e(**vals), ricci.evaluate(e, vals)):
        assert isinstance(got, np.ndarray) and got.shape == () and float(got) == 14.0
    assert ricci.evaluate([e], vals)[0] == 14.0 and isinstance(ricci.evaluate([e], vals), list)
