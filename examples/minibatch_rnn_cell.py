"""The mini-batch RNN cell and the 4-D Jacobian nobody should store.

Reproduces tutorial seed 002 (Mao Feng, "Chain rule for derivatives of
matrix-valued functions in deep learning"):

    c_t = tanh(u_t),   u_t = W_c c_{t−1} + W_x x_t + b 1ᵀ
    c_t: n_c × m,  W_x: n_c × n_x,  x_t: n_x × m   (m = batch size)

The tutorial shows that the textbook chain rule ∂J/∂W_x = ∂J/∂c_t ∂c_t/∂u_t ∂u_t/∂W_x
does not even type-check with matrices, that the generalized Jacobian ∂c_t/∂u_t
would hold (n_c·m)² numbers (16 GB in float32 at n_c = 1024, m = 64), and derives
by hand

    ∂J/∂W_x = (∂J/∂c_t ⊙ (1 − c_t²)) x_tᵀ.

ricci derives the same formula mechanically as one tensor network. This script
prints it, shows what the 4-D Jacobian would cost next to ricci's planned largest
intermediate at n_c=1024, n_x=512, m=64, checks the gradient there against the
closed form and a directional finite difference, and checks every gradient of the
cell against full central finite differences at a small size.

Run: .venv/bin/python examples/minibatch_rnn_cell.py
"""
import numpy as np
from _check import (
    check,
    check_true,
    fd_grad,
    fd_jvp,
    finish,
    nbytes,
    random_inputs,
    section,
    show,
)

import ricci


def rnn_cell(n_c, n_x, m):
    """J = Σ c_t ⊙ dJ_dc: a cost whose gradient wrt c_t is the tensor dJ_dc arriving from above."""
    W_c, W_x, b = ricci.Tensor("W_c", (n_c, n_c)), ricci.Tensor("W_x", (n_c, n_x)), ricci.Tensor("b", (n_c,))
    c_prev, x_t, dJ_dc = ricci.Tensor("c_prev", (n_c, m)), ricci.Tensor("x_t", (n_x, m)), ricci.Tensor("dJ_dc", (n_c, m))
    u = W_c @ c_prev + W_x @ x_t + b[:, None]  # the bias broadcasts over the batch, as in numpy
    c = ricci.tanh(u)
    J = ricci.einsum("ib,ib->", c, dJ_dc)
    return J, c, {"W_x": W_x, "W_c": W_c, "b": b, "c_prev": c_prev, "x_t": x_t, "dJ_dc": dJ_dc}


def closed_form(I):
    """The tutorial's result, (∂J/∂c ⊙ (1 − c²)) x_tᵀ, and its siblings for W_c, b, c_{t−1}."""
    c = np.tanh(I["W_c"] @ I["c_prev"] + I["W_x"] @ I["x_t"] + I["b"][:, None])
    delta = I["dJ_dc"] * (1 - c**2)
    return {"W_x": delta @ I["x_t"].T, "W_c": delta @ I["c_prev"].T, "b": delta.sum(axis=1),
            "c_prev": I["W_c"].T @ delta}


# ---------------------------------------------------------------------------
n_c, n_x, m = 1024, 512, 64
section(f"The derivation at n_c={n_c}, n_x={n_x}, m={m}")
J, c, T = rnn_cell(n_c, n_x, m)
g = ricci.grad(J, T["W_x"])
show("∂J/∂W_x", g, names={"c": c})
print("The textbook product ∂J/∂c_t (1 − c_t²) x_tᵀ would multiply "
      f"({n_c}×{m})({n_c}×{m})({m}×{n_x}) matrices: it does not type-check; the ⊙ above is what it means.")

# ---------------------------------------------------------------------------
section("Memory: the generalized Jacobian against ricci's plan")
u = ricci.Tensor("u", (n_c, m))
dc_du = ricci.jacobian(ricci.tanh(u), u)  # lazy: shape (n_c, m, n_c, m)
numbers = (n_c * m) ** 2
print(f"∂c_t/∂u_t has shape {dc_du.shape}: {numbers:,} numbers = {nbytes(4 * numbers)} in float32, "
      f"{nbytes(8 * numbers)} in float64")
print(f"ricci.jacobian(c, u).cost(): {dc_du.cost()}")
print(f"ricci.jacobian(c, W_x).cost(): {ricci.jacobian(c, T['W_x']).cost()}")
plan = g.cost()
print(f"ricci.grad(J, W_x).cost():   {plan}")
check_true("the 4-D Jacobian is 16 GiB in float32, as the tutorial says", 4 * numbers == 16 * 2**30)
check_true("ricci's largest intermediate is no bigger than the gradient itself (n_c·n_x)",
           plan.largest_intermediate <= n_c * n_x, f"{plan.largest_intermediate:,} elements, "
           f"{numbers // plan.largest_intermediate:,}x smaller than ∂c/∂u")

try:
    dc_du.evaluate({"u": np.zeros((n_c, m))})
    check_true("evaluating the dense 4-D Jacobian is refused by the memory budget", False)
except ricci.MemoryBudgetError as error:
    check_true("evaluating the dense 4-D Jacobian is refused by the memory budget", True)
    print(f"       ricci says: {str(error)[:150]}...")
factored = dc_du.evaluate({"u": np.random.default_rng(0).standard_normal((n_c, m))}, structured=True)
print(f"evaluate(..., structured=True): {factored!r}")
check_true("∂c/∂u = diag(1 − c²) is stored as an n_c×m core times two deltas",
           isinstance(factored, ricci.Structured) and factored.core.shape == (n_c, m)
           and factored.deltas == ((0, 2), (1, 3)))

# ---------------------------------------------------------------------------
section(f"Numbers at full size ({n_c}, {n_x}, {m})")
inputs = random_inputs(T.values(), seed=0)
inputs["W_c"] /= np.sqrt(n_c)
inputs["W_x"] /= np.sqrt(n_x)
value = g.evaluate(inputs)
check("∂J/∂W_x = (∂J/∂c ⊙ (1 − c²)) x_tᵀ", value, closed_form(inputs)["W_x"], rtol=1e-10, atol=1e-12)
direction = np.random.default_rng(1).standard_normal((n_c, n_x))
check("⟨∂J/∂W_x, V⟩ = directional finite difference", np.vdot(value, direction),
      fd_jvp(J, inputs, "W_x", direction), rtol=1e-6)

# ---------------------------------------------------------------------------
small = (5, 3, 4)
section(f"Every gradient of the cell against full finite differences at (n_c, n_x, m) = {small}")
J, c, T = rnn_cell(*small)
wrt = ["W_x", "W_c", "b", "c_prev"]
grads = ricci.grad(J, [T[name] for name in wrt])
show("∂J/∂b", grads[2], names={"c": c})
inputs = random_inputs(T.values(), seed=2, scale=0.6)
hand = closed_form(inputs)
for name, value in zip(wrt, ricci.evaluate(grads, inputs)):
    check(f"∂J/∂{name} = finite differences", value, fd_grad(J, inputs, name))
    check(f"∂J/∂{name} = closed form", value, hand[name], rtol=1e-10, atol=1e-12)

finish()
