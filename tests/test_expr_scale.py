"""The expression layer at scale: linear construction, thread-safe interning,
GC-independent name checks, argument checks, and printers that neither
recurse over depth nor grow quadratically."""
import gc
import itertools
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import ricci
from ricci.expr import _merge_inputs

_names = itertools.count()


def fresh(prefix):
    """A Tensor-name prefix no other test uses (names are remembered for the whole process)."""
    return f"{prefix}{next(_names)}_"


def tanh_chain(prefix, depth, n=4):
    h0 = ricci.Tensor(f"{prefix}h0", (n,))
    h = h0
    for i in range(depth):
        h = ricci.tanh(ricci.Tensor(f"{prefix}W{i}", (n, n)) @ h)
    return h0, h


# ---------------------------------------------------------------------------
# task 1: construction is linear; inputs are still known and still checked
# ---------------------------------------------------------------------------
def test_deep_chain_knows_all_its_inputs():
    p = fresh("inp")
    _, h = tanh_chain(p, 500)
    assert set(h.inputs) == {f"{p}h0"} | {f"{p}W{i}" for i in range(500)}
    assert set(_merge_inputs([h, ricci.Tensor(f"{p}extra", (1,))])) == set(h.inputs) | {f"{p}extra"}


def test_conflicting_names_in_a_small_expression_fail_at_construction():
    p = fresh("conf")
    a, b = ricci.Tensor(f"{p}x", (3,)), ricci.Tensor(f"{p}x", (4,))
    with pytest.raises(ricci.ShapeError, match="two different Tensors"):
        ricci.einsum("i,j->ij", a, b)


def test_conflicting_names_in_a_big_expression_fail_when_inputs_are_asked():
    p = fresh("bigconf")
    _, h = tanh_chain(p, 200)
    clash = ricci.Tensor(f"{p}h0", (5,))  # same name as the chain's input, another shape
    e = ricci.einsum("i,j->ij", h, clash)  # too big to check eagerly
    with pytest.raises(ricci.ShapeError, match="two different Tensors"):
        e.inputs
    with pytest.raises(ricci.ShapeError, match="two different Tensors"):
        _merge_inputs([h, clash])


def _build_cost(depth):
    p = fresh("mem")
    gc.collect()
    tracemalloc.start()
    start = time.process_time()
    _, h = tanh_chain(p, depth)
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return h, seconds, peak


def test_building_a_deep_chain_is_linear_in_memory():
    _, _, small = _build_cost(500)
    h, _, big = _build_cost(5000)
    # quadratic input copying made 10x the depth cost ~100x the memory; linear is ~10x
    assert big < 20 * small, (small, big)
    assert big < 40 * 2**20  # a few KiB per layer
    assert len(h.inputs) == 5001


def test_a_long_sum_builds_in_linear_time():
    p = fresh("sum")
    xs = [ricci.Tensor(f"{p}x{i}", (2,)) for i in range(10000)]
    start = time.process_time()
    s = xs[0]
    for x in xs[1:]:
        s = s + x
    elapsed = time.process_time() - start
    assert elapsed < 5  # flat sums re-copied every term: ~70 s
    assert set(s.inputs) == {x.name for x in xs}
    assert s is not xs[0] + sum(xs[1:], start=0 * xs[0])  # (big sums keep their grouping)
    value = s.evaluate({x.name: np.full(2, float(i)) for i, x in enumerate(xs)})
    np.testing.assert_allclose(value, np.full(2, 10000 * 9999 / 2))
    # equal terms still merge in small sums, and a big sum scaled is one node
    assert (xs[0] + xs[1] + xs[0]) is (2 * xs[0] + xs[1])
    assert len((2 * s).terms) <= 65


# ---------------------------------------------------------------------------
# task 3: interning is thread-safe
# ---------------------------------------------------------------------------
def _same_expressions(tag):
    x, W = ricci.Tensor(f"thr_x{tag}", (3,)), ricci.Tensor(f"thr_W{tag}", (3, 3))
    h = x
    for _ in range(15):
        h = ricci.tanh(W @ h) + 2 * x - 1
    L = ricci.einsum("i,i->", h, h)
    return L, ricci.grad(L, W), ricci.Constant(np.arange(3.0) + tag)


