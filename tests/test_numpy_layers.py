"""Issue 9's acceptance: real layers written the numpy way, with a symbolic batch dimension.

Layer norm, attention with a causal mask, logistic regression with softplus and a
2-layer MLP with broadcast biases are each derived ONCE and evaluated at two batch
sizes; gradients match central finite differences of an independent numpy
implementation, and torch's autograd where torch is installed.
"""
import numpy as np
import pytest

import ricci
from conftest import fd_grad, fresh_name, rand

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

BATCHES = (5, 9)
EPS = 1e-5


def _check(L, wrt, numpy_loss, torch_loss, make_inputs, rng):
    """Derive dL/d(wrt) once; at every batch size compare with FD and torch."""
    grads = [ricci.grad(L, w) for w in wrt]
    for n in BATCHES:
        inputs = make_inputs(n, rng)
        np.testing.assert_allclose(L.evaluate(inputs), numpy_loss(inputs), rtol=1e-12, atol=1e-12)
        values = [g.evaluate(inputs) for g in grads]
        for w, got in zip(wrt, values):
            expected = fd_grad(numpy_loss, inputs, w.name)
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8, err_msg=f"d/d{w.name} at batch {n}")
        if torch is not None:
            t_in = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
            torch_loss(t_in).backward()
            for w, got in zip(wrt, values):
                np.testing.assert_allclose(got, t_in[w.name].grad.numpy(), rtol=1e-10, atol=1e-12)
    return grads


def test_torch_comparison_runs_or_says_why():
    if torch is None:
        pytest.skip("torch is not installed: the layer tests compare with finite differences only")


def test_layer_norm(rng):
    D = 6
    X = ricci.Tensor(fresh_name("X"), ("batch", D))
    G = ricci.Tensor(fresh_name("G"), ("batch", D))
    gamma, beta = ricci.Tensor(fresh_name("gamma"), (D,)), ricci.Tensor(fresh_name("beta"), (D,))
    mu = X.mean(axis=1, keepdims=True)
    xc = X - mu
    var = (xc * xc).mean(axis=1, keepdims=True)
    y = xc / ricci.sqrt(var + EPS) * gamma + beta
    L = ricci.sum(ricci.tanh(y) * G)

    def numpy_loss(d):
        x = d[X.name]
        xc = x - x.mean(1, keepdims=True)
        y = xc / np.sqrt((xc**2).mean(1, keepdims=True) + EPS) * d[gamma.name] + d[beta.name]
        return np.sum(np.tanh(y) * d[G.name])

    def torch_loss(d):
        y = torch.nn.functional.layer_norm(d[X.name], (D,), d[gamma.name], d[beta.name], eps=EPS)
        return torch.sum(torch.tanh(y) * d[G.name])

    def make_inputs(n, rng):
        return {X.name: rand((n, D), rng) * 2, G.name: rand((n, D), rng),
                gamma.name: rand((D,), rng), beta.name: rand((D,), rng)}

    grads = _check(L, [X, gamma, beta], numpy_loss, torch_loss, make_inputs, rng)
    assert grads[0].shape == ("batch", D)


def test_causal_attention(rng):
    T, d = 5, 4
    X = ricci.Tensor(fresh_name("X"), ("batch", T, d))
    G = ricci.Tensor(fresh_name("G"), ("batch", T, d))
    Wq, Wk, Wv = (ricci.Tensor(fresh_name(n), (d, d)) for n in ("Wq", "Wk", "Wv"))
    causal = np.tril(np.ones((T, T), dtype=bool))
    Q, K, V = (ricci.einsum("btd,de->bte", X, W) for W in (Wq, Wk, Wv))
    scores = ricci.einsum("bte,bse->bts", Q, K) / np.sqrt(d)
    A = ricci.softmax(ricci.where(causal, scores, -1e9), axis=-1)
    out = ricci.einsum("bts,bse->bte", A, V)
    L = ricci.sum(out * G)

    def numpy_loss(dd):
        x = dd[X.name]
        q, k, v = (x @ dd[w.name] for w in (Wq, Wk, Wv))
        s = np.where(causal, q @ np.swapaxes(k, 1, 2) / np.sqrt(d), -1e9)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        return np.sum((a @ v) * dd[G.name])

    def torch_loss(dd):
        x = dd[X.name]
        q, k, v = (x @ dd[w.name] for w in (Wq, Wk, Wv))
        s = (q @ k.transpose(1, 2)) / np.sqrt(d)
        s = s.masked_fill(~torch.tensor(causal), -1e9)
        return torch.sum((torch.softmax(s, -1) @ v) * dd[G.name])

    def make_inputs(n, rng):
        return {X.name: rand((n, T, d), rng), G.name: rand((n, T, d), rng),
                **{w.name: rand((d, d), rng) for w in (Wq, Wk, Wv)}}

    _check(L, [Wq, Wk, Wv, X], numpy_loss, torch_loss, make_inputs, rng)


