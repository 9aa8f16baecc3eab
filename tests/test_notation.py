"""Notation: to_matrix on the tutorials' results, index notation, einsum programs.

Matrix notation is checked two ways: exact strings for known results, and
numerically — the matrix-notation term is evaluated with plain numpy matrix
algebra (an evaluator written here, independent of ricci's einsum evaluation)
and compared with numpy.einsum of the same expression.
"""
import numpy as np
import pytest

import ricci
from ricci.notation import NotationError, _Matrix, _NotMatrix, index_notation, to_einsum, to_latex, to_matrix

E = ricci.einsum


# ---------------------------------------------------------------------------
# the tutorials' results
# ---------------------------------------------------------------------------
def rnn(nc=5, nx=4, m=3):
    Wc, Wx, b = ricci.Tensor("W_c", (nc, nc)), ricci.Tensor("W_x", (nc, nx)), ricci.Tensor("b", (nc,))
    c_prev, x, G = ricci.Tensor("c_prev", (nc, m)), ricci.Tensor("x", (nx, m)), ricci.Tensor("G", (nc, m))
    u = E("ij,jb->ib", Wc, c_prev) + E("ij,jb->ib", Wx, x) + E("i,b->ib", b, np.ones(m))
    c = ricci.tanh(u)
    L = E("ib,ib->", c, G)
    return L, c, dict(W_c=Wc, W_x=Wx, b=b, c_prev=c_prev, x=x, G=G)


def test_rnn_gradient_is_the_tutorial_formula():
    L, c, v = rnn()
    g = ricci.grad(L, v["W_x"])
    assert to_matrix(g, names={"c": c}) == "(G ⊙ (1 − c ⊙ c))xᵀ"
    # the issue writes "(G ⊙ (1 − c ⊙ c)) xᵀ": the same up to the space before xᵀ
    assert to_matrix(g, names={"c": c}).replace(" ", "") == "(G ⊙ (1 − c ⊙ c)) xᵀ".replace(" ", "")


def test_rnn_gradient_without_names_defines_the_shared_part():
    L, c, v = rnn()
    assert ricci.grad(L, v["W_x"]).to_matrix() == \
        "(G ⊙ (1 − t ⊙ t))xᵀ  where t = tanh(W_c c_prev + W_x x + b 1ᵀ)"


@pytest.mark.parametrize("var, expected", [
    ("W_c", "(G ⊙ (1 − c ⊙ c)) c_prevᵀ"),
    ("c_prev", "W_cᵀ (G ⊙ (1 − c ⊙ c))"),
    ("b", "(G ⊙ (1 − c ⊙ c)) 1"),
    ("G", "c"),
])
def test_other_rnn_gradients(var, expected):
    L, c, v = rnn()
    assert to_matrix(ricci.grad(L, v[var]), names={"c": c}) == expected


def least_squares():
    X, W, Y = ricci.Tensor("X", (5, 3)), ricci.Tensor("W", (3, 2)), ricci.Tensor("Y", (5, 2))
    R = E("ij,jk->ik", X, W) - Y
    return E("ij,ij->", R, R), X, W, Y


def test_least_squares_gradient():
    L, X, W, Y = least_squares()
    assert ricci.grad(L, W).to_matrix() == "2 Xᵀ(XW − Y)"
    assert L.to_matrix() == "‖XW − Y‖²"
    assert ricci.grad(L, X).to_matrix() == "2 (XW − Y)Wᵀ"
    assert ricci.grad(L, Y).to_matrix() == "−2 (XW − Y)"


def test_quadratic_form_gradient():
    A, x = ricci.Tensor("A", (3, 3)), ricci.Tensor("x", (3,))
    q = E("i,ij,j->", x, A, x)
    assert q.to_matrix() == "xᵀAx"
    assert ricci.grad(q, x).to_matrix() == "(A + Aᵀ)x"
    assert ricci.grad(q, A).to_matrix() == "xxᵀ"


def test_logdet_gradient_is_inverse_transpose():
    X = ricci.Tensor("X", (3, 3))
    assert ricci.grad(ricci.logdet(X), X).to_matrix() == "X⁻ᵀ"
    assert ricci.logdet(X).to_matrix() == "log det(X)"
    assert ricci.grad(ricci.det(X), X).to_matrix() == "det(X) X⁻ᵀ"
    assert ricci.grad(ricci.trace(ricci.inv(X)), X).to_matrix() == "−X⁻ᵀX⁻ᵀ"


