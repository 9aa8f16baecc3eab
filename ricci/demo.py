"""The README demo: the fused gradient of a mini-batch RNN cell.

c = tanh(W_c c_prev + W_x x + b 1ᵀ), L = Σ c ⊙ G, and ricci derives dL/dW_x
= (G ⊙ (1 - c²)) xᵀ as one network. The textbook route builds the 4-D
Jacobian dc/du (n_c·m·n_c·m numbers); ricci never does.

>>> from ricci.demo import rnn_cell
>>> L, Wx = rnn_cell(8, 4, 2)[:2]
>>> L.shape, Wx.shape
((), (8, 4))
"""
import time
import tracemalloc

import numpy as np

import ricci


def rnn_cell(nc, nx, m):
    """The loss L = Σ tanh(W_c c_prev + W_x x + b 1ᵀ) ⊙ G and its variables."""
    Wc, Wx, b = ricci.Tensor("W_c", (nc, nc)), ricci.Tensor("W_x", (nc, nx)), ricci.Tensor("b", (nc,))
    c_prev, x, G = ricci.Tensor("c_prev", (nc, m)), ricci.Tensor("x", (nx, m)), ricci.Tensor("G", (nc, m))
    u = Wc @ c_prev + Wx @ x + b[:, None]  # the bias broadcasts over the batch (a shared index)
    L = ricci.einsum("ib,ib->", ricci.tanh(u), G)
    return L, Wx, [Wc, Wx, b, c_prev, x, G]


def random_inputs(variables, seed=0, dtype=np.float64):
    """Standard normal inputs (scaled by 1/sqrt(fan-in) for matrices) for each variable."""
    rng = np.random.default_rng(seed)
    return {v.name: (rng.standard_normal(v.shape) / np.sqrt(v.shape[-1] if v.ndim == 2 else 1)).astype(dtype)
            for v in variables}


def _fd_directional(L, var, inputs, direction, eps=1e-6):
    plus, minus = dict(inputs), dict(inputs)
    plus[var.name] = inputs[var.name] + eps * direction
    minus[var.name] = inputs[var.name] - eps * direction
    return (L.evaluate(plus) - L.evaluate(minus)) / (2 * eps)


def main(nc=1024, nx=512, m=64):
    """Derive, print, check and measure the RNN-cell gradient; returns 0 when the checks pass."""
    print(f"RNN cell c = tanh(W_c c_prev + W_x x + b 1ᵀ), L = Σ c ⊙ G,  n_c={nc}, n_x={nx}, m={m}\n")
    L, Wx, variables = rnn_cell(nc, nx, m)
    start = time.perf_counter()
    g = ricci.grad(L, Wx)
    derive_ms = (time.perf_counter() - start) * 1e3
    print(f"dL/dW_x, derived in {derive_ms:.1f} ms:\n  {g}\n  in matrix notation: {g.to_matrix()}\n")

    inputs = random_inputs(variables)
    g.evaluate(inputs)  # plan once
    tracemalloc.start()
    start = time.perf_counter()
    value = g.evaluate(inputs)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    direction = np.random.default_rng(1).standard_normal(Wx.shape)
    fd = _fd_directional(L, Wx, inputs, direction)
    ad = float(np.vdot(value, direction))
    relative = abs(ad - fd) / max(abs(fd), 1e-12)
    c = np.tanh(inputs["W_c"] @ inputs["c_prev"] + inputs["W_x"] @ inputs["x"] + inputs["b"][:, None])
    by_hand = (inputs["G"] * (1 - c**2)) @ inputs["x"].T
    agrees = np.allclose(value, by_hand, rtol=1e-10, atol=1e-12)

    jacobian_bytes = (nc * m) ** 2 * 8
    print(f"finite-difference check along a random direction: ricci {ad:.10g}, central FD {fd:.10g} "
          f"(relative difference {relative:.1e})")
    print(f"matches the hand-written (G ⊙ (1 - c²)) xᵀ: {agrees}")
    print(f"evaluation: {seconds * 1e3:.1f} ms, peak memory {peak / 2**20:.1f} MiB "
          f"(the result itself is {value.nbytes / 2**20:.1f} MiB); plan: {g.cost()}")
    print(f"memory avoided: the generalized Jacobian dc/du alone would hold (n_c·m)² = {(nc * m) ** 2:,} numbers "
          f"= {jacobian_bytes / 2**30:.0f} GiB in float64 ({jacobian_bytes / 2 / 2**30:.0f} GiB in float32), "
          f"{jacobian_bytes / peak:,.0f}x ricci's peak")
    return 0 if (relative < 1e-6 and agrees) else 1
