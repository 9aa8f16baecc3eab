"""``@``, ``.T`` and ``.sum`` follow numpy, forward and through derivatives."""
import numpy as np
import pytest

import ricci
from conftest import METHODS, check_derivative, fresh_name, rand

CASES = {
    "matrix@matrix": ((2, 3), (3, 4), lambda a, b: a @ b),
    "matrix@vector": ((2, 3), (3,), lambda a, b: a @ b),
    "vector@matrix": ((3,), (3, 4), lambda a, b: a @ b),
    "vector@vector": ((3,), (3,), lambda a, b: a @ b),
    "transpose-product": ((3, 2), (3, 4), lambda a, b: a.T @ b),
    "sum-axis": ((2, 3), (2, 3), lambda a, b: (a * b).sum(axis=1)),
    "sum-all": ((2, 3), (2, 3), lambda a, b: (a - b).sum()),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_numpy_style_operators(case, method, rng):
    shape_a, shape_b, build = CASES[case]
    A, B = ricci.Tensor(fresh_name("A"), shape_a), ricci.Tensor(fresh_name("B"), shape_b)
    inputs = {A.name: rand(shape_a, rng), B.name: rand(shape_b, rng)}
    expr = build(A, B)
    np.testing.assert_allclose(expr.evaluate(inputs), build(inputs[A.name], inputs[B.name]))
    check_derivative(method, expr, lambda d: build(d[A.name], d[B.name]), inputs, A, A.name, rng)


def test_matmul_with_arrays_on_either_side(rng):
    A = ricci.Tensor(fresh_name("A"), (2, 3))
    a, m = rand((2, 3), rng), rand((4, 2), rng)
    np.testing.assert_allclose((m @ A).evaluate({A.name: a}), m @ a)
    np.testing.assert_allclose((A @ a.T).evaluate({A.name: a}), a @ a.T)


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3, 4), (4, 2)), ((), (3,))])
def test_matmul_shape_errors(shapes):
    with pytest.raises(ricci.ShapeError, match="@"):
        ricci.Tensor(fresh_name("A"), shapes[0]) @ ricci.Tensor(fresh_name("B"), shapes[1])
