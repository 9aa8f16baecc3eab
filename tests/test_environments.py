"""All cotangents of a network through a planned pairwise tree (ricci.environments).

Costs are compared with the forward's planned FLOPs; values with numpy
computations written out here and with central finite differences, never
with ricci itself.
"""
import gc
import inspect
import string
import sys
import threading

import numpy as np
import pytest

import ricci
import ricci.environments as env
from ricci.derivatives import _provenance, derived_wrt, is_jacobian
from ricci.expr import Contract, Delta, contract

LETTERS = string.ascii_letters


def _names(tag, n):
    return [f"env_{tag}_{i}" for i in range(n)]


def ring(n, d=4, tag="ring"):
    Ms = [ricci.Tensor(name, (d, d)) for name in _names(f"{tag}{n}_{d}", n)]
    return contract((), [(M, (i, (i + 1) % n)) for i, M in enumerate(Ms)]), Ms


def chain(n, d=4, fixed_ends=False, tag="chain"):
    """An open chain: vectors at both ends (variables, or fixed constants)."""
    names = _names(f"{tag}{n}_{d}_{fixed_ends}", n)
    if fixed_ends:
        Ms = [ricci.Tensor(name, (d, d)) for name in names]
        rng = np.random.default_rng(n)
        factors = [(rng.normal(size=d), (0,))] + [(M, (i, i + 1)) for i, M in enumerate(Ms)]
        factors.append((rng.normal(size=d), (n,)))
        return contract((), factors), Ms
    Ms = [ricci.Tensor(names[0], (d,))] + [ricci.Tensor(name, (d, d)) for name in names[1:-1]]
    Ms.append(ricci.Tensor(names[-1], (d,)))
    factors = [(Ms[0], (0,))] + [(M, (i, i + 1)) for i, M in enumerate(Ms[1:-1])] + [(Ms[-1], (n - 2,))]
    return contract((), factors), Ms


@pytest.fixture
def force_tree(monkeypatch):
    """Take the tree whenever two or more factors are needed (no cost comparison)."""
    monkeypatch.setattr(env, "MIN_FACTORS", 2)
    monkeypatch.setattr(env, "COMPARE_LIMIT", -1)


@pytest.fixture
def force_separate(monkeypatch):
    monkeypatch.setattr(env, "MIN_FACTORS", 10**9)


# ---------------------------------------------------------------------------
# cost: all N gradients for at most 3 forward passes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [8, 16, 32, 64, 128, 256])
@pytest.mark.parametrize("kind", ["ring", "chain", "chain with fixed ends"])
def test_all_gradients_cost_at_most_three_forwards(kind, n):
    L, Ms = ring(n) if kind == "ring" else chain(n, fixed_ends=kind != "chain")
    forward = ricci.cost([L]).flops
    grads = ricci.grad(L, Ms)
    assert ricci.cost(grads).flops <= 3 * forward


def test_separate_environments_would_cost_n_forwards(force_separate):
    # the test above can fail: without the tree the same gradients cost ~N forwards
    L, Ms = ring(16, tag="sep")
    assert ricci.cost(ricci.grad(L, Ms)).flops > 8 * ricci.cost([L]).flops


def test_one_needed_factor_keeps_the_whole_environment():
    L, Ms = ring(6, tag="one")
    g = ricci.grad(L, Ms[2])
    assert isinstance(g, Contract) and len(g.factors) == 5  # one network of the 5 other matrices


def test_small_networks_keep_their_printed_form():
    A, B, C = (ricci.Tensor(f"env_small_{c}", (3, 3)) for c in "ABC")
    L = ricci.einsum("ij,jk,ki->", A, B, C)
    assert all(len(g.factors) == 2 for g in ricci.grad(L, [A, B, C]))


# ---------------------------------------------------------------------------
# values against numpy
# ---------------------------------------------------------------------------
def _product(mats, d):
    out = np.eye(d)
    for m in mats:
        out = out @ m
    return out


def test_ring_gradients_match_numpy():
    n, d = 9, 3
    L, Ms = ring(n, d, tag="val")
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(d, d)) for _ in range(n)]
    got = ricci.evaluate(ricci.grad(L, Ms), {M.name: a for M, a in zip(Ms, arrays)})
    for i, g in enumerate(got):  # d tr(M_i R) / dM_i = Rᵀ, R the product of the others in ring order
        rest = arrays[i + 1:] + arrays[:i]
        np.testing.assert_allclose(g, _product(rest, d).T, rtol=1e-12)


