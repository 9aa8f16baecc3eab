"""Named constants: ricci.Constant(array, name="Y") is shown by its name everywhere.

Expected texts are written by hand; values come from numpy.
"""
import sys

import numpy as np
import pytest

import ricci
from ricci import notation
from ricci.explain import explain
from ricci.printing import short_name

draw_module = sys.modules["ricci.draw"]

A = np.arange(80.0).reshape(8, 10) / 10


def _x():
    return ricci.Tensor("X", (8, 10))


def test_name_attribute_and_identity():
    Y = ricci.Constant(A, name="Y")
    assert Y.name == "Y"
    assert ricci.Constant(A).name is None
    assert Y is ricci.Constant(A.copy(), name="Y")  # same value, same name: one node
    assert Y is not ricci.Constant(A, name="Z")  # names are part of the identity
    assert Y is not ricci.Constant(A)  # named and unnamed differ
    assert ricci.Constant(A) is ricci.Constant(A.copy())  # unnamed constants are still shared
    assert Y.fingerprint != ricci.Constant(A).fingerprint


def test_positional_what_is_still_a_description():
    c = ricci.Constant(np.ones((2, 3)) * 2, "my description")
    assert c.name is None
    assert str(ricci.einsum("ij,ij->", ricci.Tensor("P", (2, 3)), c)) == (
        "C0 = <constant of shape (2, 3)>\n"
        'einsum("ab,ab->", P, C0)'
    )
    with pytest.raises(ricci.OperandTypeError, match="my description has dtype"):
        ricci.Constant(np.array(["a"]), "my description")


@pytest.mark.parametrize("bad", ["", 3, b"Y", ("Y",)])
def test_bad_names(bad):
    with pytest.raises(ricci.ArgumentError, match="Constant name must be a non-empty string"):
        ricci.Constant(A, name=bad)


def test_bad_value_with_name_mentions_the_name():
    with pytest.raises(ricci.OperandTypeError, match="constant 'S' has dtype"):
        ricci.Constant(np.array(["a"]), name="S")


def test_einsum_text():
    X, Y = _x(), ricci.Constant(A, name="Y")
    e = ricci.einsum("ij,ij->", X, Y)
    expected = 'Y = <constant (8, 10) float64>\neinsum("ab,ab->", X, Y)'
    assert str(e) == expected
    assert e.to_einsum(imports=False) == expected
    assert notation.to_einsum(e, name="L", imports=False) == 'Y = <constant (8, 10) float64>\nL = einsum("ab,ab->", X, Y)'
    runnable = e.to_einsum()  # numpy imports first; the constant is a line saying what to bind
    assert runnable.startswith("import numpy\nfrom numpy import einsum\n") and "\nY = ...  # bind Y to" in runnable


def test_unnamed_text_unchanged_next_to_named():
    X = _x()
    e = ricci.einsum("ij,ij->", X, ricci.Constant(A, name="Y")) + ricci.einsum("ij,ij->", X, ricci.Constant(A + 1))
    assert str(e) == (
        "Y = <constant (8, 10) float64>\n"
        "C0 = <constant of shape (8, 10)>\n"
        'einsum("ab,ab->", X, Y + C0)'
    )


def test_equal_values_different_names_keep_both():
    X = _x()
    Y, Z = ricci.Constant(A, name="Y"), ricci.Constant(A, name="Z")
    e = ricci.einsum("ij,ij->", X, Y) + ricci.einsum("ij,ij->", X, Z)
    text = str(e)
    assert "Y = <constant (8, 10) float64>" in text and "Z = <constant (8, 10) float64>" in text
    assert text.endswith('einsum("ab,ab->", X, Y + Z)')
    xv = np.random.default_rng(1).normal(size=(8, 10))
    np.testing.assert_allclose(float(e(X=xv)), 2 * np.sum(xv * A))


def test_latex_and_index_notation():
    M, Y = _x(), ricci.Constant(A, name="Y")
    e = ricci.einsum("ij,kj->ik", M, Y)
    assert e.to_latex() == r"\mathrm{out}_{ij} = X_{ik} Y_{jk}"
    assert notation.index_notation(e) == "out[ij] = X[ik] Y[jk]"
    w = ricci.Constant(np.arange(10.0), name="w_in")
    f = ricci.einsum("ij,j->i", M, w)
    assert f.to_latex() == r"\mathrm{out}_{i} = X_{ij} {w_{\mathrm{in}}}_{j}"  # as a Tensor w_in would be
    assert f.to_latex() == ricci.einsum("ij,j->i", M, ricci.Tensor("w_in", (10,))).to_latex()
    assert notation.index_notation(f) == "out[i] = X[ij] w_in[j]"


