"""Issue 3: matrix functions, stable composites, second derivatives and structured results.

Every derivative is checked against central finite differences of an
independent numpy implementation (conftest.check_derivative), every
structured result against a numpy closed form.
"""
import subprocess
import sys

import numpy as np
import pytest

import ricci
from conftest import METHODS, assert_close, check_derivative, fd_jacobian, fresh_name, rand

# -- matrix functions ----------------------------------------------------------
MATRIX_FUNCTIONS = {
    "inv": (ricci.inv, np.linalg.inv),
    "det": (ricci.det, np.linalg.det),
    "logdet": (ricci.logdet, lambda a: np.linalg.slogdet(a)[1]),
    "trace": (ricci.trace, np.trace),
}


def _well_conditioned(n, rng):
    return rand((n, n), rng) + 3 * np.eye(n)  # det > 0, far from singular


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(MATRIX_FUNCTIONS))
def test_matrix_function_derivatives(name, method, rng):
    ours, theirs = MATRIX_FUNCTIONS[name]
    X = ricci.Tensor(fresh_name("X"), (3, 3))
    check_derivative(method, ours(X), lambda d: theirs(d[X.name]), {X.name: _well_conditioned(3, rng)}, X, X.name, rng)


@pytest.mark.parametrize("name", sorted(MATRIX_FUNCTIONS))
def test_matrix_function_hessians(name, rng):
    ours, _ = MATRIX_FUNCTIONS[name]
    X = ricci.Tensor(fresh_name("X"), (3, 3))
    W = rand((3, 3), rng)
    out = ours(X)
    L = ricci.einsum("ij,ij->", out, W) if out.ndim else out
    x = _well_conditioned(3, rng)
    expected = fd_jacobian(lambda d: ricci.grad(L, X).evaluate(d), {X.name: x}, X.name)
    assert_close(ricci.hessian(L, X).evaluate({X.name: x}), expected, rtol=1e-5, atol=1e-7)


def test_magnus_neudecker_closed_forms(rng):
    X = ricci.Tensor(fresh_name("X"), (4, 4))
    x = _well_conditioned(4, rng)
    inv = np.linalg.inv(x)
    assert_close(ricci.grad(ricci.logdet(X), X).evaluate({X.name: x}), inv.T)
    assert_close(ricci.grad(ricci.det(X), X).evaluate({X.name: x}), np.linalg.det(x) * inv.T)
    A = rand((4, 4), rng)
    assert_close(ricci.grad(ricci.trace(ricci.einsum("ij,jk->ik", A, X)), X).evaluate({X.name: x}), A.T)
    T = rand((4, 4), rng)
    assert_close(ricci.jvp(ricci.inv(X), X, T).evaluate({X.name: x}), -inv @ T @ inv)


def test_inverse_of_product_chain(rng):
    A, B = ricci.Tensor(fresh_name("A"), (3, 3)), ricci.Tensor(fresh_name("B"), (3, 3))
    expr = ricci.logdet(ricci.einsum("ij,jk->ik", ricci.inv(A), B))
    inputs = {A.name: _well_conditioned(3, rng), B.name: _well_conditioned(3, rng)}
    ref = lambda d: np.linalg.slogdet(np.linalg.inv(d[A.name]) @ d[B.name])[1]  # noqa: E731
    for var in (A, B):
        check_derivative("grad", expr, ref, inputs, var, var.name, rng)


def test_logdet_domain_is_positive_determinant():
    X = ricci.Tensor(fresh_name("X"), (2, 2))
    assert np.isnan(ricci.logdet(X).evaluate({X.name: np.diag([1.0, -1.0])}))
    assert np.isclose(ricci.logdet(X).evaluate({X.name: np.diag([-1.0, -2.0])}), np.log(2.0))


@pytest.mark.parametrize("function", [ricci.inv, ricci.det, ricci.logdet, ricci.trace])
def test_matrix_functions_need_square_matrices(function):
    with pytest.raises(ricci.ShapeError, match="square"):
        function(ricci.Tensor(fresh_name("X"), (2, 3)))


# -- stable composites -----------------------------------------------------------
def _np_softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(z, axis):
    top = z.max(axis=axis, keepdims=True)
    return np.squeeze(np.log(np.exp(z - top).sum(axis=axis, keepdims=True)) + top, axis=axis)


