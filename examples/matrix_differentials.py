"""Differentials, the trace trick, and Magnus & Neudecker's table.

Reproduces tutorial seed 003 (the answers to "Neural Network matrix calculus"):

1. f(y) = yᵀy with y = g(W) = Wx. The chain rule for differentials gives
       d[f(g(W))] = 2yᵀ dW x,
   and the trace trick turns it into a gradient:
       2yᵀ dW x = tr(2 x yᵀ dW) = tr(A′ dW)  ⇒  ∂f/∂W = A = 2 y xᵀ.
   (The answer writes E′ = y xᵀ: its trace step drops the factor 2.)
   In ricci the differential is a jvp with a symbolic tangent dW, and the
   gradient is grad — no trace trick needed, because an index contraction
   already says which index meets which.

2. Magnus & Neudecker's table, each entry as a differential (a jvp with a
   symbolic dX) and, for scalars, a gradient:
       d tr(AX)   = tr(A dX)               ∂/∂X = Aᵀ
       d det X    = det X tr(X⁻¹ dX)       ∂/∂X = det X X⁻ᵀ
       d log det X = tr(X⁻¹ dX)            ∂/∂X = X⁻ᵀ   (det X > 0)
       d X⁻¹      = −X⁻¹ dX X⁻¹            (matrix-valued: a jvp, or the 4-D Jacobian)

Every entry is checked against central finite differences and the closed form,
and every differential against ⟨gradient, dX⟩ — the inner-product notation
dφ = G : dX of the second answer.

Run: .venv/bin/python examples/matrix_differentials.py
"""
import numpy as np

from _check import check, fd_grad, fd_jacobian, fd_jvp, finish, random_inputs, section, show
import ricci

rng = np.random.default_rng(0)

# ---------------------------------------------------------------------------
section("1. d(yᵀy) with y = Wx: the differential 2yᵀ dW x and the gradient 2yxᵀ")
W, x, dW = ricci.Tensor("W", (3, 4)), ricci.Tensor("x", (4,)), ricci.Tensor("dW", (3, 4))
y = ricci.einsum("ij,j->i", W, x)
f = ricci.einsum("i,i->", y, y)
differential = ricci.jvp(f, W, dW)  # the tangent dW stays symbolic
gradient = ricci.grad(f, W)
show("d f  (jvp with a symbolic tangent dW)", differential)
show("∂f/∂W", gradient)
print("With y = Wx these read 2 (Wx)ᵀ dW x = 2 yᵀ dW x and 2 (Wx) xᵀ = 2 y xᵀ.")

I = random_inputs([W, x, dW], seed=1)
y_val = I["W"] @ I["x"]
check("d f = 2 yᵀ dW x", differential.evaluate(I), 2 * y_val @ I["dW"] @ I["x"])
check("d f = finite difference along dW", differential.evaluate(I), fd_jvp(f, I, "W", I["dW"]))
check("trace trick: 2 yᵀ dW x = tr(2 x yᵀ dW)", differential.evaluate(I), np.trace(2 * np.outer(I["x"], y_val) @ I["dW"]))
check("∂f/∂W = 2 y xᵀ", gradient.evaluate(I), 2 * np.outer(y_val, I["x"]))
check("∂f/∂W = finite differences", gradient.evaluate(I), fd_grad(f, I, "W"))

# The trace trick itself is the first table entry: tr(A′ dW) has gradient A′ᵀ.
A_prime = ricci.Tensor("A′", (4, 3))
trick = ricci.trace(ricci.einsum("ij,jk->ik", A_prime, dW))
show("∂ tr(A′ dW)/∂dW  (read the gradient off tr(A′ dW))", ricci.grad(trick, dW))
check("with A′ = 2 x yᵀ it is the gradient 2 y xᵀ", ricci.grad(trick, dW).evaluate({**I, "A′": 2 * np.outer(I["x"], y_val)}),
      gradient.evaluate(I))

# ---------------------------------------------------------------------------
section("2. Magnus & Neudecker's table")
n = 3
X, A, dX = ricci.Tensor("X", (n, n)), ricci.Tensor("A", (n, n)), ricci.Tensor("dX", (n, n))
I = {"X": 2.5 * np.eye(n) + rng.standard_normal((n, n)), "A": rng.standard_normal((n, n)),
     "dX": rng.standard_normal((n, n))}
Xv, Av, dXv = I["X"], I["A"], I["dX"]
Xinv = np.linalg.inv(Xv)
assert np.linalg.det(Xv) > 0, "log det needs det X > 0"

table = [  # (name, scalar function of X, closed-form differential, closed-form gradient)
    ("tr(AX)", ricci.trace(ricci.einsum("ij,jk->ik", A, X)), np.trace(Av @ dXv), Av.T),
    ("det X", ricci.det(X), np.linalg.det(Xv) * np.trace(Xinv @ dXv), np.linalg.det(Xv) * Xinv.T),
    ("log det X", ricci.logdet(X), np.trace(Xinv @ dXv), Xinv.T),
]
for name, phi, d_closed, g_closed in table:
    d_phi, g_phi = ricci.jvp(phi, X, dX), ricci.grad(phi, X)
    show(f"d {name}", d_phi)
    show(f"∂ {name}/∂X", g_phi)
    d_val, g_val = d_phi.evaluate(I), g_phi.evaluate(I)
    check(f"d {name}: closed form", d_val, d_closed)
    check(f"d {name}: finite difference along dX", d_val, fd_jvp(phi, I, "X", dXv))
    check(f"∂ {name}/∂X: closed form", g_val, g_closed)
    check(f"∂ {name}/∂X: finite differences", g_val, fd_grad(phi, I, "X"))
    check(f"d {name} = ⟨∂ {name}/∂X, dX⟩", d_val, np.vdot(g_val, dXv))

inverse = ricci.inv(X)
d_inv = ricci.jvp(inverse, X, dX)
show("d X⁻¹", d_inv)
check("d X⁻¹ = −X⁻¹ dX X⁻¹", d_inv.evaluate(I), -Xinv @ dXv @ Xinv)
check("d X⁻¹: finite difference along dX", d_inv.evaluate(I), fd_jvp(inverse, I, "X", dXv))
jac_inv = ricci.jacobian(inverse, X)
show("∂X⁻¹/∂X  (the 4-D Jacobian: ∂(X⁻¹)_ij/∂X_kl = −(X⁻¹)_ik (X⁻¹)_lj)", jac_inv)
check("∂X⁻¹/∂X = −(X⁻¹)_ik (X⁻¹)_lj", jac_inv.evaluate(I), -np.einsum("ik,lj->ijkl", Xinv, Xinv))
check("∂X⁻¹/∂X: finite differences", jac_inv.evaluate(I), fd_jacobian(inverse, I, "X"))

finish()
