"""numpy broadcasting in + - * / ** and the binary element-wise functions.

Values are compared with numpy on the same arrays, derivatives with central
finite differences in float64; the networks must hold no ones tensor and
evaluate without any intermediate larger than the result.
"""
import numpy as np
import pytest

import ricci
from ricci.expr import Constant, topological_order
from conftest import METHODS, check_derivative, fresh_name, rand, rand_positive

# (shape of a, shape of b): the pairs numpy's own broadcasting tests walk through
SHAPES = [
    ((4, 3), (3,)),
    ((3,), (4, 3)),
    ((4, 1), (3,)),
    ((4, 1), (1, 3)),
    ((2, 1, 3), (4, 1)),
    ((1,), (5,)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1, 1), (2, 3)),
    ((5, 1, 1), (1, 4, 2)),
    ((2, 3), (2, 3)),
]

OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def _pair(shapes, rng, positive_b=False):
    (sa, sb) = shapes
    A, B = ricci.Tensor(fresh_name("A"), sa), ricci.Tensor(fresh_name("B"), sb)
    b = rand_positive(sb, rng) if positive_b else rand(sb, rng)
    return A, B, {A.name: rand(sa, rng), B.name: b}


def _no_ones(expr):
    """No constant of the network is a ones tensor (broadcasting is labels, not data)."""
    for node in topological_order([expr]):
        if isinstance(node, Constant) and node.value.ndim > 0 and np.all(node.value == 1):
            return False
    return True


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_values_match_numpy(op, shapes, rng):
    A, B, inputs = _pair(shapes, rng, positive_b=True)
    e = OPS[op](A, B)
    expected = OPS[op](inputs[A.name], inputs[B.name])
    assert e.shape == expected.shape
    np.testing.assert_allclose(e.evaluate(inputs), expected, rtol=1e-13)
    assert _no_ones(e)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shapes", SHAPES[:6], ids=str)
def test_derivatives_sum_over_broadcast_axes(method, op, shapes, rng):
    A, B, inputs = _pair(shapes, rng, positive_b=True)
    e = ricci.tanh(OPS[op](A, B))

    def ref(d):
        return np.tanh(OPS[op](d[A.name], d[B.name]))

    for var in (A, B):
        check_derivative(method, e, ref, inputs, var, var.name, rng)


@pytest.mark.parametrize("shapes", SHAPES[:5], ids=str)
def test_hvp_through_broadcast(shapes, rng):
    A, B, inputs = _pair(shapes, rng)
    L = ricci.sum(ricci.tanh(A * B + A) ** 2)
    v = rand(A.shape, rng)
    got = ricci.hvp(L, A, v).evaluate(inputs)
    eps = 1e-5

    def grad_at(a):
        return ricci.grad(L, A).evaluate({**inputs, A.name: a})

    expected = (grad_at(inputs[A.name] + eps * v) - grad_at(inputs[A.name] - eps * v)) / (2 * eps)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_arrays_broadcast_on_either_side(rng):
    X = ricci.Tensor(fresh_name("X"), (4, 3))
    x, b, c = rand((4, 3), rng), rand((3,), rng), rand((4, 1), rng)
    np.testing.assert_allclose((X + b).evaluate({X.name: x}), x + b)
    np.testing.assert_allclose((b - X).evaluate({X.name: x}), b - x)
    np.testing.assert_allclose((c * X).evaluate({X.name: x}), c * x)
    np.testing.assert_allclose((X / (c + 3)).evaluate({X.name: x}), x / (c + 3))
    np.testing.assert_allclose(((c + 3) / (X + 3)).evaluate({X.name: x}), (c + 3) / (x + 3))


def test_product_is_one_hyperedge_and_sum_a_broadcast_view():
    X, b = ricci.Tensor(fresh_name("X"), (4, 3)), ricci.Tensor(fresh_name("b"), (3,))
    assert str(X * b) == f'einsum("ab,b->ab", {X.name}, {b.name})'
    s = X + b
    assert _no_ones(s) and _no_ones(ricci.grad(ricci.sum(ricci.tanh(s)), b))
    # evaluating allocates nothing beyond the result: the broadcast term is a view
    cost = ricci.cost([ricci.tanh(s)])
    assert cost.largest_intermediate <= 12


def test_bias_gradient_at_scale_stays_small(rng):
    n, d = 4096, 256
    X, b = ricci.Tensor(fresh_name("X"), (n, d)), ricci.Tensor(fresh_name("b"), (d,))
    L = ricci.sum(ricci.tanh(X + b))
    g = ricci.grad(L, b)
    x, bb = rand((n, d), rng), rand((d,), rng)
    np.testing.assert_allclose(g.evaluate({X.name: x, b.name: bb}), (1 - np.tanh(x + bb) ** 2).sum(0), rtol=1e-10)
    assert ricci.cost([g]).largest_intermediate <= n * d