def test_building_the_same_expressions_from_many_threads_gives_one_node_each():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for rep in range(12):
            tag = next(_names)
            barrier = threading.Barrier(8)
            results = [None] * 8

            def work(k):
                barrier.wait()
                results[k] = _same_expressions(tag)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for r in results[1:]:
                assert all(a is b for a, b in zip(r, results[0]))
    finally:
        sys.setswitchinterval(old)
    L, g, _ = results[0]
    x, W = (L.inputs[f"thr_{n}{tag}"] for n in "xW")
    # the gradient is not silently zero: compare with central differences
    rng = np.random.default_rng(0)
    vals = {x.name: rng.normal(size=3) * 0.3, W.name: rng.normal(size=(3, 3)) * 0.3}
    got = g.evaluate(vals)
    eps, fd = 1e-6, np.zeros((3, 3))
    for i, j in np.ndindex(3, 3):
        up, down = dict(vals), dict(vals)
        up[W.name] = vals[W.name].copy(); up[W.name][i, j] += eps
        down[W.name] = vals[W.name].copy(); down[W.name][i, j] -= eps
        fd[i, j] = (L.evaluate(up) - L.evaluate(down)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# task 4: no behaviour depends on garbage collection
# ---------------------------------------------------------------------------
def test_a_collected_tensor_name_is_still_a_known_input():
    name = fresh("gc") + "x"
    g = (lambda x: ricci.grad(ricci.einsum("i->", x), x))(ricci.Tensor(name, (3,)))
    gc.collect()
    np.testing.assert_array_equal(g.evaluate({name: np.ones(3)}), np.ones(3))
    assert ricci.expr.tensor_name_exists(name)


def test_a_never_declared_name_is_still_a_typo():
    p = fresh("typo")
    x = ricci.Tensor(f"{p}value", (3,))
    with pytest.raises(ricci.UnknownInputError):
        ricci.einsum("i->", x).evaluate({f"{p}value": np.ones(3), f"{p}valeu": np.ones(3)})


# ---------------------------------------------------------------------------
# task 5: argument checks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2.5,), (2, 3.0), (-1,), (True,), (np.bool_(True),), 3, "ab", None, {2: 3},
                                   (None,), (np.float64(2),)])
def test_bad_shapes(shape):
    with pytest.raises(ricci.ShapeError):
        ricci.Tensor(fresh("shape") + "x", shape)


def test_integer_shapes_of_any_integer_type():
    t = ricci.Tensor(fresh("shape") + "x", (np.int64(2), np.int32(3), 0))
    assert t.shape == (2, 3, 0) and all(type(d) is int for d in t.shape)


@pytest.mark.parametrize("name", ["", 3, None, b"x", ("x",)])
def test_bad_tensor_names(name):
    with pytest.raises(ricci.ArgumentError, match="name"):
        ricci.Tensor(name, (2,))


@pytest.mark.parametrize("axis", [7, 2, -3, (0, 5)])
def test_sum_axis_out_of_range(axis):
    x = ricci.Tensor(fresh("ax") + "x", (2, 3))
    with pytest.raises(ricci.ShapeError, match="out of range"):
        ricci.sum(x, axis=axis)


@pytest.mark.parametrize("axis", [True, (0, 0), (1, -1), 1.0, "0"])
def test_sum_bad_axis(axis):
    x = ricci.Tensor(fresh("ax") + "x", (2, 3))
    with pytest.raises(ricci.ArgumentError):
        ricci.sum(x, axis=axis)


@pytest.mark.parametrize("axis", [0, 1, -1, -2, (0, 1), (-1, 0), np.int64(1), None, ()])
def test_sum_axes_like_numpy(axis):
    x = ricci.Tensor(fresh("ax") + "x", (2, 3))
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ricci.sum(x, axis=axis).evaluate({x.name: a}), np.sum(a, axis=axis))


@pytest.mark.parametrize("value", [[[1, 2], [3]], np.array([object(), object()]), ["a", "b"]])
def test_ragged_and_object_constants(value):
    with pytest.raises(ricci.OperandTypeError):
        ricci.Constant(value)


