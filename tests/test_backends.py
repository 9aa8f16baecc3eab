"""Compiled programs on torch, jax and dask arrays: the same values as numpy, the input's type,
dtype and device back, nothing converted to numpy on the way, lazy dask arrays kept lazy.

Each framework's tests skip with the reason when it is not installed
(``pip install "ricci[torch]"``, ``"ricci[jax]"``, ``"ricci[dask]"``).
"""
import subprocess
import sys

import numpy as np
import pytest

import ricci
from conftest import fresh_name, rand


def _case(name, build, shapes, positive=()):
    return pytest.param((build, shapes, positive), id=name)


def _mlp(t):
    h = ricci.tanh(t["W1"] @ t["X"] + t["b1"][:, None])
    L = ricci.sum(ricci.softplus(t["W2"] @ h) * t["G"])
    return [L, *ricci.grad(L, [t["W1"], t["b1"], t["W2"]])]


def _layer_norm(t):
    X = t["X"]
    xc = X - X.mean(axis=1, keepdims=True)
    y = xc / ricci.sqrt((xc * xc).mean(axis=1, keepdims=True) + 1e-5) * t["g"]
    L = ricci.sum(ricci.gelu(y) * t["G"])
    return [y, ricci.grad(L, X), ricci.grad(L, t["g"])]


def _attention(t):
    Q, K, V = t["Q"], t["K"], t["V"]
    s = ricci.einsum("btd,bsd->bts", Q, K) / 2.0
    A = ricci.softmax(ricci.where(np.tril(np.ones((5, 5), bool)), s, -np.inf), axis=-1)
    out = ricci.einsum("bts,bsd->btd", A, V)
    L = ricci.sum(out * t["G"])
    return [out, *ricci.grad(L, [Q, K, V])]


def _logistic(t):
    X, w, y, v = t["X"], t["w"], t["y"], t["v"]
    z = X @ w
    L = ricci.mean(ricci.softplus(z) - y * z)
    return [L, ricci.grad(L, w), ricci.hvp(L, w, v), ricci.hessian(L, w)]


def _linalg(t):
    A, b = t["A"], t["b"]
    L = ricci.logdet(A) + ricci.sum(ricci.solve(A, b) ** 2) + ricci.trace(ricci.inv(A))
    return [L, ricci.grad(L, A), ricci.det(A)]


def _shaping(t):
    x = t["x"]
    parts = ricci.concatenate([x[::-1, 1:], x[[0, 2, 2], :2] * 2.0], axis=0)
    m = ricci.max(parts, axis=1) + ricci.min(x, axis=0).sum()
    L = ricci.sum(ricci.relu(m) * ricci.sigmoid(m)) + ricci.sum(ricci.reshape(x, (12,))[::5])
    return [parts, L, ricci.grad(L, x), ricci.logsumexp(x, axis=1), ricci.maximum(x, 0.1)]


CASES = [
    _case("mlp", _mlp, {"W1": (6, 4), "b1": (6,), "W2": (3, 6), "X": (4, 7), "G": (3, 7)}),
    _case("layer_norm", _layer_norm, {"X": (5, 6), "g": (6,), "G": (5, 6)}),
    _case("attention", _attention, {"Q": (2, 5, 4), "K": (2, 5, 4), "V": (2, 5, 4), "G": (2, 5, 4)}),
    _case("logistic", _logistic, {"X": (20, 3), "w": (3,), "y": (20,), "v": (3,)}),
    _case("linalg", _linalg, {"A": (3, 3), "b": (3, 2)}),
    _case("shaping", _shaping, {"x": (4, 3)}),
]


def _build(case, rng):
    build, shapes, _ = case
    tensors = {k: ricci.Tensor(fresh_name(k), s) for k, s in shapes.items()}
    inputs = {}
    for k, s in shapes.items():
        value = rand(s, rng)
        if k == "A":
            value = value + 3 * np.eye(3)  # well conditioned, det > 0
        inputs[tensors[k].name] = value
    exprs = build(tensors)
    expected = ricci.evaluate(exprs, inputs)  # numpy: the reference the other backends must match
    return exprs, inputs, expected


def _numpy_of(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "compute"):
        return np.asarray(value.compute())
    return np.asarray(value)


# -- torch ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_torch_matches_numpy_and_returns_tensors(case, rng):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'ricci[torch]'")
    exprs, inputs, expected = _build(case, rng)
    got = ricci.evaluate(exprs, {k: torch.tensor(v) for k, v in inputs.items()})
    for g, e in zip(got, expected):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.float64
        np.testing.assert_allclose(_numpy_of(g), e, rtol=1e-10, atol=1e-12)


