"""The Matrix Calculus You Need For Deep Learning (Parr & Howard), rule by rule.

Reproduces tutorial seed 001 (notes on the paper by Terence Parr and Jeremy Howard):

1. Partial derivatives and gradients: f(x, y) = 3x²y has ∇f = [6xy, 3x²];
   g(x, y) = 2x + y⁸ has ∇g = [2, 8y⁷]; stacked, they are the Jacobian.
2. Element-wise binary operations y = w ○ x (○ = +, −, ⊙, ⊘): the Jacobians
   ∂y/∂w and ∂y/∂x are diagonal — diag(1), diag(−1), diag(x), diag(w),
   diag(1/x), diag(−w/x²). ricci's Jacobian of an element-wise operation is a
   vector times a Kronecker delta, and evaluate(..., structured=True) should
   store it as its n diagonal entries (a ricci.Structured), not n² numbers.
3. Vector sum reduction: y = sum(x) has ∂y/∂x = 1ᵀ; y = sum(x z) with a scalar z
   has ∂y/∂x = z 1ᵀ and ∂y/∂z = sum(x).
4. The three chain rules:
   - single-variable: y = sin(x²), dy/dx = 2x cos(x²);
   - total derivative: y = x + x² uses x twice (u = x², y = x + u), so
     dy/dx = ∂y/∂x + ∂y/∂u du/dx = 1 + 2x — ricci sums over every use of x;
   - vector chain rule: ∂f(g(x))/∂x = (∂f/∂g)(∂g/∂x), for the paper's
     y = [ln(x²), sin(3x)] and for f = tanh(Wx) with a vector x.

Everything is checked against central finite differences and the closed forms.

Run: .venv/bin/python examples/parr_howard.py
"""
import numpy as np

from _check import check, check_true, fd_grad, fd_jacobian, finish, section, show
import ricci

rng = np.random.default_rng(0)

# ---------------------------------------------------------------------------
section("1. Partial derivatives, gradients and the Jacobian")
x, y = ricci.Tensor("x", ()), ricci.Tensor("y", ())
f = 3 * x**2 * y
g = 2 * x + y**8
at = {"x": np.array(1.5), "y": np.array(0.8)}
xv, yv = 1.5, 0.8
for name, h, closed in [("f = 3x²y", f, [6 * xv * yv, 3 * xv**2]), ("g = 2x + y⁸", g, [2.0, 8 * yv**7])]:
    dx, dy = ricci.grad(h, [x, y])
    show(f"∂({name})/∂x", dx)
    show(f"∂({name})/∂y", dy)
    grad_val = [float(v) for v in ricci.evaluate([dx, dy], at)]
    check(f"∇({name}) = closed form", grad_val, closed)
    check(f"∇({name}) = finite differences", grad_val, [fd_grad(h, at, "x"), fd_grad(h, at, "y")])

# ---------------------------------------------------------------------------
section("2. Element-wise binary operations: diagonal Jacobians")
n = 4
w, v = ricci.Tensor("w", (n,)), ricci.Tensor("x", (n,))
at = {"w": rng.uniform(0.5, 2, n), "x": rng.uniform(0.5, 2, n)}
W_, X_ = at["w"], at["x"]
operations = [  # (name, y, closed-form diagonal of ∂y/∂w, of ∂y/∂x)
    ("w + x", w + v, np.ones(n), np.ones(n)),
    ("w − x", w - v, np.ones(n), -np.ones(n)),
    ("w ⊙ x", w * v, X_, W_),
    ("w ⊘ x", w / v, 1 / X_, -W_ / X_**2),
]
for name, out, diag_w, diag_x in operations:
    for wrt, diagonal in ((w, diag_w), (v, diag_x)):
        jac = ricci.jacobian(out, wrt)
        show(f"∂({name})/∂{wrt.name}", jac)
        check(f"∂({name})/∂{wrt.name} = diag(closed form)", jac.evaluate(at), np.diag(diagonal))
        check(f"∂({name})/∂{wrt.name} = finite differences", jac.evaluate(at), fd_jacobian(out, at, wrt.name))
        stored = jac.evaluate(at, structured=True)
        check_true(f"∂({name})/∂{wrt.name} is stored factored, as at most its {n} diagonal entries",
                   isinstance(stored, ricci.Structured) and stored.deltas == ((0, 1),) and stored.core.size <= n,
                   f"got {stored!r}" if isinstance(stored, ricci.Structured) else f"got a dense {type(stored).__name__}")

# ---------------------------------------------------------------------------
section("3. Vector sum reduction")
z = ricci.Tensor("z", ())
at = {"x": rng.standard_normal(n), "z": np.array(1.7)}
s = ricci.sum(v)
show("∂ sum(x)/∂x", ricci.grad(s, v))
check("∂ sum(x)/∂x = 1ᵀ", ricci.grad(s, v).evaluate(at), np.ones(n))
xz = ricci.einsum("i,->i", v, z)  # x z: the scalar z expanded over x
s2 = ricci.sum(xz)
d_x, d_z = ricci.grad(s2, [v, z])
show("∂ sum(x z)/∂x", d_x)
show("∂ sum(x z)/∂z", d_z)
check("∂ sum(x z)/∂x = z 1ᵀ", d_x.evaluate(at), 1.7 * np.ones(n))
check("∂ sum(x z)/∂z = sum(x)", d_z.evaluate(at), at["x"].sum())
check("∂ sum(x z)/∂x = finite differences", d_x.evaluate(at), fd_grad(s2, at, "x"))
check("∂ sum(x z)/∂z = finite differences", d_z.evaluate(at), fd_grad(s2, at, "z"))

