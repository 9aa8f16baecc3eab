"""``max``/``min`` with numpy's axis conventions and ``keepdims=`` (issue 9, item 4).

Values against numpy; derivatives against central finite differences (away from ties);
at ties, all of the cotangent goes to the first extremal element in numpy's argmax order.
"""
import numpy as np
import pytest

import ricci
from conftest import METHODS, assert_close, check_derivative, fd_grad, fd_jvp, fresh_name, rand
from ricci.expr import Apply, topological_order


def T(shape):
    return ricci.Tensor(fresh_name("red"), shape)


AXES = [None, 0, 1, 2, -1, (0, 2), (2, 0), (-1, -2), (0, 1, 2), ()]
FUNCTIONS = [("max", ricci.max, np.max), ("min", ricci.min, np.min)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name,f,ref", FUNCTIONS, ids=["max", "min"])
def test_values_match_numpy(name, f, ref, axis, keepdims, rng):
    a, x = rand((3, 4, 2), rng), T((3, 4, 2))
    y = f(x, axis=axis, keepdims=keepdims)
    expected = ref(a, axis=axis, keepdims=keepdims)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y(**{x.name: a}), expected)
    method = getattr(x, name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(method(**{x.name: a}), expected)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("axis", [None, 1, (0, 2), -1], ids=str)
@pytest.mark.parametrize("name,f,ref", FUNCTIONS, ids=["max", "min"])
def test_derivatives_match_finite_differences(name, f, ref, axis, method, rng):
    a = rng.permutation(24).reshape(3, 4, 2) * 0.1  # distinct values: no ties within 2·eps
    x = T((3, 4, 2))
    check_derivative(method, ricci.sin(f(x, axis=axis, keepdims=True)),
                     lambda d: np.sin(ref(d[x.name], axis=axis, keepdims=True)), {x.name: a}, x, x.name, rng)


@pytest.mark.parametrize("name,f,ref", FUNCTIONS, ids=["max", "min"])
def test_hvp_and_hessian(name, f, ref, rng):
    a, x = rng.permutation(12).reshape(3, 4) * 0.1, T((3, 4))
    L = ricci.sum(ricci.exp(f(x, axis=1)) * f(x, axis=1))  # curved: the Hessian is not zero

    def numpy_L(d):
        m = ref(d[x.name], axis=1)
        return np.sum(np.exp(m) * m)

    v = rand((3, 4), rng)
    expected = fd_jvp(lambda d: fd_grad(numpy_L, d, x.name, eps=1e-5), {x.name: a}, x.name, v, eps=1e-4)
    assert_close(ricci.hvp(L, x, v)(**{x.name: a}), expected, rtol=1e-4, atol=1e-5)
    H = ricci.hessian(L, x)(**{x.name: a})
    assert_close(np.tensordot(H, v, axes=2), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,f,arg", [("max", ricci.max, np.argmax), ("min", ricci.min, np.argmin)])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
def test_ties_send_everything_to_the_first_element(name, f, arg, axis):
    a = np.array([[1.0, 3.0, 3.0], [3.0, -2.0, 3.0], [-2.0, 3.0, -2.0]])
    x = T((3, 3))
    g = ricci.grad(ricci.sum(f(x, axis=axis)), x)(**{x.name: a})
    axes = (0, 1) if axis is None else (axis,) if isinstance(axis, int) else axis
    rest = [d for d in range(2) if d not in axes]
    moved = np.transpose(a, rest + list(axes)).reshape(len(rest) and a.shape[rest[0]] or 1, -1)
    expected = np.zeros_like(moved)
    expected[np.arange(moved.shape[0]), arg(moved, axis=1)] = 1.0
    expected = np.transpose(expected.reshape([a.shape[d] for d in rest + list(axes)]), np.argsort(rest + list(axes)))
    np.testing.assert_array_equal(g, expected)
    assert g.sum() == np.prod([1] + [a.shape[d] for d in rest])  # one element per slice, not split


def test_nan_is_the_maximum_and_gets_the_cotangent():
    a = np.array([1.0, np.nan, 5.0, np.nan])
    x = T((4,))
    assert np.isnan(ricci.max(x)(**{x.name: a})) and np.isnan(ricci.min(x)(**{x.name: a}))
    np.testing.assert_array_equal(ricci.grad(ricci.max(x), x)(**{x.name: a}), [0.0, 1.0, 0.0, 0.0])


def test_infinities_are_not_multiplied_by_zero():
    a = np.array([-np.inf, 2.0, np.inf, 1.0])
    x = T((4,))
    assert ricci.max(x)(**{x.name: a}) == np.inf and ricci.min(x)(**{x.name: a}) == -np.inf
    np.testing.assert_array_equal(ricci.grad(ricci.max(x[:2]), x)(**{x.name: a}), [0.0, 1.0, 0.0, 0.0])


def test_the_mask_is_the_size_of_the_data(rng):
    x = T((500, 400))
    g = ricci.grad(ricci.sum(ricci.max(x, axis=0) ** 2), x)
    assert ricci.cost(g, {x.name: (500, 400)}).largest_intermediate <= 500 * 400
    names = [n.primitive.name for n in topological_order([g]) if isinstance(n, Apply)]
    assert "argmax_mask" in names
    a = rand((500, 400), rng)
    expected = np.zeros_like(a)
    expected[np.argmax(a, axis=0), np.arange(400)] = 2 * a.max(axis=0)
    assert_close(g(**{x.name: a}), expected)


def test_size_one_axes_and_constants_need_no_node():
    x = T((3, 1))
    assert ricci.max(x, axis=1) is ricci.squeeze(x, 1) and ricci.min(x, axis=()) is x
    c = ricci.Constant(np.array([[1, 5], [7, 2]]))
    m = ricci.max(c, axis=0)
    assert isinstance(m, ricci.Constant) and m.value.tolist() == [7, 5] and m.value.dtype.kind == "i"


def test_float32_stays_float32(rng):
    x = T((3, 4))
    a = rand((3, 4), rng, dtype=np.float32)
    assert ricci.max(x, 1)(**{x.name: a}).dtype == np.float32
    assert ricci.grad(ricci.sum(ricci.min(x, 0)), x)(**{x.name: a}).dtype == np.float32


def test_errors_match_numpy():
    x = T((0, 3))
    with pytest.raises(ricci.ShapeError, match="zero-size array to reduction operation maximum which has no identity"):
        ricci.max(x, axis=0)
    with pytest.raises(ValueError, match="zero-size array to reduction operation minimum"):
        ricci.min(x)
    assert ricci.max(x, axis=1).shape == (0,)  # numpy: nothing is reduced over an empty axis
    y = T((2, 3))
    with pytest.raises(ricci.ShapeError, match="axis 2 is out of range"):
        ricci.max(y, axis=2)
    with pytest.raises(ricci.ArgumentError, match="more than once"):
        ricci.min(y, axis=(0, -2))
    with pytest.raises(ricci.ArgumentError, match="not an integer"):
        ricci.max(y, axis=1.0)
    with pytest.raises(ricci.OperandTypeError, match="argument of max"):
        ricci.max("y")


def test_complex_derivative_is_refused():
    x = T((3,))
    with pytest.raises(ricci.DtypeError, match="complex"):
        ricci.grad(ricci.max(x), x)(**{x.name: np.array([1j, 2.0, 3.0])})
