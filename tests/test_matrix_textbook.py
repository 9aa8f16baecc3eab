"""Matrix notation as the textbooks print it: the Matrix Cookbook's standard results and the seeds' derivations.

Each case cites its source: "MC (n)" is equation n of the Matrix Cookbook
(Petersen & Pedersen, 2012); the seeds are the tutorials in shared/seeds/.
Every printed term is also evaluated with numpy matrix algebra, so the text
the textbook pass writes stays equal to the expression.
"""
import numpy as np
import pytest

import ricci
from ricci.notation import _Matrix, to_matrix
from ricci.notation.matrix_simplify import fraction, textbook

E, T = ricci.einsum, ricci.Tensor
N = 5  # samples in the regression problems


def cases():
    A, B, X = T("A", (3, 3)), T("B", (3, 3)), T("X", (3, 3))
    a, b, x = T("a", (3,)), T("b", (3,)), T("x", (3,))
    Xd, w, y, v = T("X", (N, 3)), T("w", (3,)), T("y", (N,)), T("v", (3,))
    s = ricci.sigmoid(Xd @ w)
    logistic = ricci.mean(ricci.softplus(Xd @ w) - y * (Xd @ w))  # −mean(y log s + (1 − y) log(1 − s))
    r = Xd @ w - y
    from ricci.demo import rnn_cell
    L, Wx, _ = rnn_cell(5, 4, 3)
    c = next(n for n in _walk(L) if isinstance(n, ricci.Expr) and getattr(n, "primitive", None) is not None
             and n.primitive.name == "tanh")
    return [
        # (id, expression, names, text, LaTeX or None)
        ("tr(AX)", ricci.grad(ricci.trace(A @ X), X), None, "Aᵀ", r"A^\top"),  # MC (100)
        ("tr(XA)", ricci.grad(ricci.trace(X @ A), X), None, "Aᵀ", None),  # MC (101)
        ("tr(AXB)", ricci.grad(ricci.trace(A @ X @ B), X), None, "AᵀBᵀ", r"A^\top B^\top"),  # MC (102)
        ("tr(XᵀAX)", ricci.grad(ricci.trace(X.T @ A @ X), X), None, "(A + Aᵀ)X", None),  # MC (117)
        ("aᵀXb", ricci.grad(E("i,ij,j->", a, X, b), X), None, "abᵀ", r"a b^\top"),  # MC (70)
        ("aᵀXᵀb", ricci.grad(E("i,ji,j->", a, X, b), X), None, "baᵀ", None),  # MC (71)
        ("log det X", ricci.grad(ricci.logdet(X), X), None, "X⁻ᵀ", r"X^{-\top}"),  # MC (57)
        ("det X", ricci.grad(ricci.det(X), X), None, "det(X) X⁻ᵀ", r"\det\left(X\right) X^{-\top}"),  # MC (49)
        ("‖X‖²_F", ricci.grad(ricci.norm2(X), X), None, "2 X", None),  # MC (103)
        ("‖X‖_F", ricci.grad(ricci.norm(X), X), None, "X / ‖X‖",  # MC (127)
         r"\frac{X}{\left\lVert X \right\rVert}"),
        ("xᵀAx", ricci.grad(E("i,ij,j->", x, A, x), x), None, "(A + Aᵀ)x", None),  # MC (81)
        ("‖Xw − y‖²", ricci.grad(E("i,i->", r, r), w), None, "2 Xᵀ(Xw − y)",  # MC (84), least squares
         r"2 X^\top \left(X w - y\right)"),
        # seed 002 (eq. 8): ∂J/∂W_x = (∂J/∂c ⊙ (1 − c²)) xᵀ, and the README demo
        ("RNN cell", ricci.grad(L, Wx), {"c": c}, "(G ⊙ (1 − c ⊙ c))xᵀ",
         r"\left(G \odot \left(1 - c \odot c\right)\right) x^\top"),
        ("RNN cell, unnamed", ricci.grad(L, Wx), None,
         "(G ⊙ (1 − t ⊙ t))xᵀ  where t = tanh(W_c c_prev + W_x x + b 1ᵀ)", None),
        # logistic regression (README "Hessians"; benchmarks/dask_outofcore.py's loss)
        ("logistic gradient", ricci.grad(logistic, w), None, "Xᵀ(σ(Xw) − y) / 5",
         r"\frac{1}{5} X^\top \left(\sigma\left(X w\right) - y\right)"),
        ("logistic gradient, s named", ricci.grad(logistic, w), {"s": s}, "Xᵀ(s − y) / 5", None),
        ("logistic Hessian", ricci.hessian(logistic, w), {"s": s}, "Xᵀ diag(s ⊙ (1 − s)) X / 5",
         r"\frac{1}{5} X^\top \operatorname{diag}\left(s \odot \left(1 - s\right)\right) X"),
        ("logistic Hessian, unnamed", ricci.hessian(logistic, w), None,
         "Xᵀ diag(s ⊙ (1 − s)) X / 5  where s = σ(Xw)", None),
        ("logistic HVP", ricci.hvp(logistic, w, v), {"s": s}, "Xᵀ(s ⊙ (1 − s) ⊙ (Xv)) / 5", None),
    ]