def test_matrix_notation():
    M, Y = _x(), ricci.Constant(A, name="Y")
    e = ricci.einsum("ij,kj->ik", M, Y)
    assert e.to_matrix() == "XYᵀ  where Y = <constant (8, 10) float64>"
    assert notation.to_matrix(e, latex=True) == r"X Y^\top \quad\text{where } Y = <constant (8, 10) float64>"


def test_named_ones_and_scalar_keep_their_names():
    X = ricci.Tensor("X", (3, 4))
    mask = ricci.Constant(np.ones((3, 4)), name="mask")
    e = ricci.einsum("ij,ij->ij", X, mask)
    assert str(e) == 'mask = <constant (3, 4) float64>\neinsum("ab,ab->ab", X, mask)'
    assert notation.index_notation(e) == "out[ij] = X[ij] mask[ij]"
    assert e.to_latex() == r"\mathrm{out}_{ij} = X_{ij} \mathrm{mask}_{ij}"
    assert e.to_matrix() == "X ⊙ mask  where mask = <constant (3, 4) float64>"
    # an unnamed ones constant is still written as ones / dropped
    assert str(ricci.einsum("ij,ij->ij", X, np.ones((3, 4)))) == 'einsum("ab,ab->ab", X, ones((3, 4)))'
    alpha = ricci.Constant(2.5, name="alpha")
    t = ricci.tanh(alpha)
    assert str(t) == "alpha = <constant () float64>\ntanh(alpha)"
    assert notation.index_notation(t) == "out = tanh(alpha)"
    assert float(t()) == pytest.approx(np.tanh(2.5))


def test_labels_in_dot_network_and_short_names():
    X, Y = _x(), ricci.Constant(A, name="Y")
    e = ricci.einsum("ij,ij->", X, Y)
    dot = e.to_dot()
    assert 'n1 [label="Y", shape=square' in dot
    assert "C0" not in dot
    labels = sorted(d["label"] for _, d in e.network().nodes(data=True))
    assert labels == ["X", "Y"]
    assert short_name(Y) == "Y"
    assert notation.short_formula(Y) == "Y"
    assert short_name(ricci.Constant(A)) == "const"


def test_draw_uses_the_name(tmp_path):
    pytest.importorskip("matplotlib")
    X, Y = _x(), ricci.Constant(A, name="Y")
    e = ricci.sum(ricci.tanh(ricci.einsum("ij,ij->ij", X, Y)))
    graph = draw_module.diagram(e, depth=2)
    labels = {d.get("label") for _, d in graph.nodes(data=True)}
    assert "Y" in labels and "const" not in labels and "C0" not in labels
    svg = draw_module.to_svg(e)
    assert "<svg" in svg
    draw_module.draw(e, str(tmp_path / "named.png"))
    assert (tmp_path / "named.png").stat().st_size > 0


def test_explain_names_the_constant():
    M, Y = _x(), ricci.Constant(A, name="Y")
    L = ricci.sum(ricci.tanh(ricci.einsum("ij,kj->ik", M, Y)))
    text = str(explain(L, M))
    assert "  Y = <constant (8, 10) float64>\n  v1 = einsum(\"ab,cb->ac\", X, Y)" in text
    assert "C1" not in text and "C0" not in text


def test_evaluation_and_derivatives_match_numpy():
    rng = np.random.default_rng(0)
    X = _x()
    Y, U = ricci.Constant(A, name="Y"), ricci.Constant(A)  # equal values: a named and an unnamed node
    L = ricci.sum(ricci.tanh(ricci.einsum("ij,ij->ij", X, Y))) + ricci.einsum("ij,ij->", X, U)
    xv = rng.normal(size=(8, 10))
    np.testing.assert_allclose(float(L(X=xv)), np.tanh(A * xv).sum() + (A * xv).sum())
    g = ricci.grad(L, X)
    np.testing.assert_allclose(g(X=xv), A * (1 - np.tanh(A * xv) ** 2) + A)
    assert "Y" in str(g)
