"""Thread safety (issue 8): concurrent construction must intern to identical nodes, and
concurrent evaluation / compilation must give correct results.

Expected values come from numpy; the threads are lined up with a Barrier and the
interpreter's switch interval is shortened so that their work overlaps as much as
possible.
"""
import sys
import threading

import numpy as np
import pytest

import ricci
from conftest import fresh_name

N_THREADS = 8
ROUNDS = 40


@pytest.fixture
def busy_switching():
    """Make the interpreter switch threads very often, to expose races."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(target, n=N_THREADS):
    """Run ``target(thread_index, barrier)`` in n threads; re-raise the first exception."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def work(i):
        try:
            results[i] = target(i, barrier)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def rnn_cell(prefix, n_c=3, n_x=2, m=4, G=None):
    """c = tanh(W_c c_prev + W_x x + b 1ᵀ), L = Σ c ⊙ G; returns (L, tensors, dL/dW_x, dL/db)."""
    W_c = ricci.Tensor(prefix + "W_c", (n_c, n_c))
    W_x = ricci.Tensor(prefix + "W_x", (n_c, n_x))
    c_prev = ricci.Tensor(prefix + "c_prev", (n_c, m))
    x = ricci.Tensor(prefix + "x", (n_x, m))
    b = ricci.Tensor(prefix + "b", (n_c,))
    u = W_c @ c_prev + W_x @ x + ricci.einsum("i,b->ib", b, np.ones(m))
    c = ricci.tanh(u)
    L = ricci.einsum("ib,ib->", c, G)
    gWx, gb = ricci.grad(L, [W_x, b])
    return L, (W_c, W_x, c_prev, x, b), c, gWx, gb


def rnn_numpy(v, G):
    c = np.tanh(v["W_c"] @ v["c_prev"] + v["W_x"] @ v["x"] + v["b"][:, None])
    du = G * (1 - c**2)
    return float(np.sum(c * G)), du @ v["x"].T, du.sum(axis=1)


def rnn_inputs(prefix, rng, n_c=3, n_x=2, m=4):
    v = {
        "W_c": rng.normal(size=(n_c, n_c)),
        "W_x": rng.normal(size=(n_c, n_x)),
        "c_prev": rng.normal(size=(n_c, m)),
        "x": rng.normal(size=(n_x, m)),
        "b": rng.normal(size=n_c),
    }
    return v, {prefix + k: a for k, a in v.items()}