def test_chain_gradients_match_numpy():
    n, d = 10, 3
    L, Ms = chain(n, d, tag="val")
    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=M.shape) for M in Ms]
    got = ricci.evaluate(ricci.grad(L, Ms), {M.name: a for M, a in zip(Ms, arrays)})
    mats = arrays[1:-1]
    left = [arrays[0]]
    for m in mats:
        left.append(left[-1] @ m)
    right = [arrays[-1]]
    for m in reversed(mats):
        right.append(m @ right[-1])
    right.reverse()  # right[j] = M_{j+1} ... vN
    np.testing.assert_allclose(got[0], right[0], rtol=1e-12)
    np.testing.assert_allclose(got[-1], left[-1], rtol=1e-12)
    for j in range(len(mats)):
        np.testing.assert_allclose(got[j + 1], np.outer(left[j], right[j + 1]), rtol=1e-12)


def test_a_deep_ring_derives_without_recursion(force_tree):
    L, Ms = ring(600, 2, tag="deep")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 120)
    try:
        grads = ricci.grad(L, Ms)
    finally:
        sys.setrecursionlimit(old)
    assert len(grads) == 600


# ---------------------------------------------------------------------------
# random hypergraphs: repeated variables, hyperedges, traces, broadcasts, scalars, deltas
# ---------------------------------------------------------------------------
def random_network(seed):
    """A random contraction; returns (expr, variables, numpy function of the arrays by name)."""
    rng = np.random.default_rng(seed)
    tag = f"rand{seed}"
    n_labels = int(rng.integers(3, 9))
    sizes = [int(s) for s in rng.integers(2, 4, size=n_labels)]
    by_size = {}
    for lab, s in enumerate(sizes):
        by_size.setdefault(s, []).append(lab)
    variables = []
    for v in range(int(rng.integers(2, 5))):
        ndim = int(rng.integers(0, 4))
        shape = tuple(sizes[int(rng.integers(n_labels))] for _ in range(ndim))
        variables.append(ricci.Tensor(f"env_{tag}_{v}", shape))
    factors = []
    for _ in range(int(rng.integers(3, 13))):
        var = variables[int(rng.integers(len(variables)))]
        labels = tuple(int(rng.choice(by_size[s])) for s in var.shape)  # may repeat: traces, diagonals
        factors.append((var, labels))
    carried = sorted({lab for _, labs in factors for lab in labs})
    out = [lab for lab in carried if rng.random() < 0.3]
    broadcast = []
    if rng.random() < 0.3:  # an output index no factor carries
        broadcast = [n_labels]
        sizes.append(2)
    deltas = []
    pairs = [(a, b) for a in out for b in out if a < b and sizes[a] == sizes[b]]
    if pairs and rng.random() < 0.3:
        a, b = pairs[int(rng.integers(len(pairs)))]
        deltas = [(a, b)]
    out = tuple(out + broadcast)
    expr = contract(
        out, factors + [(Delta(sizes[a]), (a, b)) for a, b in deltas], {lab: sizes[lab] for lab in broadcast}
    )
    spec_in = [labs for _, labs in factors] + deltas
    present = tuple(lab for lab in out if lab not in broadcast)
    spec = ",".join("".join(LETTERS[lab] for lab in labs) for labs in spec_in) + "->"
    spec += "".join(LETTERS[lab] for lab in present)
    out_shape = tuple(sizes[lab] for lab in out)

    def numpy_value(arrays):
        ops = [arrays[v.name] for v, _ in factors] + [np.eye(sizes[a]) for a, _ in deltas]
        value = np.einsum(spec, *ops)
        for axis, lab in enumerate(out):
            if lab in broadcast:
                value = np.expand_dims(value, axis)
        return np.broadcast_to(value, out_shape)

    return expr, variables, numpy_value


def finite_difference_vjp(f, arrays, cotangent, name, h=1e-4):
    """Central differences of Σ cotangent ⊙ f, one element of ``arrays[name]`` at a time."""
    base = arrays[name]
    grad = np.zeros(base.shape)
    for idx in np.ndindex(*base.shape):
        plus, minus = dict(arrays), dict(arrays)
        plus[name], minus[name] = base.copy(), base.copy()
        plus[name][idx] += h
        minus[name][idx] -= h
        grad[idx] = (np.sum(cotangent * f(plus)) - np.sum(cotangent * f(minus))) / (2 * h)
    return grad