# ---------------------------------------------------------------------------
# single einsums: exact strings
# ---------------------------------------------------------------------------
SIZES = dict(i=2, j=3, k=4, l=5, m=6)
NAMES = {1: "uvw", 2: "ABCD"}


def operands(spec):
    terms = spec.split("->")[0].split(",")
    square = any(len(set(t)) < len(t) for t in terms)
    ops, counters = [], {0: 0, 1: 0, 2: 0, 3: 0}
    for t in terms:
        shape = tuple(3 if square else SIZES[c] for c in t)
        pool = NAMES.get(len(t), "STUV") if t else "abcd"
        ops.append(ricci.Tensor(pool[counters[min(len(t), 3)]] + ("" if t else "s"), shape))
        counters[min(len(t), 3)] += 1
    return ops


MATRIX_CASES = {
    "ij,jk->ik": "AB", "ij,kj->ik": "ABᵀ", "ji,jk->ik": "AᵀB", "ji,kj->ik": "AᵀBᵀ",
    "ij,jk->ki": "BᵀAᵀ", "ij,ij->": "tr(AᵀB)", "ij,ji->": "tr(BA)", "ii->": "tr(A)", "ii->i": "diag(A)",
    "ij->": "1ᵀ A 1", "ij->i": "A 1", "ij->j": "Aᵀ 1", "i->": "1ᵀ u", "i,i->": "uᵀv", "i,i->i": "u ⊙ v",
    "i,j->ij": "uvᵀ", "ij,j->i": "Au", "ij,i->j": "Aᵀu", "ij,j->ij": "A diag(u)", "ij,i->ij": "diag(u) A",
    "ij,jk,kl->il": "ABC", "ij,jk,j->ik": "A diag(u) B", "i,i,i->i": "u ⊙ v ⊙ w", "ij,ij,ij->ij": "A ⊙ B ⊙ C",
    "ij,ji->ij": "A ⊙ Bᵀ", "ij,jk,ki->": "tr(BCA)", "ij,ik->jk": "AᵀB", "i,ij,j->": "uᵀAv",
    "ij,jk->j": "(Aᵀ 1) ⊙ (B 1)", "ij,ij->i": "(A ⊙ B) 1", "ij->ji": "Aᵀ", "i,i->": "uᵀv",
}


@pytest.mark.parametrize("spec", sorted(MATRIX_CASES))
def test_single_einsum_in_matrix_notation(spec):
    assert E(spec, *operands(spec)).to_matrix() == MATRIX_CASES[spec]


@pytest.mark.parametrize("spec, reason", [
    ("ijk,jk->i", "A has 3 indices"),
    ("ij,jk->ijk", "has 3 indices"),
])
def test_fallback_says_so(spec, reason):
    ops = [ricci.Tensor(n, tuple(SIZES[c] for c in t)) for n, t in zip("AB", spec.split("->")[0].split(","))]
    text = E(spec, *ops).to_matrix()
    assert text.startswith("index notation (not matrix notation: ")
    assert reason in text
    assert text.endswith(index_notation(E(spec, *ops)))
    with pytest.raises(NotationError, match=reason) as info:
        to_matrix(E(spec, *ops), strict=True)
    assert isinstance(info.value, ricci.RicciError) and isinstance(info.value, ValueError)


def test_names_must_be_expressions():
    x = ricci.Tensor("x", (3,))
    with pytest.raises(NotationError, match="names must map"):
        to_matrix(x, names={"c": 3})


# ---------------------------------------------------------------------------
# matrix notation is right: evaluate the notation with numpy matrix algebra
# ---------------------------------------------------------------------------
def _column(v):
    return np.asarray(v, dtype=float).reshape(-1, 1)