LABELS = np.eye(4)[[1, 3, 0]]
COMPOSITES = {
    "softmax-1": (lambda z: ricci.softmax(z), lambda z: _np_softmax(z, -1)),
    "softmax0": (lambda z: ricci.softmax(z, axis=0), lambda z: _np_softmax(z, 0)),
    "logsumexp-1": (lambda z: ricci.logsumexp(z), lambda z: _np_logsumexp(z, -1)),
    "logsumexp0": (lambda z: ricci.logsumexp(z, axis=0), lambda z: _np_logsumexp(z, 0)),
    "log_softmax": (lambda z: ricci.log_softmax(z), lambda z: z - _np_logsumexp(z, -1)[:, None]),
    "cross_entropy": (
        lambda z: ricci.cross_entropy(z, LABELS),
        lambda z: -np.sum(LABELS * (z - _np_logsumexp(z, -1)[:, None])),
    ),
    "cross_entropy_mean": (
        lambda z: ricci.cross_entropy(z, LABELS, reduction="mean"),
        lambda z: -np.sum(LABELS * (z - _np_logsumexp(z, -1)[:, None])) / 3,
    ),
    "norm2": (ricci.norm2, lambda z: np.sum(z * z)),
    "norm": (ricci.norm, lambda z: np.sqrt(np.sum(z * z))),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_derivatives(name, method, rng):
    ours, theirs = COMPOSITES[name]
    Z = ricci.Tensor(fresh_name("Z"), (3, 4))
    check_derivative(method, ours(Z), lambda d: theirs(d[Z.name]), {Z.name: rand((3, 4), rng)}, Z, Z.name, rng)


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_hessians(name, rng):
    ours, _ = COMPOSITES[name]
    Z = ricci.Tensor(fresh_name("Z"), (3, 4))
    L = ricci.sum(ricci.sin(ours(Z)))
    z = rand((3, 4), rng)
    expected = fd_jacobian(lambda d: ricci.grad(L, Z).evaluate(d), {Z.name: z}, Z.name)
    assert_close(ricci.hessian(L, Z).evaluate({Z.name: z}), expected, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits():
    Z = ricci.Tensor(fresh_name("Z"), (3, 4))
    z = np.array([[1000.0, -1000, 0, 5], [-1000, 1000, 999, 0], [0, 0, 0, -1000]])
    loss = ricci.cross_entropy(Z, LABELS)
    value = loss.evaluate({Z.name: z})
    grad = ricci.grad(loss, Z).evaluate({Z.name: z})
    hess = ricci.hessian(loss, Z).evaluate({Z.name: z})
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
    assert_close(grad, _np_softmax(z, -1) - LABELS, atol=1e-12)
    expected_value = -np.sum(LABELS * (z - _np_logsumexp(z, -1)[:, None]))
    assert_close(value, expected_value)


def test_cross_entropy_rejects_mismatched_labels():
    with pytest.raises(ricci.ShapeError, match="labels"):
        ricci.cross_entropy(ricci.Tensor(fresh_name("Z"), (3, 4)), np.ones((3, 3)))


# -- second derivatives ------------------------------------------------------------
def _two_layer(rng):
    W1, W2 = ricci.Tensor(fresh_name("W"), (3, 4)), ricci.Tensor(fresh_name("W"), (2, 3))
    x = rand((4, 5), rng)
    L = ricci.norm2(ricci.einsum("ij,jb->ib", W2, ricci.tanh(ricci.einsum("ij,jb->ib", W1, x))))
    inputs = {W1.name: rand((3, 4), rng), W2.name: rand((2, 3), rng)}
    return L, W1, W2, inputs


def test_mixed_hessian(rng):
    L, W1, W2, inputs = _two_layer(rng)
    H = ricci.hessian(L, W1, W2)
    assert H.shape == W1.shape + W2.shape
    expected = fd_jacobian(lambda d: ricci.grad(L, W1).evaluate(d), inputs, W2.name)
    assert_close(H.evaluate(inputs), expected, rtol=1e-5, atol=1e-7)


def test_hvp_matches_hessian_contraction(rng):
    L, W1, _, inputs = _two_layer(rng)
    V = rand(W1.shape, rng)
    H = fd_jacobian(lambda d: ricci.grad(L, W1).evaluate(d), inputs, W1.name)
    assert_close(ricci.hvp(L, W1, V).evaluate(inputs), np.tensordot(H, V, axes=2), rtol=1e-5, atol=1e-7)


def test_third_derivative(rng):
    x = ricci.Tensor(fresh_name("x"), (3,))
    L = ricci.sum(ricci.exp(ricci.einsum("ij,j->i", rand((3, 3), rng), x)))
    H = ricci.hessian(L, x)
    inputs = {x.name: rand((3,), rng)}
    expected = fd_jacobian(lambda d: H.evaluate(d), inputs, x.name)
    assert_close(ricci.jacobian(H, x).evaluate(inputs), expected, rtol=1e-5, atol=1e-7)


# -- structured results -------------------------------------------------------------
def test_matrix_factorization_hessian_is_factored(rng):
    m, n, k = 6, 5, 2
    U, V, Y = (ricci.Tensor(fresh_name(s), shape) for s, shape in (("U", (m, k)), ("V", (n, k)), ("Y", (m, n))))
    L = ricci.norm2(ricci.einsum("ik,jk->ij", U, V) - Y)
    H = ricci.hessian(L, U)
    inputs = {U.name: rand((m, k), rng), V.name: rand((n, k), rng), Y.name: rand((m, n), rng)}
    h = H.evaluate(inputs, structured=True)
    assert isinstance(h, ricci.Structured)
    assert h.shape == (m, k, m, k) and h.core.shape == (k, k) and h.deltas == ((0, 2),)
    v = inputs[V.name]
    closed = np.einsum("ac,bd->abcd", np.eye(m), 2 * v.T @ v)
    assert_close(h.todense(), closed)
    assert_close(np.asarray(h), closed)
    assert_close(H.evaluate(inputs), closed)
    direction = rand((m, k), rng)
    assert_close(h.dot(direction), ricci.hvp(L, U, direction).evaluate(inputs))


def test_least_squares_hessian_is_factored(rng):
    X, W, Y = ricci.Tensor(fresh_name("X"), (7, 3)), ricci.Tensor(fresh_name("W"), (3, 2)), ricci.Tensor(fresh_name("Y"), (7, 2))
    H = ricci.hessian(ricci.norm2(ricci.einsum("ij,jk->ik", X, W) - Y), W)
    inputs = {X.name: rand((7, 3), rng), W.name: rand((3, 2), rng), Y.name: rand((7, 2), rng)}
    h = H.evaluate(inputs, structured=True)
    x = inputs[X.name]
    assert h.core.shape == (3, 3) and h.deltas == ((1, 3),)
    assert_close(h.todense(), np.einsum("ac,bd->abcd", 2 * x.T @ x, np.eye(2)))


def test_structured_refuses_to_densify_over_budget(rng):
    U, V = ricci.Tensor(fresh_name("U"), (1000, 20)), ricci.Tensor(fresh_name("V"), (300, 20))
    H = ricci.hessian(ricci.norm2(ricci.einsum("ik,jk->ij", U, V)), U)
    inputs = {U.name: rand((1000, 20), rng), V.name: rand((300, 20), rng)}
    h = H.evaluate(inputs, structured=True)
    assert h.nbytes == 20 * 20 * 8
    with pytest.raises(ricci.MemoryBudgetError, match="dot"):
        h.todense(memory_budget=2**20)
    with pytest.raises(ricci.MemoryBudgetError):
        H.evaluate(inputs, memory_budget=2**20)


def test_structured_without_deltas_is_a_plain_array(rng):
    x, A = ricci.Tensor(fresh_name("x"), (3,)), ricci.Tensor(fresh_name("A"), (3, 3))
    H = ricci.hessian(ricci.einsum("i,ij,j->", x, A, x), x)
    a = rand((3, 3), rng)
    got = H.evaluate({x.name: rand((3,), rng), A.name: a}, structured=True)
    assert isinstance(got, np.ndarray)
    assert_close(got, a + a.T)


def test_identity_jacobian_is_a_product_of_deltas(rng):
    X = ricci.Tensor(fresh_name("X"), (3, 4))
    j = ricci.jacobian(X, X).evaluate({X.name: rand((3, 4), rng)}, structured=True)
    assert j.deltas == ((0, 2), (1, 3)) and j.core.shape == ()
    assert_close(j.todense(), np.einsum("ac,bd->abcd", np.eye(3), np.eye(4)))


# -- simplification ----------------------------------------------------------------------
def test_simplification_merges_and_folds():
    x = ricci.Tensor(fresh_name("x"), (3,))
    assert (x + x) is 2 * x
    assert (x * 1) is x
    assert ricci.einsum("i,i->i", x, x) is ricci.einsum("i,i->i", x, x)
    y = ricci.Tensor(fresh_name("y"), (3,))
    assert ricci.einsum("i,i->i", x, y) is ricci.einsum("i,i->i", y, x)  # factor order does not matter
    assert ricci.einsum("i,i->i", x, ricci.einsum("j,j->j", y, x)) is ricci.einsum("i,i,i->i", x, x, y)


def test_delta_traces_count_correctly(rng):
    x = ricci.Tensor(fresh_name("x"), (3,))
    v = rand((3,), rng)
    J = ricci.jacobian(x, x)  # the identity δ_ij
    assert float(ricci.einsum("ii->", J).evaluate({x.name: v})) == 3.0
    assert float(ricci.einsum("ij->", J).evaluate({x.name: v})) == 3.0
    assert_close(ricci.einsum("ii,i->", J, x).evaluate({x.name: v}), v.sum())
    assert_close(ricci.einsum("ii,i->i", J, x).evaluate({x.name: v}), v)
    assert float(ricci.einsum("ij->", np.eye(4)).evaluate()) == 4.0


def test_logistic_hessian_is_one_weighted_gram_matrix(rng):
    N, n = 40, 6
    X, y, w = ricci.Tensor(fresh_name("X"), (N, n)), ricci.Tensor(fresh_name("y"), (N,)), ricci.Tensor(fresh_name("w"), (n,))
    L = ricci.sum(ricci.log(1 + ricci.exp(-ricci.einsum("i,ij,j->i", y, X, w))))
    H = ricci.hessian(L, w)
    inputs = {X.name: rand((N, n), rng), y.name: rng.choice([-1.0, 1.0], N), w.name: rand((n,), rng)}
    s = 1 / (1 + np.exp(-inputs[y.name] * (inputs[X.name] @ inputs[w.name])))
    assert_close(H.evaluate(inputs), (inputs[X.name].T * (s * (1 - s))) @ inputs[X.name])
    # no n×n×N or N×N intermediate is planned: the diagonal stays a hyperedge
    assert H.cost().largest_intermediate <= N * n


def test_printing_is_identical_in_a_fresh_process():
    program = (
        "import numpy as np, ricci\n"
        "U, V, Y = ricci.Tensor('U', (5, 2)), ricci.Tensor('V', (4, 2)), ricci.Tensor('Y', (5, 4))\n"
        "L = ricci.norm2(ricci.einsum('ik,jk->ij', U, V) - Y)\n"
        "print(ricci.hessian(L, U)); print(ricci.grad(L, [U, V])[1])\n"
    )
    first = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    warm = "import ricci; ricci.Tensor('V', (4, 2)); ricci.Tensor('Z', (3,))\n" + program
    second = subprocess.run([sys.executable, "-c", warm], capture_output=True, text=True, check=True).stdout
    assert first == second and first.strip()


# -- solve ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rhs_shape", [(3,), (3, 2)])
def test_solve_derivatives(rhs_shape, method, rng):
    A, B = ricci.Tensor(fresh_name("A"), (3, 3)), ricci.Tensor(fresh_name("B"), rhs_shape)
    inputs = {A.name: _well_conditioned(3, rng), B.name: rand(rhs_shape, rng)}
    ref = lambda d: np.linalg.solve(d[A.name], d[B.name])  # noqa: E731
    for var in (A, B):
        check_derivative(method, ricci.solve(A, B), ref, inputs, var, var.name, rng)


def test_solve_second_derivatives(rng):
    A, b = ricci.Tensor(fresh_name("A"), (3, 3)), ricci.Tensor(fresh_name("b"), (3,))
    L = ricci.norm2(ricci.solve(A, b))
    inputs = {A.name: _well_conditioned(3, rng), b.name: rand((3,), rng)}
    expected = fd_jacobian(lambda d: ricci.grad(L, A).evaluate(d), inputs, A.name)
    assert_close(ricci.hessian(L, A).evaluate(inputs), expected, rtol=1e-5, atol=1e-7)


SOLVE_CASES = {
    "c·A⁻¹·b": ("i,ij,j->", lambda A, B, b, c: c @ np.linalg.inv(A) @ b),
    "A⁻¹·b": ("ij,j->i", lambda A, B, b, c: np.linalg.solve(A, b)),
    "b·A⁻¹": ("j,ji->i", lambda A, B, b, c: b @ np.linalg.inv(A)),
    "A⁻¹·B": ("ij,jk->ik", lambda A, B, b, c: np.linalg.solve(A, B)),
    "B·A⁻¹": ("ij,jk->ik", lambda A, B, b, c: B @ np.linalg.inv(A)),
    "tr(A⁻¹B)": ("ij,ji->", lambda A, B, b, c: np.trace(np.linalg.inv(A) @ B)),
}


@pytest.mark.parametrize("case", sorted(SOLVE_CASES))
def test_inverse_times_something_is_evaluated_by_solve(case, rng):
    from ricci.plan import schedule

    A, B, b, c = (ricci.Tensor(fresh_name(n), s) for n, s in (("A", (4, 4)), ("B", (4, 4)), ("b", (4,)), ("c", (4,))))
    subscripts, reference = SOLVE_CASES[case]
    operands = {"c·A⁻¹·b": (c, ricci.inv(A), b), "A⁻¹·b": (ricci.inv(A), b), "b·A⁻¹": (b, ricci.inv(A)),
                "A⁻¹·B": (ricci.inv(A), B), "B·A⁻¹": (B, ricci.inv(A)), "tr(A⁻¹B)": (ricci.inv(A), B)}[case]
    expr = ricci.einsum(subscripts, *operands)
    functions = [n.primitive.name for n, _, _ in schedule([expr]) if isinstance(n, ricci.expr.Apply)]
    assert functions == ["solve"]
    values = {A.name: _well_conditioned(4, rng), B.name: _well_conditioned(4, rng), b.name: rand((4,), rng), c.name: rand((4,), rng)}
    assert_close(expr.evaluate(values), reference(*(values[t.name] for t in (A, B, b, c))))


def test_chained_inverses_are_solved_from_the_vector_side(rng):
    from ricci.plan import schedule

    A, B, b = ricci.Tensor(fresh_name("A"), (4, 4)), ricci.Tensor(fresh_name("B"), (4, 4)), ricci.Tensor(fresh_name("b"), (4,))
    expr = ricci.einsum("ij,jk,k->i", ricci.inv(A), ricci.inv(B), b)
    assert [n.primitive.name for n, _, _ in schedule([expr]) if isinstance(n, ricci.expr.Apply)] == ["solve", "solve"]
    values = {A.name: _well_conditioned(4, rng), B.name: _well_conditioned(4, rng), b.name: rand((4,), rng)}
    assert_close(expr.evaluate(values), np.linalg.inv(values[A.name]) @ np.linalg.inv(values[B.name]) @ values[b.name])


def test_diagonal_jacobians_are_stored_as_vectors(rng):
    n = 100_000  # dense: 74.5 GiB
    w, x = ricci.Tensor(fresh_name("w"), (n,)), ricci.Tensor(fresh_name("x"), (n,))
    values = {w.name: rand((n,), rng), x.name: rand((n,), rng, low=1.0, high=2.0)}
    cases = {
        "w + x": (ricci.jacobian(w + x, w), np.ones(n)),
        "w / x": (ricci.jacobian(w / x, x), -values[w.name] / values[x.name] ** 2),
        "sin(w) x": (ricci.jacobian(ricci.sin(w) * x, w), np.cos(values[w.name]) * values[x.name]),
        "w x + w": (ricci.jacobian(w * x + w, w), values[x.name] + 1),
        "hessian": (ricci.hessian(ricci.einsum("i,i->", ricci.sin(w), x), w), -np.sin(values[w.name]) * values[x.name]),
    }
    for name, (expr, diagonal) in cases.items():
        h = expr.evaluate(values, structured=True)
        assert h.deltas == ((0, 1),), name
        assert_close(np.broadcast_to(h.core, (n,)), diagonal, err_msg=name)
        assert_close(h.dot(np.ones(n)), diagonal, err_msg=name)


def test_equal_constants_are_one_node():
    assert ricci.Constant(np.ones(3)) is ricci.Constant(np.ones(3))
    assert ricci.Constant(np.ones(3)) is not ricci.Constant(np.ones(3, dtype=np.float32))
    x = ricci.Tensor(fresh_name("x"), (3,))
    assert ricci.einsum("i,i->i", x, np.arange(3.0)) is ricci.einsum("i,i->i", x, np.arange(3.0))


def test_printed_powers_read_back_as_python(rng):
    y = ricci.Tensor(fresh_name("y"), (3,))
    v = rand((3,), rng, low=0.5, high=2.0)
    for expr, expected in [((y**2) ** 0.5, np.abs(v)), ((y**0.5) ** 2, v), ((y**2) ** -1, v**-2), (-(y**2), -(v**2))]:
        text = str(expr)
        value = eval(text, {"__builtins__": {}}, {y.name: v})  # the printed form is Python for numpy arrays
        assert_close(value, expected, err_msg=text)
        assert_close(expr.evaluate({y.name: v}), expected, err_msg=text)