@pytest.mark.parametrize("mode", ["tree", "chosen by cost"])
@pytest.mark.parametrize("seed", range(40))
def test_random_networks_vjp_matches_finite_differences(seed, mode, monkeypatch):
    if mode == "tree":
        monkeypatch.setattr(env, "MIN_FACTORS", 2)
        monkeypatch.setattr(env, "COMPARE_LIMIT", -1)
    expr, variables, f = random_network(seed)
    rng = np.random.default_rng(1000 + seed)
    arrays = {v.name: rng.uniform(-1, 1, v.shape) for v in variables}
    cotangent = rng.uniform(-1, 1, expr.shape)
    np.testing.assert_allclose(ricci.evaluate(expr, arrays), f(arrays), rtol=1e-10, atol=1e-12)
    got = ricci.evaluate(ricci.vjp(expr, variables, cotangent), arrays)
    for v, g in zip(variables, got):
        expected = finite_difference_vjp(f, arrays, cotangent, v.name)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7 * (1 + np.max(np.abs(expected))))


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_jacobian_matches_finite_differences(seed, force_tree):
    expr, variables, f = random_network(seed)
    rng = np.random.default_rng(2000 + seed)
    arrays = {v.name: rng.uniform(-1, 1, v.shape) for v in variables}
    jacobians = ricci.evaluate(ricci.jacobian(expr, variables), arrays)
    for v, jac in zip(variables, jacobians):
        assert jac.shape == expr.shape + v.shape
        for out_idx in np.ndindex(*expr.shape):
            e = np.zeros(expr.shape)
            e[out_idx] = 1.0
            expected = finite_difference_vjp(f, arrays, e, v.name)
            np.testing.assert_allclose(jac[out_idx], expected, rtol=1e-6, atol=1e-7 * (1 + np.max(np.abs(expected))))


def test_hessian_blocks_of_a_ring_match_numpy(force_tree):
    n, d = 6, 2
    L, Ms = ring(n, d, tag="hess")
    rng = np.random.default_rng(5)
    arrays = [rng.normal(size=(d, d)) for _ in range(n)]
    inputs = {M.name: a for M, a in zip(Ms, arrays)}
    hessians = ricci.evaluate([ricci.hessian(L, Ms[0], M) for M in Ms], inputs)

    def grad0(mats):  # d tr(M0 M1 ... M5) / dM0 = (M1 ... M5)ᵀ, differentiated numerically below
        return _product(mats[1:], d).T

    h = 1e-5
    for j, H in enumerate(hessians):
        expected = np.zeros((d, d, d, d))
        for idx in np.ndindex(d, d):
            plus, minus = list(arrays), list(arrays)
            plus[j], minus[j] = arrays[j].copy(), arrays[j].copy()
            plus[j][idx] += h
            minus[j][idx] -= h
            expected[(...,) + idx] = (grad0(plus) - grad0(minus)) / (2 * h)
        np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n", [5, 12])
def test_jacobians_through_a_network_do_not_get_dearer(n, monkeypatch):
    Ms = [ricci.Tensor(name, (3, 3)) for name in _names("jaccost", n)]
    y = contract((0, n), [(M, (i, i + 1)) for i, M in enumerate(Ms)])
    chosen = ricci.cost(ricci.jacobian(y, Ms)).flops
    monkeypatch.setattr(env, "MIN_FACTORS", 10**9)
    assert chosen <= ricci.cost(ricci.jacobian(y, Ms)).flops


