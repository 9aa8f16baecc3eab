"""``ricci.compile`` (issue 8): expressions lowered to one straight-line Python program.

``f = ricci.compile(exprs, optimize="auto")`` takes an Expr or a list; ``f(inputs)`` and
``f(**inputs)`` return one array or a list; ``f.source`` is readable, deterministic
Python; results equal numpy references and ``ricci.evaluate``; pairwise products become
``@``/matmul, never a many-operand einsum; the program is compiled once and cached.
"""
import ast
import builtins
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ricci
from conftest import fresh_name


def rnn_cell(prefix, n_c=6, n_x=4, m=3, seed=0, dtype=np.float64):
    W_c = ricci.Tensor(prefix + "W_c", (n_c, n_c))
    W_x = ricci.Tensor(prefix + "W_x", (n_c, n_x))
    c_prev = ricci.Tensor(prefix + "c_prev", (n_c, m))
    x = ricci.Tensor(prefix + "x", (n_x, m))
    b = ricci.Tensor(prefix + "b", (n_c,))
    G = np.random.default_rng(seed).normal(size=(n_c, m)).astype(dtype)
    c = ricci.tanh(W_c @ c_prev + W_x @ x + ricci.einsum("i,b->ib", b, np.ones(m, dtype=dtype)))
    L = ricci.einsum("ib,ib->", c, G)
    return (W_c, W_x, c_prev, x, b), G, c, L


def rnn_reference(v, G):
    c = np.tanh(v["W_c"] @ v["c_prev"] + v["W_x"] @ v["x"] + v["b"][:, None])
    du = G * (1 - c**2)
    return float(np.sum(c * G)), du @ v["x"].T, du.sum(axis=1), du @ v["c_prev"].T


def rnn_values(rng, n_c=6, n_x=4, m=3, dtype=np.float64):
    return {k: rng.normal(size=s).astype(dtype) for k, s in
            [("W_c", (n_c, n_c)), ("W_x", (n_c, n_x)), ("c_prev", (n_c, m)), ("x", (n_x, m)), ("b", (n_c,))]}


def einsum_calls(source):
    """(number of operands) for every einsum(...) call in the source."""
    counts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if "einsum" in name or name == "contract":
                counts.append(len(node.args) - 1)
    return counts


# ---------------------------------------------------------------------------
# calling conventions and values
# ---------------------------------------------------------------------------
def test_compile_single_expression_returns_one_array():
    prefix = fresh_name("cs") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix)
    v = rnn_values(np.random.default_rng(1))
    inputs = {prefix + k: a for k, a in v.items()}
    f = ricci.compile(ricci.grad(L, W_x), optimize="auto")
    got = f(inputs)
    assert isinstance(got, np.ndarray) and got.shape == (6, 4)
    np.testing.assert_allclose(got, rnn_reference(v, G)[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f(**inputs), got, rtol=0, atol=0)


def test_compile_list_returns_list_equal_to_numpy_and_evaluate():
    prefix = fresh_name("cl") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix)
    grads = ricci.grad(L, [W_x, b, W_c])
    f = ricci.compile([L] + list(grads))
    rng = np.random.default_rng(2)
    for _ in range(3):
        v = rnn_values(rng)
        inputs = {prefix + k: a for k, a in v.items()}
        got = f(inputs)
        assert isinstance(got, list) and len(got) == 4
        L_ref, gWx, gb, gWc = rnn_reference(v, G)
        for g, ref in zip(got, [L_ref, gWx, gb, gWc]):
            np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
        for g, e in zip(got, ricci.evaluate([L] + list(grads), inputs)):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13)
        got_kw = f(**inputs)
        for g, e in zip(got_kw, got):
            np.testing.assert_array_equal(g, e)


def test_compile_keeps_float32():
    prefix = fresh_name("c32") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix, dtype=np.float32)  # float32 constants too
    f = ricci.compile(ricci.grad(L, W_x))
    v = rnn_values(np.random.default_rng(3))
    got = f({prefix + k: a.astype(np.float32) for k, a in v.items()})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, rnn_reference(v, G.astype(np.float64))[1], rtol=1e-4, atol=1e-4)


