"""Scalars in printed expressions are exact: the text evaluates back to the same float64."""
import math

import numpy as np
import pytest

import ricci
from conftest import fresh_name, rand
from ricci.printing import _number

VALUES = [2.0, -3.0, 0.5, 0.125, 1e-05, 1e300, 0.1, 0.15, 1 / 3, -1 / 6, 1 / 7, 1 / 12, 2 / 3,
          1 / math.sqrt(5), 1 / math.sqrt(768), math.sqrt(2), 2 * math.sqrt(3), math.sqrt(5) / 2,
          1 / math.sqrt(2), math.pi, math.e, -0.4472135954999579, 6.02214076e23, 2.5e-07]


@pytest.mark.parametrize("value", VALUES)
def test_number_text_round_trips(value):
    text = _number(value)
    # our own generated text, evaluated with only sqrt in scope (never user text)
    back = eval(text, {"__builtins__": {}}, {"sqrt": math.sqrt})  # noqa: S307
    assert back == value, (value, text)


@pytest.mark.parametrize("value, text", [(1 / 6, "1/6"), (1 / math.sqrt(5), "1/sqrt(5)"), (0.5, "0.5"),
                                         (2 * math.sqrt(3), "2*sqrt(3)"), (math.sqrt(5) / 2, "sqrt(5)/2"),
                                         (math.pi, repr(math.pi)), (4.0, "4")])
def test_recognisable_forms(value, text):
    assert _number(value) == text


def test_printed_expressions_use_exact_forms():
    X = ricci.Tensor(fresh_name("X"), (4, 6))
    assert "1/6*" in str(X - X.mean(axis=1, keepdims=True))
    q = ricci.Tensor(fresh_name("q"), (5,))
    assert str(q / np.sqrt(5)).startswith("1/sqrt(5)*")
    assert "**(-1/3)" in str(ricci.power(q, -1 / 3))  # a fraction exponent is parenthesized
    scaled = ricci.power(q, -1 / 3)
    inputs = {q.name: np.arange(1.0, 6.0)}
    text = str(scaled)  # evaluates under numpy as printed
    got = eval(text.replace(q.name, "v"), {"__builtins__": {}}, {"v": inputs[q.name]})  # noqa: S307
    np.testing.assert_array_equal(got, scaled.evaluate(inputs))


def test_calls_are_written_as_numpy_writes_them():
    X, b = ricci.Tensor(fresh_name("X"), (3, 3)), ricci.Tensor(fresh_name("b"), (3,))
    Z = ricci.Tensor(fresh_name("Z"), (4, 5))
    n = {X.name: "X", b.name: "b", Z.name: "Z"}

    def text(e):
        out = str(e)
        for k, v in n.items():
            out = out.replace(k, v)
        return out

    assert text(ricci.solve(X, b)) == "solve(X, b)"  # not solve(X, b, 0, False)
    assert text(ricci.einsum("ij,j->i", ricci.inv(X), b)) == "solve(X, b)"
    assert text(ricci.grad(ricci.logdet(X), X)) == "inv(X).T"  # not einsum("ab->ba", inv(X))
    assert text(ricci.solve(X.T, b)) == "solve(X.T, b)"
    assert text(ricci.softmax(Z, axis=1)) == "softmax(Z, axis=1)"
    assert text(ricci.max(Z, axis=1)) == "max(Z, axis=1)"
    assert text(Z[1:, ::-1]) == "Z[1:, ::-1]" and text(Z[::2, 3]) == "Z[::2, 3]" and text(Z[-1]) == "Z[3]"
    assert text(Z[[0, 2]]) == "Z[[0, 2]]"
    assert text(ricci.reshape(Z, (20,))) == "reshape(Z, (20,))"
    assert text(ricci.concatenate([Z, Z])) == "concatenate([Z, Z], axis=0)"


