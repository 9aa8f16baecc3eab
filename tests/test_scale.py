"""Property tests at scale (issue 8): many operands, many labels, deep chains.

Everything is checked against independent references: opt_einsum.contract with
a greedy path (never ricci), central finite differences in float64, closed
forms, and hand-written numpy forward/backward passes.

- random connected tensor networks of 40-200 operands with more than 52
  distinct labels (tiny dimensions 1-3), forward and gradients w.r.t. several
  operands;
- a 64-operand einsum, 60 nested 1x1 products;
- chains thousands of layers deep: h = tanh(W_i @ h) for 3,000 layers,
  gradients w.r.t. h0 and all W_i against a numpy backward pass;
- the exact reproductions from the issue (31-layer tanh MLP, 8-layer
  width-256 MLP);
- str / repr / to_latex / to_dot / cost / evaluate / jacobian of ~3,000
  nested contractions under the default recursion limit.
"""
import contextlib
import sys

import numpy as np
import opt_einsum as oe
import pytest

import ricci
from conftest import fresh_name

SEED = 80_808
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.fixture
def default_recursion_limit():
    """Run the test under CPython's default recursion limit (1000)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@contextlib.contextmanager
def no_recursion(what):
    """Turn a RecursionError into a short failure (formatting its 1,000-frame traceback
    with pytest's long style takes minutes)."""
    try:
        yield
    except RecursionError as exc:
        pytest.fail(f"{what} raised RecursionError: {exc}", pytrace=False)


# ---------------------------------------------------------------------------
# random tensor networks
# ---------------------------------------------------------------------------
class Network:
    """A random connected network: operand i carries labels ``labels[i]`` (ints)."""

    def __init__(self, labels, dims, out, arrays):
        self.labels, self.dims, self.out, self.arrays = labels, dims, out, arrays

    @property
    def n_labels(self):
        return len({lab for labs in self.labels for lab in labs})

    def interleaved(self, arrays=None, drop=None, extra=()):
        args = []
        for i, (a, labs) in enumerate(zip(self.arrays if arrays is None else arrays, self.labels)):
            if i != drop:
                args += [a, list(labs)]
        for a, labs in extra:
            args += [a, list(labs)]
        return args

    def reference(self, arrays=None):
        """The forward value by opt_einsum (greedy), not ricci."""
        return oe.contract(*self.interleaved(arrays), list(self.out), optimize="greedy")

    def abs_reference(self):
        """The same network over |operands|: a bound on every partial sum (for tolerances)."""
        return self.reference([np.abs(a) for a in self.arrays])

    def environment(self, k, cotangent, arrays=None):
        """d <network, cotangent> / d operand k, contracted without operand k by opt_einsum."""
        arrays = self.arrays if arrays is None else arrays
        others = {lab for i, labs in enumerate(self.labels) if i != k for lab in labs} | set(self.out)
        extra = [(cotangent, self.out)] if self.out else [(np.asarray(cotangent), [])]
        # a label only operand k carries (summed alone): the environment is constant along it
        extra += [(np.ones(self.dims[lab]), [lab]) for lab in self.labels[k] if lab not in others]
        return oe.contract(*self.interleaved(arrays, drop=k, extra=extra), list(self.labels[k]),
                           optimize="greedy")


def random_network(rng, n_ops, n_free=3, max_rank=5):
    """A random connected network of ``n_ops`` operands, every label on 1-3 operands.

    A random tree (mostly local attachments, some long-range) makes it connected;
    extra edges add cycles, hyperedges join three operands, some labels are free
    (one of them shared by two operands), some are summed on a single operand.
    """
    labels = [[] for _ in range(n_ops)]
    next_label = [0]

    def new_label(ops):
        lab = next_label[0]
        next_label[0] += 1
        for o in ops:
            labels[o].append(lab)
        return lab

    def room(o):
        return len(labels[o]) < max_rank

    for i in range(1, n_ops):
        for _ in range(20):
            lo = 0 if rng.random() < 0.15 else max(0, i - 4)
            parent = int(rng.integers(lo, i))
            if room(parent):
                break
        new_label([i, parent])
    for _ in range(n_ops // 6):  # cycles, mostly local
        i = int(rng.integers(0, n_ops))
        j = int(np.clip(i + rng.integers(-6, 7), 0, n_ops - 1))
        if i != j and room(i) and room(j):
            new_label([i, j])
    for _ in range(max(2, n_ops // 15)):  # hyperedges on three operands
        i = int(rng.integers(0, n_ops - 8))
        trio = sorted({i, i + int(rng.integers(1, 4)), i + int(rng.integers(4, 8))})
        if len(trio) == 3 and all(room(o) for o in trio):
            new_label(trio)
    out = []
    for _ in range(n_free):  # free labels on one operand
        out.append(new_label([int(rng.integers(0, n_ops))]))
    i = int(rng.integers(0, n_ops - 3))  # a free label shared by two operands
    out.append(new_label([i, i + 2]))
    for _ in range(3):  # summed labels carried by one operand only
        new_label([int(rng.integers(0, n_ops))])
    while next_label[0] < 60:  # small networks: more local cycles, to exceed 52 labels
        i = int(rng.integers(0, n_ops - 3))
        j = i + int(rng.integers(1, 4))
        new_label([i, j] if room(i) and room(j) else [i])
    dims = {lab: int(rng.integers(1, 4)) for lab in range(next_label[0])}
    # keep a few free dimensions at 1..2 so the result stays small
    for lab in out:
        dims[lab] = min(dims[lab], 2)
    # positive entries except on two operands: little cancellation, so errors stay visible
    arrays = [rng.uniform(0.25, 1.0, size=tuple(dims[lab] for lab in labs)) for labs in labels]
    for o in rng.choice(n_ops, size=2, replace=False):
        arrays[o] = arrays[o] * rng.choice([-1.0, 1.0], size=arrays[o].shape)
    net = Network([tuple(l) for l in labels], dims, tuple(out), arrays)
    # normalise so the contraction is O(1): scale every operand by the same factor
    scale = float(np.max(net.abs_reference()))
    factor = scale ** (-1.0 / n_ops)
    net.arrays = [a * factor for a in arrays]
    return net


def build_ricci(net, names):
    """The network as nested ricci.einsum calls (each at most 52 letters), following a
    greedy pairwise order; ricci receives it as one nested expression."""
    tensors = [ricci.Tensor(nm, tuple(net.dims[lab] for lab in labs)) for nm, labs in zip(names, net.labels)]
    shapes = [t.shape for t in tensors]
    symbols = {lab: oe.get_symbol(lab) for lab in net.dims}
    eq = ",".join("".join(symbols[l] for l in labs) for labs in net.labels) + "->" + "".join(
        symbols[l] for l in net.out)
    path, _ = oe.contract_path(eq, *shapes, shapes=True, optimize="greedy")
    items = list(zip(tensors, net.labels))
    for step in path:
        picked = [items[i] for i in step]
        items = [it for i, it in enumerate(items) if i not in step]
        needed = {lab for _, labs in items for lab in labs} | set(net.out)
        union = []
        for _, labs in picked:
            union += [lab for lab in labs if lab not in union]
        out = tuple(lab for lab in union if lab in needed)
        assert len(union) <= 52, "test generator: a step needs more than 52 letters"
        letter = {lab: LETTERS[i] for i, lab in enumerate(union)}
        spec = ",".join("".join(letter[l] for l in labs) for _, labs in picked) + "->" + "".join(
            letter[l] for l in out)
        items.append((ricci.einsum(spec, *[e for e, _ in picked]), out))
    (expr, labs), = items
    if tuple(labs) != tuple(net.out):
        letter = {lab: LETTERS[i] for i, lab in enumerate(labs)}
        expr = ricci.einsum("".join(letter[l] for l in labs) + "->" + "".join(letter[l] for l in net.out), expr)
    assert expr.shape == tuple(net.dims[l] for l in net.out)
    return tensors, expr


def assert_within(got, expected, bound, rel=1e-9, what=""):
    """|got - expected| <= rel * bound elementwise (bound: the network over |operands|)."""
    got, expected, bound = np.asarray(got), np.asarray(expected), np.asarray(bound)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = np.abs(got - expected)
    tol = rel * bound + 1e-300
    worst = np.unravel_index(np.argmax(err - tol), err.shape) if err.size else ()
    assert np.all(err <= tol), f"{what}: max error {err[worst]} > tolerance {tol[worst]} at {worst}"


NETWORK_CASES = [(40, 1), (64, 2), (100, 3), (150, 4), (200, 5)]


@pytest.fixture(scope="module", params=NETWORK_CASES, ids=[f"{n}ops-seed{s}" for n, s in NETWORK_CASES])
def network_case(request):
    n_ops, seed = request.param
    rng = np.random.default_rng(SEED + seed)
    net = random_network(rng, n_ops)
    prefix = fresh_name(f"net{n_ops}_")
    names = [f"{prefix}_{i}" for i in range(n_ops)]
    tensors, expr = build_ricci(net, names)
    return net, names, tensors, expr, rng


def test_random_network_generator_is_what_the_issue_asks(network_case):
    """The generated networks themselves: >52 labels, each on 1-3 operands, connected, small."""
    net, names, tensors, expr, rng = network_case
    assert net.n_labels > 52
    count = {}
    for labs in net.labels:
        assert len(set(labs)) == len(labs)
        for lab in labs:
            count[lab] = count.get(lab, 0) + 1
    assert set(count.values()) <= {1, 2, 3} and 3 in count.values() and 1 in count.values()
    # connected: union-find over shared labels
    parent = list(range(len(net.labels)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner = {}
    for i, labs in enumerate(net.labels):
        for lab in labs:
            if lab in owner:
                parent[find(i)] = find(owner[lab])
            owner[lab] = i
    assert len({find(i) for i in range(len(net.labels))}) == 1
    assert np.asarray(net.reference()).size <= 3 ** 4


def test_random_network_forward_matches_opt_einsum(network_case):
    net, names, tensors, expr, rng = network_case
    inputs = dict(zip(names, net.arrays))
    got = ricci.evaluate(expr, inputs)
    expected = net.reference()
    bound = net.abs_reference()
    assert np.max(np.abs(expected)) > 1e-4 * np.max(bound)  # no wholesale cancellation
    assert_within(got, expected, bound, what=f"forward of {len(names)} operands")


def test_random_network_gradients_match_environment_and_fd(network_case):
    net, names, tensors, expr, rng = network_case
    inputs = dict(zip(names, net.arrays))
    G = rng.uniform(-0.5, 1.5, size=expr.shape)
    letters = LETTERS[: expr.ndim]
    L = ricci.einsum(f"{letters},{letters}->", expr, G)
    n = len(names)
    wrt = sorted({0, n // 3, n // 2, n - 1, int(rng.integers(1, n - 1))})
    grads = ricci.grad(L, [tensors[k] for k in wrt])
    got = ricci.evaluate(grads, inputs)
    abs_arrays = [np.abs(a) for a in net.arrays]
    for k, g in zip(wrt, got):
        expected = net.environment(k, G)
        bound = net.environment(k, np.abs(G), abs_arrays)
        assert_within(g, expected, bound, what=f"grad wrt operand {k}")
        # central finite differences of the reference on a few coordinates (h = 1 is exact:
        # the network is linear in each operand, which appears once)
        x0 = net.arrays[k]
        for _ in range(3):
            idx = tuple(int(rng.integers(0, d)) for d in x0.shape)
            plus, minus = list(net.arrays), list(net.arrays)
            e = np.zeros_like(x0)
            e[idx] = 1.0
            plus[k], minus[k] = x0 + e, x0 - e
            fd = (np.sum(net.reference(plus) * G) - np.sum(net.reference(minus) * G)) / 2.0
            assert abs(g[idx] - fd) <= 1e-8 * (bound[idx] + 1.0), (k, idx, g[idx], fd)


# ---------------------------------------------------------------------------
# many operands in one einsum, many nested labels
# ---------------------------------------------------------------------------
def test_64_operand_einsum_forward_and_gradients():
    """One ricci.einsum call with 64 operands: a 50-matrix chain over 51 labels plus
    14 vectors hanging on chain indices (numpy.einsum itself refuses this many)."""
    rng = np.random.default_rng(SEED + 64)
    chain = LETTERS[:51]
    specs = [chain[i] + chain[i + 1] for i in range(50)]
    hang = rng.choice(np.arange(1, 50), size=14, replace=False)
    specs += [chain[j] for j in hang]
    assert len(specs) == 64
    dims = {c: int(rng.integers(1, 4)) for c in chain}
    prefix = fresh_name("op64_")
    names = [f"{prefix}_{i}" for i in range(64)]
    arrays = [rng.uniform(0.5, 1.5, size=tuple(dims[c] for c in s)) / dims[s[-1]] for s in specs]
    tensors = [ricci.Tensor(nm, a.shape) for nm, a in zip(names, arrays)]
    eq = ",".join(specs) + "->" + chain[0] + chain[-1]
    y = ricci.einsum(eq, *tensors)
    inputs = dict(zip(names, arrays))
    expected = oe.contract(eq, *arrays, optimize="greedy")
    np.testing.assert_allclose(ricci.evaluate(y, inputs), expected, rtol=1e-10)
    # gradients of <y, G> w.r.t. a few operands: environments by opt_einsum
    G = rng.uniform(-1, 1, size=y.shape)
    L = ricci.einsum("ab,ab->", y, G)
    wrt = [0, 20, 49, 50, 63]
    got = ricci.evaluate(ricci.grad(L, [tensors[k] for k in wrt]), inputs)
    for k, g in zip(wrt, got):
        rest = [s for i, s in enumerate(specs) if i != k] + [chain[0] + chain[-1]]
        ops = [a for i, a in enumerate(arrays) if i != k] + [G]
        env = oe.contract(",".join(rest) + "->" + specs[k], *ops, optimize="greedy")
        np.testing.assert_allclose(g, env, rtol=1e-9, atol=1e-12 * np.max(np.abs(env)), err_msg=f"operand {k}")


def test_60_nested_1x1_products():
    """60 nested 1x1 matrix products (61 labels after flattening) against the product of scalars."""
    rng = np.random.default_rng(SEED + 53)
    prefix = fresh_name("one_")
    values = rng.uniform(0.8, 1.25, size=61)
    tensors = [ricci.Tensor(f"{prefix}_{i}", (1, 1)) for i in range(61)]
    y = tensors[0]
    for t in tensors[1:]:
        y = ricci.einsum("ij,jk->ik", y, t)
    inputs = {t.name: np.array([[v]]) for t, v in zip(tensors, values)}
    np.testing.assert_allclose(ricci.evaluate(y, inputs), [[np.prod(values)]], rtol=1e-12)
    L = ricci.einsum("ij->", y)
    g = ricci.evaluate(ricci.grad(L, [tensors[0], tensors[30], tensors[60]]), inputs)
    for k, gk in zip([0, 30, 60], g):
        np.testing.assert_allclose(gk, [[np.prod(np.delete(values, k))]], rtol=1e-12)


# ---------------------------------------------------------------------------
# deep chains
# ---------------------------------------------------------------------------
def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def tanh_chain_numpy(Ws, h0):
    """Forward and hand-written backward of L = h_N . h_N, h_{i+1} = tanh(W_i h_i)."""
    hs = [h0]
    for W in Ws:
        hs.append(np.tanh(W @ hs[-1]))
    L = hs[-1] @ hs[-1]
    dh = 2 * hs[-1]
    dWs = [None] * len(Ws)
    for i in reversed(range(len(Ws))):
        du = dh * (1 - hs[i + 1] ** 2)
        dWs[i] = np.outer(du, hs[i])
        dh = Ws[i].T @ du
    return L, dh, dWs


def test_tanh_chain_3000_layers_gradients_wrt_h0_and_all_weights(default_recursion_limit):
    with no_recursion('the 3,000-layer tanh chain'):
        depth, n = 3000, 4
        rng = np.random.default_rng(SEED + 3000)
        prefix = fresh_name("deep_")
        Ws_np = [orthogonal(rng, n) for _ in range(depth)]
        h0_np = rng.uniform(-0.8, 0.8, size=n)
        h0 = ricci.Tensor(f"{prefix}_h0", (n,))
        Ws = [ricci.Tensor(f"{prefix}_W{i}", (n, n)) for i in range(depth)]
        h = h0
        for W in Ws:
            h = ricci.tanh(W @ h)
        L = ricci.einsum("i,i->", h, h)
        grads = ricci.grad(L, [h0] + Ws)
        inputs = {h0.name: h0_np, **{W.name: a for W, a in zip(Ws, Ws_np)}}
        got = ricci.evaluate([L] + grads, inputs)
        L_ref, dh0_ref, dW_ref = tanh_chain_numpy(Ws_np, h0_np)
        assert np.max(np.abs(dh0_ref)) > 1e-8  # orthogonal weights keep the gradient from vanishing
        np.testing.assert_allclose(got[0], L_ref, rtol=1e-10)
        np.testing.assert_allclose(got[1], dh0_ref, rtol=1e-8, atol=1e-10 * np.max(np.abs(dh0_ref)))
        for i, (g, ref) in enumerate(zip(got[2:], dW_ref)):
            np.testing.assert_allclose(g, ref, rtol=1e-7, atol=1e-9 * np.max(np.abs(ref)), err_msg=f"W{i}")


def test_issue_repro_31_layer_tanh_mlp_grad_wrt_input():
    """The issue's exact reproduction (it raised 'iterator is too large')."""
    prefix = fresh_name("mlp31_")
    h0 = ricci.Tensor(f"{prefix}h0", (4,))
    h = h0
    for i in range(31):
        h = ricci.tanh(ricci.Tensor(f"{prefix}W{i}", (4, 4)) @ h)
    g = ricci.grad(ricci.einsum("i,i->", h, h), h0)
    Ws = [0.5 * np.eye(4) for _ in range(31)]
    got = g.evaluate({f"{prefix}h0": np.ones(4), **{f"{prefix}W{i}": Ws[i] for i in range(31)}})
    _, dh0, _ = tanh_chain_numpy(Ws, np.ones(4))
    assert np.all(dh0 > 0)
    np.testing.assert_allclose(got, dh0, rtol=1e-10, atol=0)


def test_issue_repro_8_layer_width_256_mlp_grad_wrt_W1():
    rng = np.random.default_rng(SEED + 256)
    n, m, depth = 256, 16, 8
    prefix = fresh_name("mlp8_")
    x = ricci.Tensor(f"{prefix}x", (n, m))
    Ws = [ricci.Tensor(f"{prefix}W{i}", (n, n)) for i in range(depth)]
    h = x
    for W in Ws:
        h = ricci.tanh(W @ h)
    L = ricci.einsum("ib,ib->", h, h)
    Ws_np = [rng.normal(size=(n, n)) * 1.5 / np.sqrt(n) for _ in range(depth)]
    x_np = rng.normal(size=(n, m))
    inputs = {x.name: x_np, **{W.name: a for W, a in zip(Ws, Ws_np)}}
    got = ricci.grad(L, Ws[1]).evaluate(inputs)
    # numpy backward
    hs = [x_np]
    for a in Ws_np:
        hs.append(np.tanh(a @ hs[-1]))
    dh = 2 * hs[-1]
    for i in reversed(range(depth)):
        du = dh * (1 - hs[i + 1] ** 2)
        if i == 1:
            expected = du @ hs[1].T
            break
        dh = Ws_np[i].T @ du
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.max(np.abs(expected)))


# ---------------------------------------------------------------------------
# ~3,000 nested contractions: nothing recurses over depth
# ---------------------------------------------------------------------------
NESTED_DEPTH = 3000


@pytest.fixture(scope="module")
def nested_chain():
    """h = W_i @ h for 3,000 orthogonal 4x4 W_i: 3,000 nested summing contractions,
    and the same chain with tanh between the layers."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # building must not recurse either
    try:
        rng = np.random.default_rng(SEED + 7)
        prefix = fresh_name("nest_")
        h0 = ricci.Tensor(f"{prefix}h0", (4,))
        Ws = [ricci.Tensor(f"{prefix}W{i}", (4, 4)) for i in range(NESTED_DEPTH)]
        h, t = h0, h0
        with no_recursion("building 3,000 nested contractions"):
            for W in Ws:
                h = W @ h
                t = ricci.tanh(W @ t)
    finally:
        sys.setrecursionlimit(old)
    Ws_np = [orthogonal(rng, 4) for _ in range(NESTED_DEPTH)]
    h0_np = rng.uniform(-1, 1, size=4)
    inputs = {h0.name: h0_np, **{W.name: a for W, a in zip(Ws, Ws_np)}}
    return h0, h, t, inputs, Ws_np, h0_np


PRINT_CASES = [(m, w) for w in ("linear", "tanh") for m in ("str", "repr", "to_latex", "to_dot")]


@pytest.mark.parametrize("method,which", PRINT_CASES, ids=[f"{m}-{w}" for m, w in PRINT_CASES])
def test_printing_3000_nested_contractions(nested_chain, default_recursion_limit, method, which):
    with no_recursion(f'{method} of {which} chain'):
        h0, h, t, inputs, Ws_np, h0_np = nested_chain
        e = h if which == "linear" else t
        text = {"str": str, "repr": repr}.get(method, lambda x: getattr(x, method)())(e)
        assert isinstance(text, str) and len(text) > 0
        if method == "str":  # the text mentions the innermost and the outermost layer
            assert h0.name in text and f"W{NESTED_DEPTH - 1}" in text
        elif method == "repr":  # one line, cut: the outermost layer is in it
            assert "\n" not in text and f"W{NESTED_DEPTH - 1}" in text and text.startswith("<ricci.")
        elif method == "to_latex":  # names are typeset (escaped), but their tails survive
            assert "h0" in text and f"W{NESTED_DEPTH - 1}" in text
        else:  # a (possibly abridged) Graphviz drawing
            assert text.lstrip().startswith(("graph", "digraph")) and text.rstrip().endswith("}")


@pytest.mark.parametrize("which", ["linear", "tanh"])
def test_cost_3000_nested_contractions(nested_chain, default_recursion_limit, which):
    with no_recursion('cost'):
        h0, h, t, inputs, Ws_np, h0_np = nested_chain
        c = ricci.cost(h if which == "linear" else t, inputs)
        # at least one multiply-add per weight entry per layer
        assert c.flops >= NESTED_DEPTH * 16


@pytest.mark.parametrize("which", ["linear", "tanh"])
def test_evaluate_3000_nested_contractions(nested_chain, default_recursion_limit, which):
    with no_recursion('evaluate'):
        h0, h, t, inputs, Ws_np, h0_np = nested_chain
        ref = h0_np
        for W in Ws_np:
            ref = W @ ref if which == "linear" else np.tanh(W @ ref)
        got = ricci.evaluate(h if which == "linear" else t, inputs)
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("which", ["linear", "tanh"])
def test_jacobian_3000_nested_contractions(nested_chain, default_recursion_limit, which):
    with no_recursion('jacobian'):
        h0, h, t, inputs, Ws_np, h0_np = nested_chain
        J = ricci.jacobian(h if which == "linear" else t, h0)
        assert J.shape == (4, 4)
        got = J.evaluate(inputs)
        ref, x = np.eye(4), h0_np
        for W in Ws_np:
            if which == "linear":
                ref = W @ ref
            else:
                x = np.tanh(W @ x)
                ref = (1 - x ** 2)[:, None] * (W @ ref)
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10 * max(1.0, np.max(np.abs(ref))))
        if which == "linear":  # a product of orthogonal matrices is orthogonal
            np.testing.assert_allclose(got @ got.T, np.eye(4), atol=1e-9)