def test_concurrent_construction_gives_identical_nodes_and_correct_gradients(busy_switching):
    G = np.random.default_rng(1).normal(size=(3, 4))
    prefixes = [fresh_name("thr") + "_" for _ in range(ROUNDS)]

    def target(i, barrier):
        built = []
        for prefix in prefixes:
            barrier.wait()  # every thread builds the same fresh expression at the same moment
            L, tensors, c, gWx, gb = rnn_cell(prefix, G=G)
            built.append((L, tensors, c, gWx, gb))
        return built

    results = run_threads(target)
    rng = np.random.default_rng(2)
    for r, prefix in enumerate(prefixes):
        first = results[0][r]
        for t in range(1, N_THREADS):
            other = results[t][r]
            for a, b in zip(first[1], other[1]):
                assert a is b, f"round {r}: thread {t} got a second Tensor {b.name!r}"
            for what, a, b in [("L", first[0], other[0]), ("c", first[2], other[2]),
                               ("dL/dW_x", first[3], other[3]), ("dL/db", first[4], other[4])]:
                assert a is b, f"round {r}: thread {t} built a duplicate node for {what}"
        # the gradients are right (a duplicate interned Tensor once gave a silently zero gradient)
        if r % 8 == 0:
            v, inputs = rnn_inputs(prefix, rng)
            L_ref, gWx_ref, gb_ref = rnn_numpy(v, G)
            for t in range(N_THREADS):
                L, _, _, gWx, gb = results[t][r]
                got = ricci.evaluate([L, gWx, gb], inputs)
                np.testing.assert_allclose(got[0], L_ref, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(got[1], gWx_ref, rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(got[2], gb_ref, rtol=1e-10, atol=1e-12)


def test_concurrent_construction_of_tensors_and_constants_interns_once(busy_switching):
    """Leaves and small products: Tensor(name, shape), Constant(array), x + x, x * 2."""
    names = [fresh_name("leaf") for _ in range(ROUNDS)]

    def target(i, barrier):
        out = []
        for name in names:
            barrier.wait()
            x = ricci.Tensor(name, (5,))
            k = ricci.Constant(np.arange(5.0) + len(name))
            out.append((x, k, x + x, 2 * x, ricci.einsum("i,i->", x, k), ricci.grad(ricci.einsum("i,i->", x, x), x)))
        return out

    results = run_threads(target)
    for r in range(ROUNDS):
        for t in range(1, N_THREADS):
            for a, b in zip(results[0][r], results[t][r]):
                assert a is b, f"round {r}, thread {t}: duplicate node {b!r}"
        x, k, xx, x2, dot, g = results[0][r]
        assert xx is x2
        xv = np.linspace(-1, 1, 5)
        np.testing.assert_allclose(g.evaluate({x.name: xv}), 2 * xv)


def test_concurrent_gradients_of_one_shared_expression(busy_switching):
    """Deriving the same gradient of one shared expression from 8 threads gives one node."""
    prefix = fresh_name("shared") + "_"
    G = np.random.default_rng(3).normal(size=(3, 4))
    L, tensors, c, _, _ = rnn_cell(prefix, G=G)
    W_c, W_x, c_prev, x, b = tensors

    def target(i, barrier):
        out = []
        for _ in range(ROUNDS):
            barrier.wait()
            out.append(tuple(ricci.grad(L, [W_c, W_x, c_prev, x, b])))
        return out

    results = run_threads(target)
    reference = results[0][0]
    for t in range(N_THREADS):
        for r in range(ROUNDS):
            for a, b_ in zip(reference, results[t][r]):
                assert a is b_


def test_concurrent_evaluation_of_one_expression():
    prefix = fresh_name("evalthr") + "_"
    G = np.random.default_rng(4).normal(size=(3, 4))
    L, tensors, c, gWx, gb = rnn_cell(prefix, G=G)
    rngs = [np.random.default_rng(100 + i) for i in range(N_THREADS)]
    cases = [[rnn_inputs(prefix, rng) for _ in range(ROUNDS)] for rng in rngs]

    def target(i, barrier):
        got = []
        barrier.wait()
        for v, inputs in cases[i]:
            got.append(ricci.evaluate([L, gWx, gb], inputs))
        return got

    results = run_threads(target)
    for i in range(N_THREADS):
        for (v, inputs), got in zip(cases[i], results[i]):
            L_ref, gWx_ref, gb_ref = rnn_numpy(v, G)
            np.testing.assert_allclose(got[0], L_ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got[1], gWx_ref, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got[2], gb_ref, rtol=1e-10, atol=1e-12)


def test_concurrent_evaluation_of_fresh_expressions_with_budget_and_optimizers(busy_switching):
    """Plans, program caches and the budget under concurrent first evaluations."""
    def target(i, barrier):
        rng = np.random.default_rng(200 + i)
        out = []
        for r in range(ROUNDS // 4):
            barrier.wait()
            n = 3 + (r % 3)
            A = ricci.Tensor(fresh_name("A"), (n, n))
            B = ricci.Tensor(fresh_name("B"), (n, n))
            y = ricci.einsum("ij,jk,kl->il", A, B, A)
            a, bm = rng.normal(size=(n, n)), rng.normal(size=(n, n))
            opt = ["auto", "greedy", "optimal"][r % 3]
            got = ricci.evaluate(ricci.grad(ricci.einsum("il->", ricci.tanh(y)), A), {A.name: a, B.name: bm},
                                 optimize=opt, memory_budget=2**20)
            s = 1 - np.tanh(a @ bm @ a) ** 2
            expected = s @ (bm @ a).T + (a @ bm).T @ s
            out.append((got, expected))
        return out

    for per_thread in run_threads(target):
        for got, expected in per_thread:
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_concurrent_calls_of_one_compiled_function():
    prefix = fresh_name("compthr") + "_"
    G = np.random.default_rng(5).normal(size=(3, 4))
    L, tensors, c, gWx, gb = rnn_cell(prefix, G=G)
    f = ricci.compile([L, gWx, gb])
    rngs = [np.random.default_rng(300 + i) for i in range(N_THREADS)]
    cases = [[rnn_inputs(prefix, rng) for _ in range(ROUNDS)] for rng in rngs]

    def target(i, barrier):
        barrier.wait()
        return [f(inputs) for v, inputs in cases[i]]

    results = run_threads(target)
    for i in range(N_THREADS):
        for (v, inputs), got in zip(cases[i], results[i]):
            L_ref, gWx_ref, gb_ref = rnn_numpy(v, G)
            np.testing.assert_allclose(got[0], L_ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got[1], gWx_ref, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got[2], gb_ref, rtol=1e-10, atol=1e-12)


def test_concurrent_compile_of_the_same_expression(busy_switching):
    prefix = fresh_name("compile8") + "_"
    G = np.random.default_rng(6).normal(size=(3, 4))
    L, tensors, c, gWx, gb = rnn_cell(prefix, G=G)
    v, inputs = rnn_inputs(prefix, np.random.default_rng(7))
    L_ref, gWx_ref, gb_ref = rnn_numpy(v, G)

    def target(i, barrier):
        barrier.wait()
        f = ricci.compile([L, gWx, gb])
        return f, f(inputs), f(**inputs)

    results = run_threads(target)
    sources = {f.source for f, _, _ in results}
    assert len(sources) == 1, "compiling one expression concurrently gave different programs"
    for f, got, got_kw in results:
        for values in (got, got_kw):
            np.testing.assert_allclose(values[0], L_ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(values[1], gWx_ref, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(values[2], gb_ref, rtol=1e-10, atol=1e-12)