# ---------------------------------------------------------------------------
section("4a. Single-variable chain rule: y = sin(x²)")
at = {"x": np.array(0.9)}
y1 = ricci.sin(x**2)
show("dy/dx", ricci.grad(y1, x))
check("d sin(x²)/dx = 2x cos(x²)", ricci.grad(y1, x).evaluate(at), 2 * 0.9 * np.cos(0.9**2))
check("d sin(x²)/dx = finite difference", ricci.grad(y1, x).evaluate(at), fd_grad(y1, at, "x"))

section("4b. Total-derivative chain rule: y = x + x², with x used twice")
u = ricci.Tensor("u", ())  # stand-in for the intermediate u = x²
y_of_x_u = x + u
partial_x, partial_u = ricci.grad(y_of_x_u, [x, u])
print(f"With u = x² held fixed: ∂y/∂x = {partial_x}, ∂y/∂u = {partial_u}; and du/dx = {ricci.grad(x**2, x)}.")
y2 = x + x**2
show("dy/dx (the total derivative: ricci sums over both uses of x)", ricci.grad(y2, x))
total = ricci.grad(y2, x).evaluate(at)
check("dy/dx = ∂y/∂x + ∂y/∂u du/dx = 1 + 2x", total,
      partial_x.evaluate(at) + partial_u.evaluate(at) * ricci.grad(x**2, x).evaluate(at))
check("dy/dx = 1 + 2x", total, 1 + 2 * 0.9)
check("dy/dx = finite difference", total, fd_grad(y2, at, "x"))
y3 = ricci.sin(x + x**2)
show("d sin(x + x²)/dx", ricci.grad(y3, x))
check("d sin(x + x²)/dx = cos(x + x²)(1 + 2x)", ricci.grad(y3, x).evaluate(at), np.cos(0.9 + 0.81) * (1 + 1.8))
check("d sin(x + x²)/dx = finite difference", ricci.grad(y3, x).evaluate(at), fd_grad(y3, at, "x"))

section("4c. Vector chain rule: ∂f(g(x))/∂x = (∂f/∂g)(∂g/∂x)")
e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def g_of(x):
    """g(x) = [x², 3x]."""
    return ricci.einsum(",i->i", x**2, e1) + ricci.einsum(",i->i", 3 * x, e2)


def f_of(g):
    """f(g) = [ln g₁, sin g₂]."""
    return ricci.log(g) * e1 + ricci.sin(g) * e2


xv = 0.7
at = {"x": np.array(xv)}
# Component by component, each entry is a single-variable chain rule:
show("∂y₁/∂x for y₁ = ln(x²)", ricci.grad(ricci.log(x**2), x))
show("∂y₂/∂x for y₂ = sin(3x)", ricci.grad(ricci.sin(3 * x), x))
# As vectors (the two components' different functions are written with masks e1, e2,
# which makes the printed network unenlightening, so only its values are shown):
y_vec = f_of(g_of(x))
dy_dx = ricci.jacobian(y_vec, x)
check("∂y/∂x = [2/x, 3 cos(3x)]", dy_dx.evaluate(at), [2 / xv, 3 * np.cos(3 * xv)])
check("∂y/∂x = finite differences", dy_dx.evaluate(at), fd_jacobian(y_vec, at, "x"))
G = ricci.Tensor("g", (2,))  # stand-in for g, to take ∂f/∂g on its own
df_dg = ricci.jacobian(f_of(G), G).evaluate({"g": g_of(x).evaluate(at)})
dg_dx = ricci.jacobian(g_of(x), x).evaluate(at)
print(f"∂f/∂g = {np.round(df_dg, 4).tolist()} (diagonal), ∂g/∂x = {dg_dx.tolist()}")
check("∂y/∂x = (∂f/∂g)(∂g/∂x)", dy_dx.evaluate(at), df_dg @ dg_dx)

m = 3
Wm, xs = ricci.Tensor("W", (m, n)), ricci.Tensor("x", (n,))
act = ricci.tanh(ricci.einsum("ij,j->i", Wm, xs))
jac = ricci.jacobian(act, xs)
show("∂ tanh(Wx)/∂x", jac, names={"y": act})
at = {"W": rng.standard_normal((m, n)), "x": rng.standard_normal(n)}
yv = np.tanh(at["W"] @ at["x"])
Gm = ricci.Tensor("g", (m,))
df_dg = ricci.jacobian(ricci.tanh(Gm), Gm).evaluate({"g": at["W"] @ at["x"]})
dg_dx = ricci.jacobian(ricci.einsum("ij,j->i", Wm, xs), xs).evaluate(at)
check("∂ tanh(Wx)/∂x = diag(1 − y²) W", jac.evaluate(at), np.diag(1 - yv**2) @ at["W"])
check("∂ tanh(Wx)/∂x = (∂f/∂g)(∂g/∂x)", jac.evaluate(at), df_dg @ dg_dx)
check("∂ tanh(Wx)/∂x = finite differences", jac.evaluate(at), fd_jacobian(act, at, "x"))

finish()