def test_logistic_regression_with_softplus(rng):
    p = 7
    X = ricci.Tensor(fresh_name("X"), ("batch", p))
    y = ricci.Tensor(fresh_name("y"), ("batch",))
    w, b = ricci.Tensor(fresh_name("w"), (p,)), ricci.Tensor(fresh_name("b"), ())
    z = X @ w + b
    L = ricci.mean(ricci.softplus(z) - y * z)

    def numpy_loss(d):
        z = d[X.name] @ d[w.name] + d[b.name]
        return np.mean(np.logaddexp(0, z) - d[y.name] * z)

    def torch_loss(d):
        z = d[X.name] @ d[w.name] + d[b.name]
        return torch.nn.functional.binary_cross_entropy_with_logits(z, d[y.name])

    def make_inputs(n, rng):
        return {X.name: rand((n, p), rng) * 3, y.name: (rng.random(n) > 0.5).astype(float),
                w.name: rand((p,), rng), b.name: np.array(rng.normal())}

    _check(L, [w, b], numpy_loss, torch_loss, make_inputs, rng)
    # the Hessian-vector product, derived once with a symbolic direction
    v = ricci.Tensor(fresh_name("v"), (p,))
    hv = ricci.hvp(L, w, v)
    for n in BATCHES:
        inputs = make_inputs(n, rng)
        vv = rand((p,), rng)
        s = 1 / (1 + np.exp(-(inputs[X.name] @ inputs[w.name] + inputs[b.name])))
        x = inputs[X.name]
        expected = x.T @ (s * (1 - s) * (x @ vv)) / n
        np.testing.assert_allclose(hv.evaluate({**inputs, v.name: vv}), expected, rtol=1e-10)


def test_two_layer_mlp_with_broadcast_biases(rng):
    din, hidden, dout = 4, 8, 3
    X = ricci.Tensor(fresh_name("X"), ("batch", din))
    Y = ricci.Tensor(fresh_name("Y"), ("batch", dout))
    W1, b1 = ricci.Tensor(fresh_name("W1"), (din, hidden)), ricci.Tensor(fresh_name("b1"), (hidden,))
    W2, b2 = ricci.Tensor(fresh_name("W2"), (hidden, dout)), ricci.Tensor(fresh_name("b2"), (dout,))
    h = ricci.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    L = ricci.mean((out - Y) ** 2)

    def numpy_loss(d):
        h = np.tanh(d[X.name] @ d[W1.name] + d[b1.name])
        return np.mean((h @ d[W2.name] + d[b2.name] - d[Y.name]) ** 2)

    def torch_loss(d):
        h = torch.tanh(d[X.name] @ d[W1.name] + d[b1.name])
        return torch.mean((h @ d[W2.name] + d[b2.name] - d[Y.name]) ** 2)

    def make_inputs(n, rng):
        return {X.name: rand((n, din), rng), Y.name: rand((n, dout), rng),
                W1.name: rand((din, hidden), rng), b1.name: rand((hidden,), rng),
                W2.name: rand((hidden, dout), rng), b2.name: rand((dout,), rng)}

    grads = _check(L, [W1, b1, W2, b2], numpy_loss, torch_loss, make_inputs, rng)
    # no ones vector anywhere in the derived network: biases broadcast as shared indices
    from ricci.expr import Constant, topological_order

    for node in topological_order(grads):
        assert not (isinstance(node, Constant) and node.value.ndim and np.all(node.value == 1))