def test_compiled_function_checks_its_inputs():
    A, B = ricci.Tensor(fresh_name("A"), (3, 4)), ricci.Tensor(fresh_name("B"), (4, 5))
    f = ricci.compile(A @ B)
    with pytest.raises(ricci.MissingInputError, match=B.name):
        f({A.name: np.ones((3, 4))})
    with pytest.raises(ricci.InputShapeError, match=B.name):
        f({A.name: np.ones((3, 4)), B.name: np.ones((5, 4))})
    with pytest.raises(ricci.UnknownInputError):
        f({A.name: np.ones((3, 4)), B.name: np.ones((4, 5)), fresh_name("nobody"): 1.0})


def test_compile_of_a_jacobian_and_hessian():
    x = ricci.Tensor(fresh_name("x"), (4,))
    y = ricci.tanh(x) * x
    L = ricci.einsum("i->", y)
    f = ricci.compile([ricci.jacobian(y, x), ricci.hessian(L, x)])
    v = np.linspace(-1, 1, 4)
    J, H = f({x.name: v})
    t = np.tanh(v)
    d1 = (1 - t**2) * v + t
    d2 = -2 * t * (1 - t**2) * v + 2 * (1 - t**2)
    np.testing.assert_allclose(J, np.diag(d1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H, np.diag(d2), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# the source
# ---------------------------------------------------------------------------
def test_source_is_readable_straight_line_python():
    prefix = fresh_name("src") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix)
    f = ricci.compile(ricci.grad(L, [W_x, b]))
    src = f.source
    assert isinstance(src, str) and src.strip()
    tree = ast.parse(src)  # valid Python
    loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While, ast.AsyncFor, ast.comprehension))]
    assert not loops, "the program should be straight-line (no loops)"
    assert "tanh" in src
    assert len(src.splitlines()) < 200  # readable: a short program for a small network


def test_source_of_a_matrix_product_uses_matmul_not_einsum():
    A, B = ricci.Tensor(fresh_name("A"), (30, 40)), ricci.Tensor(fresh_name("B"), (40, 50))
    f = ricci.compile(A @ B)
    src = f.source
    assert "@" in src or "matmul" in src, src
    assert not einsum_calls(src), src
    a, bm = np.random.default_rng(4).normal(size=(30, 40)), np.random.default_rng(5).normal(size=(40, 50))
    np.testing.assert_allclose(f({A.name: a, B.name: bm}), a @ bm, rtol=1e-12, atol=1e-12)


def test_source_of_a_batched_product_uses_matmul():
    Q, K = ricci.Tensor(fresh_name("Q"), (8, 16, 4)), ricci.Tensor(fresh_name("K"), (8, 16, 4))
    f = ricci.compile(ricci.einsum("bik,bjk->bij", Q, K))
    assert "@" in f.source or "matmul" in f.source, f.source
    rng = np.random.default_rng(6)
    q, k = rng.normal(size=(8, 16, 4)), rng.normal(size=(8, 16, 4))
    np.testing.assert_allclose(f({Q.name: q, K.name: k}), np.einsum("bik,bjk->bij", q, k), rtol=1e-12, atol=1e-12)


def test_source_of_a_64_operand_chain_has_only_pairwise_contractions():
    rng = np.random.default_rng(7)
    prefix = fresh_name("ch64") + "_"
    mats = [ricci.Tensor(f"{prefix}{i}", (3, 3)) for i in range(64)]
    y = mats[0]
    for M in mats[1:]:
        y = y @ M
    f = ricci.compile(y)
    counts = einsum_calls(f.source)
    assert all(c <= 2 for c in counts), f"an einsum call with {max(counts)} operands"
    values = [rng.normal(size=(3, 3)) / np.sqrt(3) for _ in range(64)]
    ref = values[0]
    for v in values[1:]:
        ref = ref @ v
    got = f({M.name: v for M, v in zip(mats, values)})
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


