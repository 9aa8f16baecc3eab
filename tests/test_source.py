"""ricci.to_source: a standalone numpy module with f(**inputs) and check(seed=0)."""
import ast
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import fresh_name

import ricci


def load(text):
    """Execute our own generated module in a fresh namespace; return it."""
    namespace = {}
    exec(compile(text, "<ricci generated>", "exec"), namespace)  # noqa: S102 (ricci's own generated text)
    return namespace


def as_list(values):
    if isinstance(values, dict):
        return list(values.values())
    return list(values) if isinstance(values, (list, tuple)) else [values]


def agree(outputs, inputs, name="f", **kw):
    """Build the module, compare f with ricci.evaluate (rtol 1e-12), run check(); return the module."""
    text = ricci.to_source(outputs, name=name, **kw)
    module = load(text)
    exprs = as_list(outputs)
    want = ricci.evaluate(exprs, {k: v for k, v in inputs.items() if k in ricci.expr._merge_inputs(exprs)})
    got = as_list(module[name](**inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-300)
    assert module["check"]() < 1e-5
    return text, module


def rnn(batch="batch"):
    W, b, x = ricci.Tensor(fresh_name("W"), (4, 3)), ricci.Tensor(fresh_name("b"), (4,)), \
        ricci.Tensor(fresh_name("x"), (3, batch))
    c = ricci.tanh(W @ x + b[:, None])
    L = ricci.sum(c * c)
    return (W, b, x), L, ricci.grad(L, [W, b])


def test_readme_rnn_gradient_symbolic_batch_at_two_sizes(rng):
    (W, b, x), L, (gW, gb) = rnn()
    text = ricci.to_source({"L": L, "gW": gW, "gb": gb}, name="rnn_cell")
    module = load(text)
    for n in (2, 7):
        inputs = {W.name: rng.normal(size=(4, 3)), b.name: rng.normal(size=4), x.name: rng.normal(size=(3, n))}
        got = module["rnn_cell"](**inputs)
        assert list(got) == ["L", "gW", "gb"]
        for g, w in zip(got.values(), ricci.evaluate([L, gW, gb], inputs)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-300)
    assert module["check"]() < 1e-5 and module["check"](seed=3) < 1e-5
    assert "@" in text and "einsum" not in text.split('"""')[2].split("def _ricci_program")[0]
    with pytest.raises(ValueError, match="declared"):
        module["rnn_cell"](**{W.name: np.ones((4, 3)), b.name: np.ones(4), x.name: np.ones((2, 5))})


def test_mlp_gradient_single_output_and_list(rng):
    W1, W2 = ricci.Tensor(fresh_name("W1"), (5, 3)), ricci.Tensor(fresh_name("W2"), (2, 5))
    x = ricci.Tensor(fresh_name("x"), (3, "batch"))
    L = ricci.sum(ricci.sigmoid(W2 @ ricci.relu(W1 @ x)) ** 2)
    g1, g2 = ricci.grad(L, [W1, W2])
    inputs = {W1.name: rng.normal(size=(5, 3)), W2.name: rng.normal(size=(2, 5)), x.name: rng.normal(size=(3, 4))}
    _, module = agree([L, g1, g2], inputs)
    assert isinstance(module["f"](**inputs), tuple)
    single = load(ricci.to_source(g2, forward=L))
    assert isinstance(single["f"](**inputs), np.ndarray)
    assert single["check"]() < 1e-5
    assert "_ricci_forward" in ricci.to_source(g2, forward=L)


def test_layer_norm_gradient_with_broadcasting(rng):
    X = ricci.Tensor(fresh_name("X"), ("batch", 6))
    gamma, beta = ricci.Tensor(fresh_name("gamma"), (6,)), ricci.Tensor(fresh_name("beta"), (6,))
    xc = X - X.mean(axis=1, keepdims=True)
    y = xc / np.sqrt((xc**2).mean(axis=1, keepdims=True) + 1e-5) * gamma + beta
    L = ricci.mean(np.tanh(y))
    dgamma, dX = ricci.grad(L, [gamma, X])
    for n in (3, 8):
        inputs = {X.name: rng.normal(size=(n, 6)), gamma.name: rng.normal(size=6), beta.name: rng.normal(size=6)}
        agree({"L": L, "dgamma": dgamma, "dX": dX}, inputs)


def test_logistic_regression_gradient_and_hvp_with_softplus(rng):
    A, w, v = ricci.Tensor(fresh_name("A"), (20, 5)), ricci.Tensor(fresh_name("w"), (5,)), \
        ricci.Tensor(fresh_name("v"), (5,))
    y = (rng.random(20) > 0.5).astype(float)
    z = A @ w
    L = ricci.sum(ricci.softplus(z) - y * z)
    g, Hv = ricci.grad(L, w), ricci.hvp(L, w, v)
    inputs = {A.name: rng.normal(size=(20, 5)), w.name: rng.normal(size=5), v.name: rng.normal(size=5)}
    text, _ = agree([L, g, Hv], inputs)
    assert "np.logaddexp(0, x)" in text  # the stable form
    # gradients and second derivatives without their forward: it is written as a private function
    text, _ = agree([g, ricci.hvp(L, w, np.ones(5)), ricci.hessian(L, w)],
                         {A.name: inputs[A.name], w.name: inputs[w.name]}, forward=L)
    assert "def _ricci_forward(" in text and "grad of _ricci_forward()[0]" in text
    # stable at ±1e4
    big = load(ricci.to_source([L, g]))["f"](**{A.name: np.ones((20, 5)), w.name: np.full(5, 2e3)})
    assert all(np.all(np.isfinite(b)) for b in big)


def test_linear_algebra(rng):
    M, r = ricci.Tensor(fresh_name("M"), (4, 4)), ricci.Tensor(fresh_name("r"), (4,))
    L = ricci.logdet(M) + ricci.sum(ricci.solve(M, r) ** 2) + ricci.sum(ricci.inv(M)) + ricci.det(M)
    gM, gr = ricci.grad(L, [M, r])
    inputs = {M.name: rng.normal(size=(4, 4)) + 4 * np.eye(4), r.name: rng.normal(size=4)}
    text, _ = agree({"L": L, "gM": gM, "gr": gr}, inputs)
    assert "np.linalg.solve" in text and "np.linalg.slogdet" in text
    assert f"{M.name!r}: ((4, 4), 'matrix')" in text  # check() adds the identity


def test_cross_entropy(rng):
    Z = ricci.Tensor(fresh_name("Z"), (8, 10))
    loss = ricci.cross_entropy(Z, np.eye(10)[np.arange(8)])
    text, _ = agree([loss, ricci.grad(loss, Z)], {Z.name: rng.normal(size=(8, 10))})
    assert "def _logsumexp(" in text


def test_named_constant_embedded_exactly_and_large_constant_as_argument(rng):
    Y = ricci.Constant(rng.normal(size=(3, 4)) / 3.0, name="Ysrc")
    big = rng.normal(size=(150, 60))
    P = ricci.Tensor(fresh_name("P"), (60, 3))
    L = ricci.sum(ricci.tanh(big @ P @ Y))
    text = ricci.to_source([L, ricci.grad(L, P)], max_embedded=1000)
    assert "C_Ysrc = np.array(" in text and "constant: (150, 60) float64" in text
    module = load(text)
    assert np.array_equal(module["C_Ysrc"], Y.value)  # round-trips bit for bit
    p = rng.normal(size=(60, 3))
    for g, w in zip(module["f"](**{P.name: p, "constant": big}), ricci.evaluate([L, ricci.grad(L, P)], {P.name: p})):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert module["check"]() < 1e-5 and module["check"](constant=big) < 1e-5
    with pytest.raises(TypeError):
        module["f"](**{P.name: p})  # the large constant is a required argument
    embedded = load(ricci.to_source(L))  # below the default threshold: embedded
    assert embedded["f"](**{P.name: p}) == pytest.approx(float(ricci.evaluate(L, {P.name: p})), rel=1e-12)


def test_float32_constant_and_special_values_round_trip():
    x = ricci.Tensor(fresh_name("x"), (4,))
    c32 = ricci.Constant(np.array([0.1, -0.0, 3e-39, 1e30], dtype=np.float32))
    cinf = ricci.Constant(np.array([np.inf, -np.inf, 1.0, 0.5]))
    text = ricci.to_source([ricci.sum(x * c32), ricci.maximum(x, cinf)])
    module = load(text)
    arrays = [v for k, v in module.items() if k.startswith("C") and isinstance(v, np.ndarray)]
    assert any(a.dtype == np.float32 and np.array_equal(a, c32.value) and np.signbit(a[1]) for a in arrays)
    got = module["f"](**{x.name: np.arange(4.0)})
    assert got[1].tolist() == [np.inf, 1.0, 2.0, 3.0]


def corrupt_check(text, old, new):
    assert old in text
    with pytest.raises(AssertionError, match="finite differences"):
        load(text.replace(old, new, 1))["check"]()


def test_check_fails_on_corrupted_text(rng):
    _, L, (gW, gb) = rnn()
    text = ricci.to_source([L, gW, gb])
    assert load(text)["check"]() < 1e-5
    corrupt_check(text, "    return tuple(_ricci_out)", "    _ricci_out[1] = -_ricci_out[1]\n    return tuple(_ricci_out)")
    corrupt_check(text, "    return tuple(_ricci_out)", "    _ricci_out[2] = 1.001 * _ricci_out[2]\n    return tuple(_ricci_out)")
    A, w = ricci.Tensor(fresh_name("A"), (6, 3)), ricci.Tensor(fresh_name("w"), (3,))
    Lw = ricci.sum(ricci.softplus(A @ w))
    text = ricci.to_source({"L": Lw, "g": ricci.grad(Lw, w)})
    corrupt_check(text, "np.where(x >= 0, 1.0, e) / (1.0 + e)", "np.where(x >= 0, 1.0, e) / (1.05 + e)")  # sigmoid
    hv = ricci.to_source([ricci.hvp(Lw, w, np.ones(3))], forward=Lw)
    assert load(hv)["check"]() < 1e-5
    corrupt_check(hv, "    return tuple(_ricci_out)", "    _ricci_out[0] = _ricci_out[0][::-1]\n    return tuple(_ricci_out)")


BUILD = """
import numpy as np, ricci
{before}
W = ricci.Tensor("W_det", (4, 3)); b = ricci.Tensor("b_det", (4,)); x = ricci.Tensor("x_det", (3, "batch"))
c = ricci.tanh(W @ x + b[:, None])
L = ricci.sum(ricci.softplus(c) * c) + ricci.sum(ricci.Constant(np.arange(12.0).reshape(4, 3) / 7, name="K") * W)
gW, gb = ricci.grad(L, [W, b])
import sys
sys.stdout.write(ricci.to_source([gW, ricci.hvp(L, W, np.ones((4, 3))), gb], forward=L))
"""
OTHER = """
y = ricci.Tensor("W_det", (4, 3)); z = ricci.Tensor("q_det", (3, 3))
ricci.grad(ricci.sum(ricci.sigmoid(y @ z) ** 3), [y, z]); ricci.hessian(ricci.logdet(z), z)
ricci.compile(ricci.grad(ricci.sum(ricci.tanh(y) * 2), y)).source
"""


def _build(before=""):
    return subprocess.run([sys.executable, "-c", BUILD.format(before=before)], capture_output=True, text=True,
                          check=True).stdout


def test_deterministic_text():
    first, second, after_others = _build(), _build(), _build(textwrap.dedent(OTHER))
    assert first == second == after_others
    assert "0x" not in first and " at 0x" not in first


def test_imports_only_numpy_and_text_compiles():
    _, L, (gW, gb) = rnn()
    M = ricci.Tensor(fresh_name("M"), (3, 3))
    for outputs in ([L, gW, gb], ricci.grad(ricci.logdet(M), M), {"s": ricci.softmax(M, axis=0)}):
        text = ricci.to_source(outputs)
        tree = ast.parse(text)
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported <= {"numpy", "opt_einsum"}
        assert text.startswith('"""Generated by ricci')
        assert not any(isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("eval", "exec")
                       for node in ast.walk(tree))


def test_bad_arguments():
    x = ricci.Tensor(fresh_name("x"), (3,))
    L = ricci.sum(x * x)
    for bad in ([], {}, (), None, 3, [L, np.ones(3)], {"a": "text"}):
        with pytest.raises(ricci.ArgumentError):
            ricci.to_source(bad)
    for name in ("1f", "not valid", "check", "class", "", 7, "_ricci_f"):
        with pytest.raises(ricci.ArgumentError):
            ricci.to_source(L, name=name)
    for limit in (-1, 2.5, True, "10"):
        with pytest.raises(ricci.ArgumentError):
            ricci.to_source(L, max_embedded=limit)
    with pytest.raises(ricci.ArgumentError):
        ricci.to_source({1: L})
    with pytest.raises(ricci.ArgumentError, match="identifier"):
        ricci.to_source(ricci.sum(ricci.Tensor("x[0]" + fresh_name(), (2,))))
    with pytest.raises(ricci.ArgumentError):
        ricci.to_source(L, forward=[np.ones(3)])
    assert isinstance(ricci.ArgumentError("x"), ValueError)


def test_unchecked_derivative_is_reported():
    x = ricci.Tensor(fresh_name("x"), (3,))
    text = ricci.to_source(ricci.grad(ricci.sum(ricci.sin(x)), x))
    assert "Not checked" in text and "derivative, not checked" in text
    assert load(text)["check"]() == 0.0


def test_attention_mask_slices_max_gather_erf_symbolic(rng):
    Q, K = ricci.Tensor(fresh_name("Q"), ("batch", 5, 4)), ricci.Tensor(fresh_name("K"), ("batch", 5, 4))
    scores = ricci.einsum("btd,bsd->bts", Q, K) / np.sqrt(4)
    A = ricci.softmax(ricci.where(np.tril(np.ones((5, 5), bool)), scores, -np.inf), axis=-1)
    L = ricci.sum(A[:, 1:3, ::2] ** 2) + ricci.sum(ricci.max(Q, axis=1)) + ricci.sum(ricci.erf(K)) \
        + ricci.sum(Q[:, np.array([0, 3, 3]), 1])
    gQ, gK = ricci.grad(L, [Q, K])
    for n in (2, 3):
        text, _ = agree([L, gQ, gK], {Q.name: rng.normal(size=(n, 5, 4)), K.name: rng.normal(size=(n, 5, 4))})
    assert "import math" in text  # erf: numpy has none
