"""Scalars in printed expressions are exact: the text evaluates back to the same float64."""
import math

import numpy as np
import pytest

import ricci
from conftest import fresh_name
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