def _walk(root):
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        yield n
        stack.extend(n.children)


CASES = cases()


@pytest.mark.parametrize("name, expr, names, text, latex", CASES, ids=[c[0] for c in CASES])
def test_textbook_text(name, expr, names, text, latex):
    assert to_matrix(expr, names=names) == text
    if latex is not None:
        assert to_matrix(expr, names=names, latex=True) == latex


@pytest.mark.parametrize("spec, text", [
    ("ji,kj->ik", "AᵀBᵀ"),  # (BA)ᵀ distributed, MC (2)
    ("ij,jk->ki", "BᵀAᵀ"),  # (AB)ᵀ = BᵀAᵀ, MC (2)
    ("ij,jk,kl->li", "CᵀBᵀAᵀ"),
])
def test_transposes_are_distributed(spec, text):
    ops = [T(n, (3, 3)) for n in "ABC"][:spec.count(",") + 1]
    assert E(spec, *ops).to_matrix() == text


def test_scalar_factors_are_fractions():
    X = T("X", (3, 3))
    assert (X / 4).to_matrix() == "X / 4"
    assert (X * (2 / 3)).to_matrix() == "2 X / 3"
    assert (X * 2.5).to_matrix() == "2.5 X"
    assert (X * (-1 / 3)).to_matrix() == "−X / 3"
    assert to_matrix(X / 4, latex=True) == r"\frac{1}{4} X"
    assert fraction(0.2) == (1, 5) and fraction(np.pi) is None


# ---------------------------------------------------------------------------
# the printed terms are the expressions: evaluate them with numpy matrix algebra
# ---------------------------------------------------------------------------
_FUNCTIONS = {"tanh": np.tanh, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
              "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def evaluate(t, m, env):
    op, a = t.op, t.args
    ev = lambda s: evaluate(textbook(s, m.shown), m, env)  # noqa: E731
    if op == "atom":
        value = np.asarray(env[a[0]], dtype=float)
        return value.reshape(-1, 1) if t.form == "c" else value
    if op == "ref":
        return ev(m.refs[a[0]][1])
    simple = {"num": lambda: np.asarray(a[0], dtype=float), "zero": lambda: np.asarray(0.0),
              "ones": lambda: np.ones((a[0], 1)), "eye": lambda: np.eye(a[0])}
    if op in simple:
        return simple[op]()
    if op in ("T", "inv", "det", "logdet", "tr", "norm2", "diag", "dvec", "recip"):
        x = ev(a[0])
        return {"T": lambda: x.T, "inv": lambda: np.linalg.inv(x), "det": lambda: np.linalg.det(x),
                "logdet": lambda: np.linalg.slogdet(x)[1], "tr": lambda: np.trace(x),
                "norm2": lambda: np.sum(x * x), "diag": lambda: np.diag(x.ravel()),
                "dvec": lambda: np.diag(x).reshape(-1, 1), "recip": lambda: 1 / x}[op]()
    if op == "fn":
        return _FUNCTIONS[a[0]](ev(a[1]))
    if op == "pow":
        return ev(a[0]) ** a[1]
    if op == "had":
        return np.prod([ev(s) for s in a], axis=0)
    if op == "prod":
        out = ev(a[0])
        for s in a[1:]:
            out = out @ ev(s)
        return out
    if op == "scale":
        coef, scalars, inner = a
        return coef * np.prod([ev(s) for s in scalars]) * (1.0 if inner is None else ev(inner))
    if op == "frac":
        sign, p, num, inner, q, den = a
        top = sign * p * np.prod([ev(s) for s in num]) * (1.0 if inner is None else ev(inner))
        return top / (q * np.prod([ev(s) for s in den]))
    if op == "sum":
        terms, offset = a
        return offset + sum(c * ev(s) for c, s in terms)
    raise AssertionError(op)


@pytest.mark.parametrize("name, expr, names, text, latex", CASES, ids=[c[0] for c in CASES])
def test_printed_terms_evaluate_to_the_expression(name, expr, names, text, latex, rng):
    env = {n.name: rng.standard_normal(n.shape) for n in _walk(expr) if isinstance(n, ricci.Tensor)}
    for key, value in env.items():
        if value.ndim == 2 and value.shape[0] == value.shape[1]:
            env[key] = value + 4 * np.eye(value.shape[0])  # invertible, positive determinant
    for key, node in (names or {}).items():
        env[key] = node.evaluate({k: v for k, v in env.items() if k in node.inputs})
    m = _Matrix([expr], names=names)
    to_matrix(expr, names=names)  # the pass runs as it does when printing
    value = evaluate(textbook(m.term(expr), m.shown), m, env)
    want = np.asarray(expr.evaluate({k: v for k, v in env.items() if k in expr.inputs}))
    value = np.broadcast_to(np.asarray(value), want.shape) if np.size(value) == 1 else value
    np.testing.assert_allclose(np.asarray(value).reshape(want.shape), want, rtol=1e-9, atol=1e-10)