def test_printed_calls_evaluate_under_numpy(rng):
    """The text of these expressions runs under numpy given the inputs (our own text; eval in a test)."""
    Z = ricci.Tensor(fresh_name("Z"), (4, 5))
    X = ricci.Tensor(fresh_name("X"), (3, 3))
    exprs = [Z[1:, ::-1] * 2.0, Z[::2, 3] / np.sqrt(5), ricci.reshape(Z, (20,))[::3], ricci.max(Z, axis=1),
             ricci.solve(X.T, Z[:3, :2]), ricci.grad(ricci.logdet(X), X), ricci.transpose(Z[None], (2, 0, 1))]
    values = {Z.name: rng.standard_normal((4, 5)), X.name: rng.standard_normal((3, 3)) + 3 * np.eye(3)}
    scope = {"solve": np.linalg.solve, "inv": np.linalg.inv, "max": np.max, "reshape": np.reshape,
             "transpose": np.transpose, "sqrt": math.sqrt, "einsum": np.einsum, **values}
    for e in exprs:
        got = eval(str(e), {"__builtins__": {}}, scope)  # noqa: S307
        np.testing.assert_allclose(got, e.evaluate(values), rtol=1e-12, err_msg=str(e))


def test_printing_does_not_depend_on_what_was_built_first():
    """An interned node's factor order comes from its content, not from the first builder."""
    import subprocess
    import sys

    code = ("import ricci\n"
            "A, B, C = (ricci.Tensor(n, (3, 3)) for n in 'ABC')\n"
            "{first}\n"
            "print(ricci.einsum('ij,jk,kl->il', A, B, C)); print(ricci.grad(ricci.sum(ricci.tanh(A @ B) * C), A))\n")
    builds = ["pass", "ricci.einsum('jk,ij,kl->il', B, A, C); ricci.einsum('kl,jk,ij->il', C, B, A)",
              "ricci.einsum('ab,bc,cd->ad', A, B, C).evaluate; (C.T @ B.T).T"]
    texts = {subprocess.run([sys.executable, "-c", code.format(first=f)], capture_output=True, text=True,
                            check=True).stdout for f in builds}
    assert len(texts) == 1, texts
    assert 'einsum("ab,bc,cd->ad", A, B, C)' in texts.pop()


def test_to_einsum_text_runs_under_numpy(rng):
    """to_einsum's text, executed with only the inputs bound, gives ricci's values (our own text)."""
    W, x, b = ricci.Tensor(fresh_name("W"), (4, 3)), ricci.Tensor(fresh_name("x"), (3, 5)), ricci.Tensor(fresh_name("b"), (4,))
    A = ricci.Tensor(fresh_name("A"), (3, 3))
    c = ricci.tanh(W @ x + b[:, None])
    L = ricci.sum(ricci.softplus(c) * ricci.sigmoid(c)) + ricci.logdet(A) + ricci.sum(ricci.solve(A, x) ** 2)
    Y = ricci.Constant(np.eye(5)[[0, 1, 2, 3]], name=fresh_name("Y"))
    exprs = [c, L, ricci.grad(L, W), ricci.grad(L, A), ricci.hessian(L, b),
             ricci.grad(ricci.cross_entropy(c, Y.value), W),
             ricci.softmax(c, axis=1) / np.sqrt(5), ricci.max(c, axis=1), ricci.where(c > 0, c, -np.inf)[1:, ::2]]
    values = {W.name: rand((4, 3), rng), x.name: rand((3, 5), rng), b.name: rand((4,), rng),
              A.name: rand((3, 3), rng) + 3 * np.eye(3)}
    for e in exprs:
        text = e.to_einsum(name="out")
        scope = dict(values)
        if "C0 = ..." in text:  # an unnamed constant: the text says to bind it
            scope["C0"] = Y.value
            text = text.replace("C0 = ...", "pass  #")
        exec(compile(text, "<to_einsum>", "exec"), scope)  # noqa: S102
        np.testing.assert_allclose(scope["out"], e.evaluate(values), rtol=1e-11, atol=1e-12, err_msg=text)
