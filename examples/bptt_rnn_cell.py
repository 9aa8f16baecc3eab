"""Backpropagation through time for the recursive RNN cell.

Reproduces tutorial seed 000 ("Matrix Calculus" through the recursive portion of
BPTT in an RNN):

    a⟨t⟩ = tanh(W_aa a⟨t−1⟩ + W_ax x⟨t⟩ + b_a)          (a: n_a × m, x: n_x × m)

The tutorial's "rule 3" avoids the 4-D tensor ∂a⟨t⟩/∂W by hand; its answers are

    dtanh     = da⟨t⟩ ⊙ (1 − a⟨t⟩²)
    ∂J/∂W_ax  = dtanh x⟨t⟩ᵀ          ∂J/∂W_aa = dtanh a⟨t−1⟩ᵀ
    ∂J/∂b_a   = dtanh 1 (sum over the batch)
    ∂J/∂a⟨t−1⟩ = W_aaᵀ dtanh         ∂J/∂x⟨t⟩ = W_axᵀ dtanh

where da⟨t⟩ = ∂J/∂a⟨t⟩ is the gradient arriving from later in the sequence.
ricci derives all of them from J = Σ a⟨t⟩ ⊙ da⟨t⟩, with no 4-D tensor anywhere.

Then the cell is unrolled over T = 5 steps with shared weights and a cost at
every step, J = Σ_t Σ a⟨t⟩ ⊙ G⟨t⟩; ricci's gradients (one reverse sweep over the
shared DAG) are checked against the hand-written BPTT loop that accumulates the
per-step formulas above, and against finite differences.

Run: .venv/bin/python examples/bptt_rnn_cell.py
"""
import numpy as np

from _check import check, fd_grad, finish, random_inputs, section, show
import ricci

n_a, n_x, m, T = 4, 3, 2, 5


def cell(W_aa, W_ax, b_a, a_prev, x):
    """One step of the recursion: a⟨t⟩ = tanh(W_aa a⟨t−1⟩ + W_ax x⟨t⟩ + b_a 1ᵀ)."""
    u = (ricci.einsum("ij,jb->ib", W_aa, a_prev) + ricci.einsum("ij,jb->ib", W_ax, x)
         + ricci.einsum("i,b->ib", b_a, np.ones(x.shape[1])))
    return ricci.tanh(u)


W_aa, W_ax, b_a = ricci.Tensor("W_aa", (n_a, n_a)), ricci.Tensor("W_ax", (n_a, n_x)), ricci.Tensor("b_a", (n_a,))

# ---------------------------------------------------------------------------
section("One cell: the derivatives of the cost that the tutorial asks for")
a_prev, x, da = ricci.Tensor("a_prev", (n_a, m)), ricci.Tensor("x", (n_x, m)), ricci.Tensor("da_next", (n_a, m))
a = cell(W_aa, W_ax, b_a, a_prev, x)
J = ricci.einsum("ib,ib->", a, da)  # any cost whose gradient wrt a⟨t⟩ is da_next

wrt = {"a_prev": a_prev, "W_aa": W_aa, "W_ax": W_ax, "b_a": b_a, "x": x}
grads = dict(zip(wrt, ricci.grad(J, list(wrt.values()))))
for name, g in grads.items():
    show(f"∂J/∂{name}", g, names={"a_next": a})

inputs = random_inputs([W_aa, W_ax, b_a, a_prev, x, da], seed=0, scale=0.7)
values = dict(zip(grads, ricci.evaluate(list(grads.values()), inputs)))

# the tutorial's answers, in numpy
I = inputs
a_next = np.tanh(I["W_aa"] @ I["a_prev"] + I["W_ax"] @ I["x"] + I["b_a"][:, None])
dtanh = I["da_next"] * (1 - a_next**2)
closed = {"a_prev": I["W_aa"].T @ dtanh, "W_aa": dtanh @ I["a_prev"].T, "W_ax": dtanh @ I["x"].T,
          "b_a": dtanh.sum(axis=1), "x": I["W_ax"].T @ dtanh}
for name in grads:
    check(f"∂J/∂{name} = finite differences", values[name], fd_grad(J, inputs, name))
    check(f"∂J/∂{name} = the tutorial's formula", values[name], closed[name])

# ---------------------------------------------------------------------------
section(f"Unrolled over T={T} steps with shared weights, J = Σ_t Σ a⟨t⟩ ⊙ G⟨t⟩")
a0 = ricci.Tensor("a0", (n_a, m))
xs = [ricci.Tensor(f"x{t}", (n_x, m)) for t in range(1, T + 1)]
Gs = [ricci.Tensor(f"G{t}", (n_a, m)) for t in range(1, T + 1)]
states, a_t = {}, a0
for t in range(T):
    a_t = cell(W_aa, W_ax, b_a, a_t, xs[t])
    states[f"a{t + 1}"] = a_t
J_seq = sum(ricci.einsum("ib,ib->", a_t, G_t) for a_t, G_t in zip(states.values(), Gs))

params = {"W_aa": W_aa, "W_ax": W_ax, "b_a": b_a, "a0": a0}
seq_grads = dict(zip(params, ricci.grad(J_seq, list(params.values()))))
show("∂J/∂W_aa (one term per time step; a1..a5 are the forward states)", seq_grads["W_aa"], names=states)
show("∂J/∂a0 (the gradient flowing back through all five steps)", seq_grads["a0"], names=states)

inputs = random_inputs([W_aa, W_ax, b_a, a0, *xs, *Gs], seed=1, scale=0.7)
seq_values = dict(zip(seq_grads, ricci.evaluate(list(seq_grads.values()), inputs)))


def bptt_by_hand(I):
    """The tutorial's per-step formulas, accumulated backwards through time."""
    acts = [I["a0"]]
    for t in range(1, T + 1):
        acts.append(np.tanh(I["W_aa"] @ acts[-1] + I["W_ax"] @ I[f"x{t}"] + I["b_a"][:, None]))
    out = {"W_aa": 0.0, "W_ax": 0.0, "b_a": 0.0}
    da_next = np.zeros((n_a, m))
    for t in range(T, 0, -1):
        dtanh = (I[f"G{t}"] + da_next) * (1 - acts[t] ** 2)
        out["W_aa"] = out["W_aa"] + dtanh @ acts[t - 1].T
        out["W_ax"] = out["W_ax"] + dtanh @ I[f"x{t}"].T
        out["b_a"] = out["b_a"] + dtanh.sum(axis=1)
        da_next = I["W_aa"].T @ dtanh
    out["a0"] = da_next
    return out


by_hand = bptt_by_hand(inputs)
for name in params:
    check(f"∂J/∂{name} = finite differences", seq_values[name], fd_grad(J_seq, inputs, name))
    check(f"∂J/∂{name} = hand-written BPTT", seq_values[name], by_hand[name])

finish()