BUILD = textwrap.dedent("""
    import numpy as np, ricci
    W_c = ricci.Tensor("cmpdet_W_c", (6, 6)); W_x = ricci.Tensor("cmpdet_W_x", (6, 4))
    c_prev = ricci.Tensor("cmpdet_c_prev", (6, 3)); x = ricci.Tensor("cmpdet_x", (4, 3))
    b = ricci.Tensor("cmpdet_b", (6,))
    G = np.arange(18.0).reshape(6, 3) / 10
    c = ricci.tanh(W_c @ c_prev + W_x @ x + ricci.einsum("i,b->ib", b, np.ones(3)))
    L = ricci.einsum("ib,ib->", c, G)
    f = ricci.compile([L] + list(ricci.grad(L, [W_x, b, W_c])))
""")


def test_source_is_deterministic_across_processes():
    namespace = {}
    exec(BUILD, namespace)
    here = namespace["f"].source
    texts = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", BUILD + "\nimport sys; sys.stdout.write(f.source)"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        texts.append(proc.stdout)
    assert texts[0] == texts[1], "the source differs between two fresh processes"
    assert texts[0] == here, "the source differs between this process and a fresh one"


# ---------------------------------------------------------------------------
# caching
# ---------------------------------------------------------------------------
def test_second_call_does_not_recompile(monkeypatch):
    prefix = fresh_name("cache") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix)
    f = ricci.compile(ricci.grad(L, [W_x, b]))
    rng = np.random.default_rng(8)
    first = {prefix + k: a for k, a in rnn_values(rng).items()}
    f(first)  # whatever compiling happens, happens by now
    calls = []
    real_compile, real_exec = builtins.compile, builtins.exec
    monkeypatch.setattr(builtins, "compile", lambda *a, **k: calls.append("compile") or real_compile(*a, **k))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: calls.append("exec") or real_exec(*a, **k))
    for _ in range(3):  # new values, same shapes and dtypes
        v = rnn_values(rng)
        got = f({prefix + k: a for k, a in v.items()})
        ref = rnn_reference(v, G)
        np.testing.assert_allclose(got[0], ref[1], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[1], ref[2], rtol=1e-12, atol=1e-12)
    monkeypatch.undo()
    assert not calls, f"calling the compiled function again compiled Python code: {calls}"
    if hasattr(f, "cache_info"):
        info = f.cache_info()
        hits = getattr(info, "hits", None) if not isinstance(info, dict) else info.get("hits")
        misses = getattr(info, "misses", None) if not isinstance(info, dict) else info.get("misses")
        if hits is not None and misses is not None:
            assert misses == 1 and hits >= 3, info
        else:
            print(f"cache_info() has no hits/misses fields ({info!r}); only the no-recompile check ran")
    else:
        print("f.cache_info() is not provided; only the no-recompile check ran")


def test_compiling_the_same_expression_twice_gives_the_same_program():
    prefix = fresh_name("same") + "_"
    (W_c, W_x, c_prev, x, b), G, c, L = rnn_cell(prefix)
    g = ricci.grad(L, W_x)
    f1, f2 = ricci.compile(g), ricci.compile(g)
    assert f1.source == f2.source


def test_compiled_cost_if_provided():
    A, B = ricci.Tensor(fresh_name("A"), (30, 40)), ricci.Tensor(fresh_name("B"), (40, 50))
    f = ricci.compile(A @ B)
    if not hasattr(f, "cost"):
        pytest.skip("the compiled function has no .cost (optional in the issue)")
    c = f.cost({A.name: (30, 40), B.name: (40, 50)}) if f.cost.__code__.co_argcount > 1 else f.cost()
    flops = getattr(c, "flops", c)
    assert 30 * 40 * 50 <= flops <= 4 * 30 * 40 * 50, c