def test_torch_float32_requires_grad_and_autograd_through_the_program(rng):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'ricci[torch]'")
    W, x = ricci.Tensor(fresh_name("W"), (3, 4)), ricci.Tensor(fresh_name("x"), (4, "batch"))
    L = ricci.sum(ricci.tanh(W @ x) ** 2)
    g = ricci.grad(L, W)
    Wt = torch.tensor(rand((3, 4), rng), dtype=torch.float32, requires_grad=True)
    xt = torch.tensor(rand((4, 6), rng), dtype=torch.float32)
    value, grad = ricci.evaluate([L, g], {W.name: Wt, x.name: xt})
    assert value.dtype == torch.float32 and grad.dtype == torch.float32
    value.backward()  # torch's autograd through ricci's forward program ...
    np.testing.assert_allclose(Wt.grad.numpy(), grad.detach().numpy(), rtol=1e-5)  # ... equals ricci's gradient


def test_torch_backend_keyword_converts_numpy_inputs(rng):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'ricci[torch]'")
    x = ricci.Tensor(fresh_name("x"), (3,))
    out = ricci.evaluate(ricci.exp(x), {x.name: np.zeros(3)}, backend="torch")
    assert isinstance(out, torch.Tensor) and out.tolist() == [1.0, 1.0, 1.0]
    mixed = ricci.evaluate(x * np.arange(3.0), {x.name: torch.ones(3, dtype=torch.float64)})  # a numpy constant
    assert isinstance(mixed, torch.Tensor) and mixed.tolist() == [0.0, 1.0, 2.0]


def test_torch_cuda_when_present(rng):
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install 'ricci[torch]'")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the torch GPU path is not tested here")
    exprs, inputs, expected = _build(CASES[0].values[0], rng)
    got = ricci.evaluate(exprs, {k: torch.tensor(v, device="cuda") for k, v in inputs.items()})
    for g, e in zip(got, expected):
        assert g.device.type == "cuda"
        np.testing.assert_allclose(_numpy_of(g), e, rtol=1e-10, atol=1e-12)


# -- jax --------------------------------------------------------------------------------------
def _jax():
    jax = pytest.importorskip("jax", reason="jax is not installed: pip install 'ricci[jax]'")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("case", CASES)
def test_jax_matches_numpy_and_returns_jax_arrays(case, rng):
    jax = _jax()
    exprs, inputs, expected = _build(case, rng)
    got = ricci.evaluate(exprs, {k: jax.numpy.asarray(v) for k, v in inputs.items()})
    for g, e in zip(got, expected):
        assert isinstance(g, jax.Array) and g.dtype == np.float64
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-10, atol=1e-12)


def test_jax_program_runs_under_jit_and_vmap(rng):
    jax = _jax()
    W, x = ricci.Tensor(fresh_name("W"), (3, 4)), ricci.Tensor(fresh_name("x"), (4,))
    g = ricci.grad(ricci.sum(ricci.tanh(W @ x) ** 2), W)
    f = ricci.compile(g)
    Wv, xv = rand((3, 4), rng), rand((5, 4), rng)
    jitted = jax.jit(lambda a, b: f({W.name: a, x.name: b}))
    np.testing.assert_allclose(np.asarray(jitted(Wv, xv[0])), g.evaluate({W.name: Wv, x.name: xv[0]}), rtol=1e-12)
    batched = jax.vmap(lambda b: f({W.name: jax.numpy.asarray(Wv), x.name: b}))(xv)
    for i in range(5):
        np.testing.assert_allclose(np.asarray(batched[i]), g.evaluate({W.name: Wv, x.name: xv[i]}), rtol=1e-12)


# -- dask -------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [c for c in CASES if c.id in ("mlp", "layer_norm", "logistic")])
def test_dask_stays_lazy_and_matches_numpy(case, rng):
    da = pytest.importorskip("dask.array", reason="dask is not installed: pip install 'ricci[dask]'")
    exprs, inputs, expected = _build(case, rng)
    chunked = {k: da.from_array(v, chunks=tuple(max(1, n // 2) for n in v.shape)) for k, v in inputs.items()}
    got = ricci.evaluate(exprs, chunked)
    for g, e in zip(got, expected):
        assert isinstance(g, da.Array), type(g)  # a graph, not computed
        np.testing.assert_allclose(np.asarray(g.compute()), e, rtol=1e-10, atol=1e-12)


# -- errors and imports -------------------------------------------------------------------------
def test_two_libraries_in_one_call_is_an_input_error():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    jax = _jax()
    x, y = ricci.Tensor(fresh_name("x"), (2,)), ricci.Tensor(fresh_name("y"), (2,))
    with pytest.raises(ricci.InputError, match="different libraries"):
        ricci.evaluate(x * y, {x.name: torch.ones(2), y.name: jax.numpy.ones(2)})


def test_unknown_backend_is_an_input_error():
    x = ricci.Tensor(fresh_name("x"), (2,))
    with pytest.raises(ricci.InputError, match="unknown backend 'tensorflow'"):
        ricci.evaluate(x, {x.name: np.ones(2)}, backend="tensorflow")


def test_numpy_use_imports_no_framework():
    code = ("import sys, numpy as np, ricci\n"
            "x = ricci.Tensor('x', (3,))\n"
            "ricci.grad(ricci.sum(ricci.softplus(x)), x)(x=np.ones(3))\n"
            "print(sorted(m for m in ('torch', 'jax', 'dask', 'cupy', 'autoray') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