def test_scalar_kinds_are_kept_and_interning_does_not_mix_them():
    x = ricci.Tensor(fresh("coef") + "x", (3,))
    as_float = 2.0 * x  # built first: must not make 2 * x a float node
    as_int = 2 * x
    assert as_int is not as_float
    assert type(as_int.terms[0][0]) is int and type(as_float.terms[0][0]) is float
    assert (x + x) is as_int
    assert type((x - 1).offset) is int and type((x + 0.5).offset) is float
    assert type((1j * x).terms[0][0]) is complex
    assert (np.int64(2) * x) is as_int and (np.float64(2) * x) is as_float
    assert str(as_int) == str(as_float) == f"2*{x.name}"
    assert as_int.fingerprint != as_float.fingerprint
    assert (x ** 2) is not (x ** 2.0)


# ---------------------------------------------------------------------------
# task 2: printers neither recurse over depth nor grow quadratically
# ---------------------------------------------------------------------------
PRINTERS = {
    "str": str,
    "repr": repr,
    "to_latex": lambda e: e.to_latex(),
    "index_notation": lambda e: ricci.notation.index_notation(e),
    "to_matrix": lambda e: e.to_matrix(),
    "to_dot": lambda e: e.to_dot(),
}


def _deep(kind, depth):
    p = fresh(kind)
    h0 = ricci.Tensor(f"{p}h0", (3,))
    Ws = [ricci.Tensor(f"{p}W{i}", (3, 3)) for i in range(depth)]
    h = h0
    for W in Ws:
        h = ricci.tanh(W @ h) if kind == "tanh" else ricci.einsum("ij,j->i", W, h)
    return h0, Ws, h


@pytest.fixture(scope="module")
def deep_exprs():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        out = {}
        for kind in ("tanh", "nest"):
            h0, Ws, h = _deep(kind, 3000)
            L = ricci.einsum("i,i->", h, h)
            out[kind] = (h0, Ws, h, L, ricci.grad(L, h0))
        return out
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("kind", ["tanh", "nest"])
@pytest.mark.parametrize("printer", sorted(PRINTERS))
def test_printing_3000_deep_chains_and_their_gradients(deep_exprs, kind, printer):
    h0, Ws, h, L, g = deep_exprs[kind]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        for e in (h, g):
            text = PRINTERS[printer](e)
            assert text == PRINTERS[printer](e)  # deterministic
            if printer == "to_latex":  # names are typeset: p_W0 -> \\mathrm{p}_{\\mathrm{W0}}
                assert "{W0}" in text and f"{{W{len(Ws) - 1}}}" in text
            elif printer == "repr":  # one line, as numpy's reprs; str() holds the whole text
                assert "\n" not in text and text.startswith(f"<ricci.{type(e).__name__} shape=")
            elif printer != "to_dot":  # drawings stop opening after max_nodes
                assert Ws[0].name in text and Ws[-1].name in text
    finally:
        sys.setrecursionlimit(old)


def test_explain_and_network_of_a_deep_chain(deep_exprs):
    h0, Ws, h, L, g = deep_exprs["tanh"]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        h0b, Wsb, hb = _deep("tanh", 1500)
        text = ricci.explain(ricci.einsum("i,i->", hb, hb), h0b)
        assert text.result.shape == h0b.shape
        assert text.count("Step ") >= 1500
        assert h.network().number_of_nodes() >= 2
    finally:
        sys.setrecursionlimit(old)


def _print_seconds(depth):
    _, _, h = _deep("tanh", depth)
    g = ricci.grad(ricci.einsum("i,i->", h, h), h.inputs[next(n for n in h.inputs if n.endswith("h0"))])
    start = time.process_time()
    for e in (h, g):
        str(e), e.to_latex(), e.to_matrix()
    return time.process_time() - start


def test_printing_time_grows_linearly():
    small, big = _print_seconds(1000), _print_seconds(4000)
    # quadratic text building made 4x the depth ~16x (and 10,000 layers minutes)
    assert big < 8 * small + 0.5, (small, big)


def test_long_parts_are_named_not_nested():
    _, _, h = _deep("tanh", 200)
    lines = str(h).split("\n")
    assert len(lines) > 1 and all(len(line) < 3000 for line in lines)
    # small expressions print as before: one nested line
    _, _, small = _deep("tanh", 3)
    assert len(str(small).split("\n")) == 1
