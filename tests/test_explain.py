"""Step-by-step derivations: the steps, their rules, and that the result is grad's."""
import numpy as np
import pytest

import ricci
from ricci.explain import Explanation, explain

E = ricci.einsum


def rnn():
    nc, nx, m = 5, 4, 3
    Wc, Wx, b = ricci.Tensor("W_c", (nc, nc)), ricci.Tensor("W_x", (nc, nx)), ricci.Tensor("b", (nc,))
    c_prev, x, G = ricci.Tensor("c_prev", (nc, m)), ricci.Tensor("x", (nx, m)), ricci.Tensor("G", (nc, m))
    u = E("ij,jb->ib", Wc, c_prev) + E("ij,jb->ib", Wx, x) + E("i,b->ib", b, np.ones(m))
    return E("ib,ib->", ricci.tanh(u), G), Wx


def test_rnn_derivation_steps():
    L, Wx = rnn()
    text = explain(L, Wx)
    assert isinstance(text, Explanation) and isinstance(text, str)
    assert text.result is ricci.grad(L, Wx)
    assert [s.rule for s in text.steps] == [
        "remove a node from the network",
        "chain rule through tanh (element-wise)",
        "sum rule: each term receives the cotangent times its coefficient",
        "remove a node from the network",
    ]
    lines = text.splitlines()
    assert lines[0] == "Derivative of L with respect to W_x (shape (5, 4)), by reverse accumulation:"
    assert '  v2 = einsum("ab,bc->ac", W_x, x)' in lines
    assert "  tanh'(v4) = 1 - v5**2, joined to ḡ(v5) on a hyperedge over its indices ab:" in lines
    assert "  remove W_x[ab]: its legs ab become free indices; attach ḡ(v2) on the open legs ac:" in lines
    assert '      ḡ(W_x) += einsum("ac,ac,bc->ab", G, 1 - v5**2, x)' in lines
    assert lines[-1] == "In matrix notation: (G ⊙ (1 − t ⊙ t))xᵀ  where t = tanh(W_c c_prev + W_x x + b 1ᵀ)"


def test_total_derivative_over_occurrences():
    A, x = ricci.Tensor("A", (3, 3)), ricci.Tensor("x", (3,))
    q = E("i,ij,j->", x, A, x)
    text = explain(q, x)
    assert "remove x[a] (occurrence 1 of 2)" in text and "remove x[b] (occurrence 2 of 2)" in text
    assert "total derivative: x is used 2 times, so ḡ(x) is the sum of the 2 contributions:" in text
    assert text.result is ricci.grad(q, x)
    assert text.rstrip().endswith("In matrix notation: (A + Aᵀ)x")


def test_shared_node_gets_one_total_derivative():
    X, W, Y = ricci.Tensor("X", (5, 3)), ricci.Tensor("W", (3, 2)), ricci.Tensor("Y", (5, 2))
    R = E("ij,jk->ik", X, W) - Y
    L = E("ij,ij->", R, R)
    text = explain(L, W)
    assert text.count("total derivative") == 1
    assert "ḡ(v2) = 2*v1 - 2*Y" in text
    assert text.result is ricci.grad(L, W)
    assert text.rstrip().endswith("In matrix notation: 2 Xᵀ(XW − Y)")


def test_matrix_function_rule():
    X = ricci.Tensor("X", (3, 3))
    text = explain(ricci.logdet(X), X)
    assert "chain rule through logdet: d log det X = tr(X⁻¹ dX)" in text
    assert text.rstrip().endswith("In matrix notation: X⁻ᵀ")


def test_vjp_with_cotangent_and_errors():
    A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    C = E("ij,jk->ik", A, B)
    dC = ricci.Tensor("dC", (2, 4))
    text = explain(C, B, cotangent=dC)
    assert text.result is ricci.vjp(C, B, dC)
    assert "Start: ḡ(y) = dC" in text
    with pytest.raises(ricci.NotScalarError, match="cotangent"):
        explain(C, B)
    with pytest.raises(ricci.ShapeError):
        explain(C, B, cotangent=np.ones((4, 2)))
    with pytest.raises(ricci.WrtError):
        explain(E("ij->", A), "A")
    absent = explain(E("ij->", A), ricci.Tensor("Z", (2,)))
    assert "does not occur" in absent and isinstance(absent.result, ricci.expr.Zeros)


def test_deterministic():
    assert explain(*rnn()) == explain(*rnn())


def test_drawings_of_the_steps(tmp_path):
    pytest.importorskip("matplotlib")
    text = explain(*rnn())
    figures = text.draw(str(tmp_path / "step{}.png"))
    assert len(figures) == len([s for s in text.steps if s.contributions]) == 4
    assert (tmp_path / "step4.png").read_bytes()[:4] == b"\x89PNG"