# ---------------------------------------------------------------------------
# provenance: what a result was derived for
# ---------------------------------------------------------------------------
def test_provenance_names_each_results_own_variables():
    x, y = ricci.Tensor("env_prov_x", (3,)), ricci.Tensor("env_prov_y", (3,))
    L = ricci.einsum("i,i->", ricci.sin(x), ricci.tanh(y))
    gx, gy = ricci.grad(L, [x, y])
    assert derived_wrt(gx) == {"env_prov_x"} and derived_wrt(gy) == {"env_prov_y"}
    assert not is_jacobian(gx)
    assert derived_wrt(L) == frozenset() and not is_jacobian(L)
    assert derived_wrt(ricci.vjp(ricci.sin(x), x, np.ones(3))) == {"env_prov_x"}
    assert derived_wrt(ricci.jvp(ricci.sin(x), x, np.ones(3))) == {"env_prov_x"}
    J = ricci.jacobian(ricci.sin(x), x)
    assert is_jacobian(J) and derived_wrt(J) == {"env_prov_x"}
    H = ricci.hessian(L, x, y)
    assert is_jacobian(H) and derived_wrt(H) == {"env_prov_x", "env_prov_y"}
    hv = ricci.hvp(L, x, np.ones(3))
    assert not is_jacobian(hv) and derived_wrt(hv) == {"env_prov_x"}


def test_provenance_unions_over_calls_and_is_weak():
    a, b = ricci.Tensor("env_prov_a", (2,)), ricci.Tensor("env_prov_b", (2,))
    w = ricci.Tensor("env_prov_w", (2,))
    g1 = ricci.grad(ricci.einsum("i,i->", a, w), a)  # = w
    g2 = ricci.grad(ricci.einsum("i,i->", b, w), b)  # = w again: one interned node
    assert g1 is g2 is w
    assert derived_wrt(w) == {"env_prov_a", "env_prov_b"}
    before = len(_provenance)
    z = ricci.Tensor("env_prov_z", (2,))
    g = ricci.grad(ricci.einsum("i,i->", ricci.exp(z), ricci.exp(z)), z)
    assert len(_provenance) == before + 1
    del g
    gc.collect()
    assert len(_provenance) == before


def test_provenance_is_thread_safe():
    x = ricci.Tensor("env_prov_t", (2,))
    tensors = [ricci.Tensor(f"env_prov_t{i}", (2,)) for i in range(8)]
    s = ricci.sin(x)  # held, so every thread's result is this one node

    def work(t):
        for _ in range(50):
            ricci.grad(ricci.einsum("i,i->", ricci.sin(x), t), t)  # = sin(x), registered for t

    threads = [threading.Thread(target=work, args=(t,)) for t in tensors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert derived_wrt(s) == {t.name for t in tensors}


# ---------------------------------------------------------------------------
# large: many factors, more labels than einsum letters
# ---------------------------------------------------------------------------
def test_large_network_all_gradients_match_opt_einsum():
    import opt_einsum

    rng = np.random.default_rng(7)
    n_factors, n_labels = 90, 120
    shapes, factors_labels = [], []
    for i in range(n_factors):  # local windows keep the network thin (a low treewidth)
        start = int(i * (n_labels - 4) / n_factors)
        window = list(range(start, start + 4))
        labels = tuple(sorted(rng.choice(window, size=int(rng.integers(1, 4)), replace=False)))
        factors_labels.append(labels)
        shapes.append((2,) * len(labels))
    carried = sorted({lab for labs in factors_labels for lab in labs})
    out = tuple(carried[:: len(carried) // 3][:3])
    Ts = [ricci.Tensor(f"env_large_{i}", s) for i, s in enumerate(shapes)]
    expr = contract(out, list(zip(Ts, factors_labels)))
    arrays = [rng.uniform(-1, 1, s) for s in shapes]
    cot = rng.uniform(-1, 1, expr.shape)
    got = ricci.evaluate(ricci.vjp(expr, Ts, cot), {T.name: a for T, a in zip(Ts, arrays)})
    sym = {lab: opt_einsum.get_symbol(i) for i, lab in enumerate(carried)}
    for p, g in enumerate(got):
        operands = [a for j, a in enumerate(arrays) if j != p] + [cot]
        subs = [labs for j, labs in enumerate(factors_labels) if j != p] + [out]
        spec = ",".join("".join(sym[lab] for lab in labs) for labs in subs)
        elsewhere = {lab for labs in subs for lab in labs}
        present = [lab for lab in factors_labels[p] if lab in elsewhere]  # the rest: summed by p alone
        spec += "->" + "".join(sym[lab] for lab in present)
        expected = opt_einsum.contract(spec, *operands, optimize="greedy")
        for axis, lab in enumerate(factors_labels[p]):
            if lab not in elsewhere:
                expected = np.expand_dims(expected, axis)
        expected = np.broadcast_to(expected, shapes[p])
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)