def evaluate_notation(t, m, env):
    """Evaluate a matrix-notation term; vectors are columns, as the notation says."""
    op, a = t.op, t.args
    ev = lambda s: evaluate_notation(s, m, env)  # noqa: E731
    if op == "atom":
        v = np.asarray(env[a[0]], dtype=float)
        return _column(v) if t.form == "c" else v
    if op == "ref":
        return ev(m.refs[a[0]][1])
    if op == "num":
        return np.asarray(a[0], dtype=float)
    if op == "zero":
        return np.asarray(0.0)
    if op == "ones":
        return np.ones((a[0], 1))
    if op == "eye":
        return np.eye(a[0])
    if op == "T":
        return ev(a[0]).T
    if op == "inv":
        return np.linalg.inv(ev(a[0]))
    if op == "det":
        return np.asarray(np.linalg.det(ev(a[0])))
    if op == "logdet":
        return np.asarray(np.linalg.slogdet(ev(a[0]))[1])
    if op == "tr":
        return np.asarray(np.trace(ev(a[0])))
    if op == "norm2":
        return np.asarray(np.sum(ev(a[0]) ** 2))
    if op == "diag":
        return np.diag(ev(a[0]).ravel())
    if op == "dvec":
        return _column(np.diag(ev(a[0])))
    if op == "fn":
        return {"tanh": np.tanh, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos,
                "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[a[0]](ev(a[1]))
    if op == "pow":
        return ev(a[0]) ** a[1]
    if op == "recip":
        return 1.0 / ev(a[0])
    if op == "had":
        out = ev(a[0])
        for s in a[1:]:
            out = out * ev(s)
        return out
    if op == "scale":
        coef, scalars, inner = a
        out = np.asarray(coef, dtype=float)
        for s in scalars:
            out = out * ev(s)
        return out if inner is None else out * ev(inner)
    if op == "sum":
        terms, offset = a
        out = np.asarray(offset, dtype=float)
        for c, s in terms:
            out = out + c * ev(s)
        return out
    if op == "prod":
        out = ev(a[0])
        for s in a[1:]:
            out = out @ ev(s)
        return out
    raise AssertionError(op)


def check_numbers(expr, env):
    m = _Matrix([expr])
    value = evaluate_notation(m.term(expr), m, env)
    want = expr.evaluate(env)
    if np.size(value) == 1 and want.shape:
        value = np.broadcast_to(value, want.shape)
    np.testing.assert_allclose(np.asarray(value).reshape(want.shape), want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("spec", sorted(MATRIX_CASES) + ["ij,ik,jk->", "ij,jk->", "ij,jk->k", "ij,j,k->ik",
                                                         ",ij->ij", "ij,jk,ik->ik", "ii,i->i", "ij,jj->i",
                                                         "i,j->", "ij,jk,jl->", "ij,ij->j"])
def test_matrix_notation_of_einsums_is_numerically_right(spec, rng):
    ops = operands(spec)
    env = {o.name: rng.standard_normal(o.shape) for o in ops}
    check_numbers(E(spec, *ops), env)


def derivative_cases():
    A, B, S = ricci.Tensor("A", (3, 3)), ricci.Tensor("B", (3, 4)), ricci.Tensor("S", (3, 3))
    x, y = ricci.Tensor("x", (3,)), ricci.Tensor("y", (4,))
    X, W, Y, b = ricci.Tensor("X", (5, 3)), ricci.Tensor("W", (3, 4)), ricci.Tensor("Y", (5, 4)), ricci.Tensor("b", (4,))
    H = ricci.tanh(E("ij,jk->ik", X, W) + E("k,n->nk", b, np.ones(5)))
    return [
        (E("i,ij,j->", x, A, x), [x, A]),
        (E("ij,ij->", E("ij,jk->ik", X, W) - Y, E("ij,jk->ik", X, W) - Y), [W, X, Y]),
        (E("ij,ij->", H, Y), [W, b, X]),
        (E("i,i->", ricci.sigmoid(E("ij,j->i", B, y)), x), [B, y]),
        (ricci.logdet(S), [S]), (ricci.det(S), [S]), (ricci.trace(ricci.inv(S)), [S]),
        (E("i,ij,j->", x, ricci.inv(S), x), [x, S]),
        (E("i->", ricci.exp(x) * x), [x]), (E("ij->", ricci.log(S * S + 1)), [S]),
        (E("i->", x ** 3), [x]), (E("i,i->", x ** -1, x * x + 1), [x]),
    ]


def test_matrix_notation_of_derivatives_is_numerically_right(rng):
    env = {n: rng.standard_normal(s) for n, s in
           dict(A=(3, 3), B=(3, 4), x=(3,), y=(4,), X=(5, 3), W=(3, 4), Y=(5, 4), b=(4,)).items()}
    env["S"] = rng.standard_normal((3, 3)) + 4 * np.eye(3)
    checked = 0
    for L, variables in derivative_cases():
        for v in variables:
            derived = [ricci.grad(L, v), ricci.hvp(L, v, np.ones(v.shape))]
            if v.ndim == 1:
                derived.append(ricci.hessian(L, v))
            for d in derived:
                try:
                    check_numbers(d, env)
                    checked += 1
                except _NotMatrix:
                    pass
    assert checked >= 40  # nearly all of them have matrix notation


def test_matrix_notation_is_deterministic():
    texts = {ricci.grad(rnn()[0], rnn()[2]["W_x"]).to_matrix() for _ in range(3)}
    assert len(texts) == 1


def test_matrix_latex():
    L, c, v = rnn()
    latex = to_matrix(ricci.grad(L, v["W_x"]), names={"c": c}, latex=True)
    assert latex == r"\left(G \odot \left(1 - c \odot c\right)\right) x^\top"
    X = ricci.Tensor("X", (3, 3))
    assert to_matrix(ricci.grad(ricci.logdet(X), X), latex=True) == r"X^{-\top}"


# ---------------------------------------------------------------------------
# index notation
# ---------------------------------------------------------------------------
def balanced(text):
    depth = 0
    for ch in text.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_latex_summation_convention():
    X, W = ricci.Tensor("X", (5, 3)), ricci.Tensor("W", (3, 2))
    assert E("ij,jk->ik", X, W).to_latex() == r"\mathrm{out}_{ij} = X_{ik} W_{kj}"
    a, b, c = (ricci.Tensor(n, (3,)) for n in "abc")
    # a hyperedge: the index is free because it is on the result, not because it occurs once
    assert E("i,i,i->i", a, b, c).to_latex() == r"\mathrm{out}_{i} = a_{i} b_{i} c_{i}"
    assert E("i,i,i->", a, b, c).to_latex() == r"\mathrm{out} = a_{i} b_{i} c_{i}"
    assert E("i,i->i", a, b)._repr_latex_() == r"$$\mathrm{out}_{i} = a_{i} b_{i}$$"


def test_latex_of_rnn_gradient():
    L, c, v = rnn()
    latex = ricci.grad(L, v["W_x"]).to_latex()
    assert latex == (r"\mathrm{out}_{ij} = G_{ik} \left(1 - \tanh\left({W_{c}}_{il} {c_{\mathrm{prev}}}_{lk} + "
                     r"{W_{x}}_{im} x_{mk} + b_{i}\right)^{2}\right) x_{jk}")
    assert balanced(latex)


def test_latex_shared_parts_and_matrix_functions():
    W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
    c = ricci.tanh(E("ij,jb->ib", W, x))
    latex = ricci.grad(E("ib,ib->", c, c), W).to_latex()
    assert latex.startswith(r"\begin{aligned} {t^{(0)}}_{ij} &= \tanh\left(W_{ik} x_{kj}\right)")
    assert r"{t^{(0)}}_{ik}^{2}" in latex and balanced(latex)
    S = ricci.Tensor("S", (3, 3))
    assert ricci.grad(ricci.logdet(S), S).to_latex() == r"\mathrm{out}_{ij} = \left(S^{-1}\right)_{ji}"
    assert ricci.det(S).to_latex() == r"\mathrm{out} = \det\left(S\right)"


def test_plain_index_notation():
    A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    assert index_notation(E("ij,jk->ik", A, B)) == "out[ij] = A[ik] B[kj]"
    assert index_notation(E("ij,jk->ik", A, B), name="C") == "C[ij] = A[ik] B[kj]"


# ---------------------------------------------------------------------------
# einsum programs
# ---------------------------------------------------------------------------
def test_to_einsum_is_the_printed_program():
    L, c, v = rnn()
    g = ricci.grad(L, v["W_x"])
    assert g.to_einsum(imports=False) == str(g)
    assert to_einsum(g, name="dW_x", imports=False).startswith("dW_x = einsum(")
    assert g.to_einsum().startswith("import numpy\nfrom numpy import einsum, ones, tanh\n")
    A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    assert to_einsum(E("ij,jk->ik", A, B), imports=False) == 'einsum("ab,bc->ac", A, B)'


def test_printed_broadcast_is_valid_numpy(rng):
    a, b = ricci.Tensor("a", (3,)), ricci.Tensor("b", (4,))
    g = ricci.grad(E("i,j->", a, b), a)
    assert g.to_einsum(imports=False) == 'broadcast_to(einsum("a->", b), (3,))'  # no ones vector in the text
    bv = rng.standard_normal(4)
    np.testing.assert_allclose(np.broadcast_to(np.einsum("a->", bv), (3,)), g(a=np.ones(3), b=bv))
    X, m = ricci.Tensor("X_bcast_print", (4, 6)), ricci.Tensor("m_bcast_print", (4,))
    assert str(X - m[:, None]) == "X_bcast_print - m_bcast_print[:, None]"  # numpy's implicit broadcasting
    assert str(ricci.broadcast_to(m[:, None], (4, 6))) == "broadcast_to(m_bcast_print[:, None], (4, 6))"


def test_not_an_expression():
    with pytest.raises(NotationError):
        to_latex("ij,jk->ik")