def test_power_with_array_exponent_and_number_base(rng):
    x = ricci.Tensor(fresh_name("x"), (2, 3))
    xv, p = rand_positive((2, 3), rng), rand((3,), rng)
    np.testing.assert_allclose((x ** p).evaluate({x.name: xv}), xv ** p, rtol=1e-13)
    np.testing.assert_allclose((2 ** x).evaluate({x.name: xv}), 2 ** xv, rtol=1e-13)
    check_derivative("grad", x ** p, lambda d: d[x.name] ** p, {x.name: xv}, x, x.name, rng)
    check_derivative("grad", 3.0 ** x, lambda d: 3.0 ** d[x.name], {x.name: xv}, x, x.name, rng)
    with pytest.raises(ricci.OperandTypeError, match="positive real base"):
        (-2) ** x
    with pytest.raises(ricci.OperandTypeError, match="exponent"):
        x ** "2"


@pytest.mark.parametrize("shapes", [((4, 3), (3,)), ((4, 1), (1, 3)), ((), (3,))], ids=str)
def test_logaddexp_broadcasts(shapes, rng):
    A, B, inputs = _pair(shapes, rng)
    e = ricci.logaddexp(A, B)
    np.testing.assert_allclose(e.evaluate(inputs), np.logaddexp(inputs[A.name], inputs[B.name]))
    for var in (A, B):
        for method in ("grad", "jvp"):
            check_derivative(method, e, lambda d: np.logaddexp(d[A.name], d[B.name]), inputs, var, var.name, rng)


def test_binary_cross_entropy_broadcasts_targets(rng):
    z = ricci.Tensor(fresh_name("z"), (5, 3))
    t = (rng.random((3,)) > 0.5).astype(float)
    zv = rand((5, 3), rng) * 4

    def ref(d):
        zz = d[z.name]
        return np.sum(np.logaddexp(0, zz) - t * zz)

    np.testing.assert_allclose(ricci.binary_cross_entropy(z, t).evaluate({z.name: zv}), ref({z.name: zv}))
    check_derivative("grad", ricci.binary_cross_entropy(z, t, reduction="none"),
                     lambda d: np.logaddexp(0, d[z.name]) - t * d[z.name], {z.name: zv}, z, z.name, rng)


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shapes", [((2, 3), (4,)), ((2, 3), (3, 2)), ((2, 1, 3), (2, 4, 1, 5))], ids=str)
def test_shapes_numpy_refuses_are_refused(op, shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    with pytest.raises(ValueError):
        OPS[op](a, b)
    A, B = ricci.Tensor(fresh_name("A"), shapes[0]), ricci.Tensor(fresh_name("B"), shapes[1])
    with pytest.raises(ricci.ShapeError, match=rf"operands of \{op} have shapes .* which do not broadcast"):
        OPS[op](A, B)
    with pytest.raises(ricci.ShapeError, match="do not broadcast"):
        OPS[op](A, b)


def test_broadcast_helpers_match_numpy():
    for shapes in [((2, 1, 4), (3, 1), ()), ((1,), (1,)), ((0, 3), (1, 3)), ((5, 0), (1,))]:
        assert ricci.broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)
    b = ricci.Tensor(fresh_name("b"), (3,))
    assert ricci.broadcast_to(b, (2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(ricci.broadcast_to(b, (2, 3)).evaluate({b.name: np.arange(3.0)}),
                                  np.broadcast_to(np.arange(3.0), (2, 3)))
    with pytest.raises(ricci.ShapeError, match="cannot be broadcast"):
        ricci.broadcast_to(b, (3, 2))
    with pytest.raises(ricci.ShapeError, match="cannot be broadcast"):
        ricci.broadcast_to(ricci.Tensor(fresh_name("c"), (2, 3)), (3,))
    assert [e.shape for e in ricci.broadcast_arrays(b, np.ones((4, 1)))] == [(4, 3), (4, 3)]


@pytest.mark.parametrize("rows", [4, "batch"])
def test_summing_a_product_of_broadcast_views_counts_the_broadcast_axis(rows, rng):
    # the product inlines into the sum; the axis only the views carried is summed: a factor of its size
    b = ricci.Tensor(fresh_name("b"), (6,))
    view = ricci.broadcast_to(b, (rows, 6))
    L = ricci.sum(view * view)
    bv = rng.standard_normal(6)
    for n in (4, 7):
        sizes = {} if rows == 4 else {"batch": n}
        n = 4 if rows == 4 else n
        expected = np.sum(np.broadcast_to(bv, (n, 6)) ** 2)
        np.testing.assert_allclose(ricci.evaluate(L, {b.name: bv}, sizes=sizes), expected, rtol=1e-12)
        np.testing.assert_allclose(ricci.evaluate(ricci.grad(L, b), {b.name: bv}, sizes=sizes), 2 * n * bv, rtol=1e-12)
