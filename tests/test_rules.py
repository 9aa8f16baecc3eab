"""Derivative rules of ricci checked against central finite differences (float64)
and hand-derived numpy closed forms."""
import time

import numpy as np
import pytest

import ricci
from conftest import (
    METHODS,
    assert_close,
    check_derivative,
    fd_grad,
    fd_jacobian,
    fd_jvp,
    fd_vjp,
    fresh_name,
    make_rng,
    rand,
    rand_positive,
)
from test_einsum_forward import CORPUS, ELLIPSIS, corpus_id, shapes_for


def T(shape, prefix="X"):
    name = fresh_name(prefix)
    return ricci.Tensor(name, tuple(shape)), name


def sigmoid_np(v):
    return 1.0 / (1.0 + np.exp(-v))


SHAPE = (3, 4)
CONST = rand(SHAPE, make_rng(123), away_from_zero=0.5, high=1.5)

# ---------------------------------------------------------------------------
# Unary (one-variable) elementwise cases: (id, ricci builder, numpy ref, domain)
# domains: "any" [-1, 1]; "pos" [0.5, 2]; "nonzero" |x| in [0.2, 1.5], random sign
# ---------------------------------------------------------------------------
UNARY = [
    ("tanh", lambda X: ricci.tanh(X), np.tanh, "any"),
    ("exp", lambda X: ricci.exp(X), np.exp, "any"),
    ("log", lambda X: ricci.log(X), np.log, "pos"),
    ("sigmoid", lambda X: ricci.sigmoid(X), sigmoid_np, "any"),
    ("relu", lambda X: ricci.relu(X), lambda x: np.maximum(x, 0.0), "nonzero"),
    ("sqrt", lambda X: ricci.sqrt(X), np.sqrt, "pos"),
    ("abs", lambda X: ricci.abs(X), np.abs, "nonzero"),
    ("sin", lambda X: ricci.sin(X), np.sin, "any"),
    ("cos", lambda X: ricci.cos(X), np.cos, "any"),
    ("pow2", lambda X: X ** 2, lambda x: x ** 2, "any"),
    ("pow3", lambda X: X ** 3, lambda x: x ** 3, "any"),
    ("pow-1", lambda X: X ** -1, lambda x: x ** -1.0, "nonzero"),
    ("pow0.5", lambda X: X ** 0.5, lambda x: x ** 0.5, "pos"),
    ("pow1.5", lambda X: X ** 1.5, lambda x: x ** 1.5, "pos"),
    ("pow2_pos", lambda X: X ** 2, lambda x: x ** 2, "pos"),
    ("pow3_pos", lambda X: X ** 3, lambda x: x ** 3, "pos"),
    ("pow-1_pos", lambda X: X ** -1, lambda x: x ** -1.0, "pos"),
    ("neg", lambda X: -X, lambda x: -x, "any"),
    ("x+2", lambda X: X + 2, lambda x: x + 2, "any"),
    ("2+x", lambda X: 2 + X, lambda x: 2 + x, "any"),
    ("x-2", lambda X: X - 2, lambda x: x - 2, "any"),
    ("1-x", lambda X: 1 - X, lambda x: 1 - x, "any"),
    ("2*x", lambda X: 2 * X, lambda x: 2 * x, "any"),
    ("x*2", lambda X: X * 2, lambda x: x * 2, "any"),
    ("x/2", lambda X: X / 2, lambda x: x / 2, "any"),
    ("2/x", lambda X: 2 / X, lambda x: 2 / x, "nonzero"),
    ("A*x", lambda X: CONST * X, lambda x: CONST * x, "any"),
    ("x*A", lambda X: X * CONST, lambda x: x * CONST, "any"),
    ("A+x", lambda X: CONST + X, lambda x: CONST + x, "any"),
    ("A-x", lambda X: CONST - X, lambda x: CONST - x, "any"),
    ("x-A", lambda X: X - CONST, lambda x: x - CONST, "any"),
    ("A/x", lambda X: CONST / X, lambda x: CONST / x, "nonzero"),
    ("x/A", lambda X: X / CONST, lambda x: x / CONST, "any"),
    ("x*x", lambda X: X * X, lambda x: x * x, "any"),
    ("x/x**2", lambda X: X / (X ** 2), lambda x: x / x ** 2, "nonzero"),
    ("tanh(tanh)", lambda X: ricci.tanh(ricci.tanh(X)), lambda x: np.tanh(np.tanh(x)), "any"),
    ("1-tanh^2", lambda X: 1 - ricci.tanh(X) * ricci.tanh(X),
     lambda x: 1 - np.tanh(x) ** 2, "any"),
    ("exp(sin)*cos", lambda X: ricci.exp(ricci.sin(X)) * ricci.cos(X),
     lambda x: np.exp(np.sin(x)) * np.cos(x), "any"),
    ("log(sigmoid)", lambda X: ricci.log(ricci.sigmoid(X)), lambda x: np.log(sigmoid_np(x)), "any"),
    ("sqrt(x*x+1)", lambda X: ricci.sqrt(X * X + 1), lambda x: np.sqrt(x * x + 1), "any"),
]


def draw_domain(domain, shape, rng):
    if domain == "pos":
        return rand_positive(shape, rng)
    if domain == "nonzero":
        return rand(shape, rng, high=1.5, away_from_zero=0.2)
    return rand(shape, rng)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", UNARY, ids=[u[0] for u in UNARY])
def test_unary_rules(case, method, rng):
    _, build, ref_np, domain = case
    X, xn = T(SHAPE)
    x = draw_domain(domain, SHAPE, rng)
    check_derivative(method, build(X), lambda d: ref_np(d[xn]), {xn: x}, X, xn, rng)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", UNARY, ids=[u[0] for u in UNARY])
def test_unary_rules_chain_through_contraction(case, method, rng):
    """f(A @ X): chain rule through a matmul, with u = A @ X kept in f's domain."""
    _, build, ref_np, domain = case
    X, xn = T((2, 4))
    if domain == "pos":
        A = rand_positive((3, 2), rng)
        x = rand_positive((2, 4), rng)
    elif domain == "nonzero":
        # positive A, and columns of x with one random sign each: |A @ x| >= 0.5
        A = rand_positive((3, 2), rng)
        x = rand_positive((2, 4), rng) * np.where(rng.uniform(size=4) < 0.5, -1.0, 1.0)
    else:
        A = rand((3, 2), rng, away_from_zero=0.3)
        x = rand((2, 4), rng, away_from_zero=0.3)
    if domain == "nonzero":
        # precondition of the test data (not of ricci): stay away from kinks/poles
        assert np.min(np.abs(A @ x)) > 1e-2, "test data too close to 0; change seed"
    E = build(ricci.einsum("ij,jk->ik", A, X))
    check_derivative(method, E, lambda d: ref_np(A @ d[xn]), {xn: x}, X, xn, rng)


# ---------------------------------------------------------------------------
# Binary elementwise operations between two variables
# ---------------------------------------------------------------------------
BINARY = [
    ("x+y", lambda X, Y: X + Y, lambda x, y: x + y),
    ("x-y", lambda X, Y: X - Y, lambda x, y: x - y),
    ("x*y", lambda X, Y: X * Y, lambda x, y: x * y),
    ("x/y", lambda X, Y: X / Y, lambda x, y: x / y),
    ("y/x", lambda X, Y: Y / X, lambda x, y: y / x),
    ("x*y+x", lambda X, Y: X * Y + X, lambda x, y: x * y + x),
    ("(x-y)*(x+y)", lambda X, Y: (X - Y) * (X + Y), lambda x, y: (x - y) * (x + y)),
    ("tanh(x)*sin(y)", lambda X, Y: ricci.tanh(X) * ricci.sin(Y), lambda x, y: np.tanh(x) * np.sin(y)),
    ("x**2/y", lambda X, Y: X ** 2 / Y, lambda x, y: x ** 2 / y),
]


@pytest.mark.parametrize("wrt", ["x", "y"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", BINARY, ids=[b[0] for b in BINARY])
def test_binary_rules(case, method, wrt, rng):
    _, build, ref_np = case
    X, xn = T(SHAPE, "Xb")
    Y, yn = T(SHAPE, "Yb")
    x = rand(SHAPE, rng, high=1.5, away_from_zero=0.3)
    y = rand(SHAPE, rng, high=1.5, away_from_zero=0.3)
    var, vn = (X, xn) if wrt == "x" else (Y, yn)
    check_derivative(method, build(X, Y), lambda d: ref_np(d[xn], d[yn]), {xn: x, yn: y}, var, vn, rng)


# ---------------------------------------------------------------------------
# relu / abs at exactly zero
# ---------------------------------------------------------------------------
def test_relu_grad_at_zero_is_zero():
    X, xn = T((5,))
    x = np.array([0.0, 0.0, 1.0, -1.0, 0.0])
    L = ricci.einsum("i->", ricci.relu(X))
    g = ricci.grad(L, X).evaluate({xn: x})
    assert_close(g, np.array([0.0, 0.0, 1.0, 0.0, 0.0]), rtol=0, atol=0)


def test_relu_all_zero_input_grad_jvp_vjp():
    X, xn = T((2, 3))
    x = np.zeros((2, 3))
    E = ricci.relu(X)
    t = np.ones((2, 3))
    assert_close(ricci.jvp(E, X, t).evaluate({xn: x}), np.zeros((2, 3)), rtol=0, atol=0)
    assert_close(ricci.vjp(E, X, t).evaluate({xn: x}), np.zeros((2, 3)), rtol=0, atol=0)
    J = ricci.jacobian(E, X).evaluate({xn: x})
    assert_close(J, np.zeros((2, 3, 2, 3)), rtol=0, atol=0)


def test_abs_grad_at_zero_is_zero():
    """abs'(0): documented convention sign(0) = 0 (a valid subgradient)."""
    X, xn = T((3,))
    x = np.array([0.0, 2.0, -3.0])
    g = np.asarray(ricci.grad(ricci.einsum("i->", ricci.abs(X)), X).evaluate({xn: x}))
    assert_close(g, np.array([0.0, 1.0, -1.0]), rtol=0, atol=0)
    t = np.ones(3)
    assert_close(ricci.jvp(ricci.abs(X), X, t).evaluate({xn: x}), np.array([0.0, 1.0, -1.0]), rtol=0, atol=0)


# ---------------------------------------------------------------------------
# Contractions: every corpus einsum, derivative wrt every operand position
# ---------------------------------------------------------------------------
def _contraction_case(subscripts, shapes, rng):
    tensors, names, inputs = [], [], {}
    for pos, s in enumerate(shapes):
        t, n = T(s, "c%d" % pos)
        tensors.append(t)
        names.append(n)
        inputs[n] = rand(s, rng)
    expr = ricci.einsum(subscripts, *tensors)

    def ref(d):
        return np.einsum(subscripts, *[d[n] for n in names])

    return expr, ref, inputs, tensors, names


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("entry", CORPUS, ids=corpus_id)
def test_contraction_derivatives_each_operand(entry, method, rng):
    _, subscripts = entry
    expr, ref, inputs, tensors, names = _contraction_case(subscripts, shapes_for(subscripts), rng)
    for t, n in zip(tensors, names):
        check_derivative(method, expr, ref, inputs, t, n, rng)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("subscripts,shapes", ELLIPSIS, ids=["%s|%s" % e for e in ELLIPSIS])
def test_ellipsis_derivatives_each_operand(subscripts, shapes, method, rng):
    expr, ref, inputs, tensors, names = _contraction_case(subscripts, shapes, rng)
    for t, n in zip(tensors, names):
        check_derivative(method, expr, ref, inputs, t, n, rng)


def test_matmul_grad_closed_form(rng):
    A, an = T((3, 4))
    B, bn = T((4, 5))
    a, b = rand((3, 4), rng), rand((4, 5), rng)
    G = rand((3, 5), rng)
    L = ricci.einsum("ik,ik->", ricci.einsum("ij,jk->ik", A, B), G)
    gA, gB = ricci.grad(L, [A, B])
    assert_close(gA.evaluate({an: a, bn: b}), G @ b.T)
    assert_close(gB.evaluate({an: a, bn: b}), a.T @ G)


def test_trace_and_diagonal_grad_closed_form(rng):
    X, xn = T((4, 4))
    x = rand((4, 4), rng)
    assert_close(ricci.grad(ricci.einsum("ii->", X), X).evaluate({xn: x}), np.eye(4))
    w = rand((4,), rng)
    L = ricci.einsum("i,i->", ricci.einsum("ii->i", X), w)
    assert_close(ricci.grad(L, X).evaluate({xn: x}), np.diag(w))
    # trace of X @ X: d/dX tr(XX) = 2 X^T
    L2 = ricci.einsum("ij,ji->", X, X)
    assert_close(ricci.grad(L2, X).evaluate({xn: x}), 2 * x.T)


def test_hyperedge_grad_closed_form(rng):
    X, xn = T((3, 2))
    Y, yn = T((3, 2))
    Z, zn = T((3, 2))
    x, y, z = rand((3, 2), rng), rand((3, 2), rng), rand((3, 2), rng)
    L = ricci.einsum("ij,ij,ij->", X, Y, Z)
    inputs = {xn: x, yn: y, zn: z}
    gx, gy, gz = ricci.evaluate(ricci.grad(L, [X, Y, Z]), inputs)
    assert_close(gx, y * z)
    assert_close(gy, x * z)
    assert_close(gz, x * y)
    # the same variable three times: d/dx sum x^3 = 3 x^2
    L3 = ricci.einsum("ij,ij,ij->", X, X, X)
    assert_close(ricci.grad(L3, X).evaluate({xn: x}), 3 * x ** 2)


def test_outer_and_sum_grad_closed_form(rng):
    u, un = T((3,))
    v, vn = T((4,))
    uv, vv = rand((3,), rng), rand((4,), rng)
    G = rand((3, 4), rng)
    L = ricci.einsum("ij,ij->", ricci.einsum("i,j->ij", u, v), G)
    assert_close(ricci.grad(L, u).evaluate({un: uv, vn: vv}), G @ vv)
    assert_close(ricci.grad(L, v).evaluate({un: uv, vn: vv}), G.T @ uv)
    X, xn = T((3, 4))
    assert_close(ricci.grad(ricci.einsum("ij->", X), X).evaluate({xn: G}), np.ones((3, 4)))
    w = rand((4,), rng)
    L2 = ricci.einsum("j,j->", ricci.einsum("ij->j", X), w)
    assert_close(ricci.grad(L2, X).evaluate({xn: G}), np.broadcast_to(w, (3, 4)))


# ---------------------------------------------------------------------------
# Variable occurring more than once: x^T A x
# ---------------------------------------------------------------------------
@pytest.fixture
def quadratic(rng):
    n = 4
    x, xn = T((n,), "xq")
    A, an = T((n, n), "Aq")
    xv, av = rand((n,), rng), rand((n, n), rng)
    L = ricci.einsum("i,ij,j->", x, A, x)
    return L, x, xn, A, an, xv, av


def test_quadratic_form_grad_total_derivative(quadratic):
    L, x, xn, A, an, xv, av = quadratic
    inputs = {xn: xv, an: av}
    assert_close(L.evaluate(inputs), xv @ av @ xv)
    gx = ricci.grad(L, x)
    assert gx.shape == (4,)
    assert_close(gx.evaluate(inputs), (av + av.T) @ xv)
    assert_close(ricci.grad(L, A).evaluate(inputs), np.outer(xv, xv))
    # and against FD
    assert_close(gx.evaluate(inputs), fd_grad(lambda d: d[xn] @ d[an] @ d[xn], inputs, xn))


def test_quadratic_form_hessian(quadratic):
    L, x, xn, A, an, xv, av = quadratic
    H = ricci.hessian(L, x)
    assert H.shape == (4, 4)
    assert_close(H.evaluate({xn: xv, an: av}), av + av.T)
    # hessian wrt A of a function linear in A is zero
    HA = ricci.hessian(L, A)
    assert HA.shape == (4, 4, 4, 4)
    assert_close(HA.evaluate({xn: xv, an: av}), np.zeros((4, 4, 4, 4)), rtol=0, atol=1e-12)


def test_quadratic_form_via_separate_einsums(quadratic, rng):
    """Same variable reached through two different sub-expressions."""
    _, x, xn, A, an, xv, av = quadratic
    Ax = ricci.einsum("ij,j->i", A, x)
    L = ricci.einsum("i,i->", x, Ax) + ricci.einsum("i,i->", x, x)
    inputs = {xn: xv, an: av}
    assert_close(ricci.grad(L, x).evaluate(inputs), (av + av.T) @ xv + 2 * xv)
    assert_close(ricci.hessian(L, x).evaluate(inputs), av + av.T + 2 * np.eye(4))


# ---------------------------------------------------------------------------
# tanh MLP: hand-written numpy backprop as an independent reference
# ---------------------------------------------------------------------------
MLP_SHAPES = {"W1": (4, 3), "b1": (4,), "W2": (2, 4)}


def mlp_np(W1, b1, W2, x):
    h1 = np.tanh(W1 @ x + b1[:, None])
    h2 = np.tanh(W2 @ h1)
    return np.sum(h2 * h2)


def mlp_grads_np(W1, b1, W2, x):
    h1 = np.tanh(W1 @ x + b1[:, None])
    h2 = np.tanh(W2 @ h1)
    du2 = 2 * h2 * (1 - h2 ** 2)
    dW2 = du2 @ h1.T
    du1 = (W2.T @ du2) * (1 - h1 ** 2)
    return {"W1": du1 @ x.T, "b1": du1.sum(axis=1), "W2": dW2}


@pytest.fixture
def mlp(rng):
    names = {k: fresh_name(k) for k in MLP_SHAPES}
    tens = {k: ricci.Tensor(names[k], s) for k, s in MLP_SHAPES.items()}
    xc = rand((3, 5), rng, low=-2, high=2)
    h1 = ricci.tanh(ricci.einsum("ij,jb->ib", tens["W1"], xc) + ricci.einsum("i,b->ib", tens["b1"], np.ones(5)))
    h2 = ricci.tanh(ricci.einsum("ij,jb->ib", tens["W2"], h1))
    L = ricci.einsum("ib,ib->", h2, h2)
    vals = {k: rand(s, rng, low=-1.5, high=1.5) for k, s in MLP_SHAPES.items()}
    inputs = {names[k]: v for k, v in vals.items()}

    def loss(d):
        return mlp_np(d[names["W1"]], d[names["b1"]], d[names["W2"]], xc)

    def grads(d):
        return mlp_grads_np(d[names["W1"]], d[names["b1"]], d[names["W2"]], xc)

    return dict(L=L, tens=tens, names=names, inputs=inputs, loss=loss, grads=grads, x=xc)


def test_mlp_reference_backprop_is_correct(mlp):
    """Sanity check of the test's own hand-written gradient against FD."""
    g = mlp["grads"](mlp["inputs"])
    for k in MLP_SHAPES:
        assert_close(g[k], fd_grad(mlp["loss"], mlp["inputs"], mlp["names"][k]))


def test_mlp_loss_forward(mlp):
    assert_close(mlp["L"].evaluate(mlp["inputs"]), mlp["loss"](mlp["inputs"]))


@pytest.mark.parametrize("k", list(MLP_SHAPES))
def test_mlp_grad(mlp, k):
    g = ricci.grad(mlp["L"], mlp["tens"][k])
    assert tuple(g.shape) == MLP_SHAPES[k]
    expected = mlp["grads"](mlp["inputs"])[k]
    assert_close(g.evaluate(mlp["inputs"]), expected)
    assert_close(g.evaluate(mlp["inputs"]), fd_grad(mlp["loss"], mlp["inputs"], mlp["names"][k]))


@pytest.mark.parametrize("k", list(MLP_SHAPES))
def test_mlp_hessian_vs_fd_of_reference_grad(mlp, k):
    H = ricci.hessian(mlp["L"], mlp["tens"][k])
    s = MLP_SHAPES[k]
    assert tuple(H.shape) == s + s
    expected = fd_jacobian(lambda d: mlp["grads"](d)[k], mlp["inputs"], mlp["names"][k])
    got = np.asarray(H.evaluate(mlp["inputs"]))
    assert_close(got, expected)
    # a Hessian is symmetric
    n = int(np.prod(s))
    assert_close(got.reshape(n, n), got.reshape(n, n).T, rtol=1e-9, atol=1e-12)


def test_mlp_hessian_equals_jacobian_of_grad(mlp):
    W1 = mlp["tens"]["W1"]
    H = ricci.hessian(mlp["L"], W1).evaluate(mlp["inputs"])
    J = ricci.jacobian(ricci.grad(mlp["L"], W1), W1).evaluate(mlp["inputs"])
    assert_close(J, H, rtol=1e-9, atol=1e-12)


def test_mlp_cross_derivative(mlp):
    """d/dW2 of grad wrt W1 (mixed second derivative) vs FD of the reference."""
    g1 = ricci.grad(mlp["L"], mlp["tens"]["W1"])
    J = ricci.jacobian(g1, mlp["tens"]["W2"])
    assert J.shape == (4, 3, 2, 4)
    expected = fd_jacobian(lambda d: mlp["grads"](d)["W1"], mlp["inputs"], mlp["names"]["W2"])
    assert_close(J.evaluate(mlp["inputs"]), expected)


@pytest.mark.parametrize("wrt", ["W1", "W2", "b1"])
def test_grad_of_derived_expression(mlp, wrt):
    """grad of ||grad_W1 L||^2 (a function of a derived expression)."""
    g1 = ricci.grad(mlp["L"], mlp["tens"]["W1"])
    M = ricci.einsum("ij,ij->", g1, g1)
    gM = ricci.grad(M, mlp["tens"][wrt])
    assert tuple(gM.shape) == MLP_SHAPES[wrt]

    def M_np(d):
        return np.sum(mlp["grads"](d)["W1"] ** 2)

    assert_close(M.evaluate(mlp["inputs"]), M_np(mlp["inputs"]))
    assert_close(gM.evaluate(mlp["inputs"]), fd_grad(M_np, mlp["inputs"], mlp["names"][wrt]))


@pytest.mark.parametrize("method", ["vjp", "jvp", "jacobian"])
def test_mlp_hidden_layer_derivatives(mlp, method, rng):
    """vjp / jvp / jacobian of a non-scalar intermediate (the hidden layer)."""
    W1, b1 = mlp["tens"]["W1"], mlp["tens"]["b1"]
    xc = mlp["x"]
    h1 = ricci.tanh(ricci.einsum("ij,jb->ib", W1, xc) + ricci.einsum("i,b->ib", b1, np.ones(5)))
    n1, nb = mlp["names"]["W1"], mlp["names"]["b1"]

    def ref(d):
        return np.tanh(d[n1] @ xc + d[nb][:, None])

    for var, vn in [(W1, n1), (b1, nb)]:
        check_derivative(method, h1, ref, mlp["inputs"], var, vn, rng)


def test_hessian_of_var_used_twice_in_matmul(rng):
    """L = sum(tanh(X @ X)); dL/dX = D X^T + X^T D with D = 1 - tanh(XX)^2."""
    X, xn = T((3, 3))
    xv = rand((3, 3), rng)
    L = ricci.einsum("ij->", ricci.tanh(ricci.einsum("ij,jk->ik", X, X)))

    def g_np(d):
        x = d[xn]
        D = 1 - np.tanh(x @ x) ** 2
        return D @ x.T + x.T @ D

    inputs = {xn: xv}
    assert_close(g_np(inputs), fd_grad(lambda d: np.sum(np.tanh(d[xn] @ d[xn])), inputs, xn))
    assert_close(ricci.grad(L, X).evaluate(inputs), g_np(inputs))
    assert_close(ricci.hessian(L, X).evaluate(inputs), fd_jacobian(g_np, inputs, xn))


# ---------------------------------------------------------------------------
# The example from the spec, verbatim
# ---------------------------------------------------------------------------
@pytest.fixture
def spec_example(rng):
    wn, xn, bn = fresh_name("W"), fresh_name("x"), fresh_name("b")
    W = ricci.Tensor(wn, (4, 3))
    x = ricci.Tensor(xn, (3, 5))
    b = ricci.Tensor(bn, (4,))
    u = ricci.einsum("ij,jb->ib", W, x) + ricci.einsum("i,b->ib", b, np.ones(5))
    c = ricci.tanh(u)
    L = ricci.einsum("ib,ib->", c, c)
    vals = {wn: rand((4, 3), rng), xn: rand((3, 5), rng), bn: rand((4,), rng)}

    def c_np(d):
        return np.tanh(d[wn] @ d[xn] + d[bn][:, None])

    def L_np(d):
        return np.sum(c_np(d) ** 2)

    return dict(W=W, x=x, b=b, c=c, L=L, wn=wn, xn=xn, bn=bn, vals=vals, c_np=c_np, L_np=L_np)


def test_spec_example_grads(spec_example):
    e = spec_example
    for var, vn in [(e["W"], e["wn"]), (e["x"], e["xn"]), (e["b"], e["bn"])]:
        g = ricci.grad(e["L"], var)
        assert tuple(g.shape) == e["vals"][vn].shape
        assert g.ndim == e["vals"][vn].ndim
        assert_close(g.evaluate(e["vals"]), fd_grad(e["L_np"], e["vals"], vn))


def test_spec_example_jacobian_vjp_jvp(spec_example, rng):
    e = spec_example
    J = ricci.jacobian(e["c"], e["W"])
    assert J.shape == (4, 5, 4, 3)
    Jfd = fd_jacobian(e["c_np"], e["vals"], e["wn"])
    assert_close(J.evaluate(e["vals"]), Jfd)
    G = rand((4, 5), rng)
    v = ricci.vjp(e["c"], e["W"], G)
    assert v.shape == (4, 3)
    assert_close(v.evaluate(e["vals"]), np.tensordot(G, Jfd, axes=2))
    Tg = rand((4, 3), rng)
    j = ricci.jvp(e["c"], e["W"], Tg)
    assert j.shape == (4, 5)
    assert_close(j.evaluate(e["vals"]), fd_jvp(e["c_np"], e["vals"], e["wn"], Tg))


def test_vjp_with_expr_cotangent(spec_example, rng):
    e = spec_example
    gn = fresh_name("G")
    Gt = ricci.Tensor(gn, (4, 5))
    G = rand((4, 5), rng)
    v = ricci.vjp(e["c"], e["W"], Gt)
    assert v.shape == (4, 3)
    inputs = {**e["vals"], gn: G}
    assert_close(v.evaluate(inputs), fd_vjp(e["c_np"], e["vals"], e["wn"], G))
    # an expression cotangent, e.g. 2*c (gives the grad of sum c^2)
    v2 = ricci.vjp(e["c"], e["W"], 2 * e["c"])
    assert_close(v2.evaluate(e["vals"]), fd_grad(e["L_np"], e["vals"], e["wn"]))


def test_jvp_with_expr_tangent(spec_example, rng):
    e = spec_example
    tn = fresh_name("Tw")
    Tt = ricci.Tensor(tn, (4, 3))
    Tg = rand((4, 3), rng)
    j = ricci.jvp(e["c"], e["W"], Tt)
    assert j.shape == (4, 5)
    assert_close(j.evaluate({**e["vals"], tn: Tg}), fd_jvp(e["c_np"], e["vals"], e["wn"], Tg))


def test_grad_list_form_and_shared_evaluate(spec_example):
    e = spec_example
    gs = ricci.grad(e["L"], [e["W"], e["b"]])
    assert isinstance(gs, (list, tuple)) and len(gs) == 2
    assert gs[0].shape == (4, 3) and gs[1].shape == (4,)
    exp_W = fd_grad(e["L_np"], e["vals"], e["wn"])
    exp_b = fd_grad(e["L_np"], e["vals"], e["bn"])
    assert_close(gs[0].evaluate(e["vals"]), exp_W)
    assert_close(gs[1].evaluate(e["vals"]), exp_b)
    out = ricci.evaluate(gs, e["vals"])
    assert isinstance(out, list) and len(out) == 2
    assert_close(out[0], exp_W)
    assert_close(out[1], exp_b)
    # mixing a forward expression and derived ones in one evaluate call
    out2 = ricci.evaluate([e["L"], gs[1], e["c"]], e["vals"])
    assert_close(out2[0], e["L_np"](e["vals"]))
    assert_close(out2[1], exp_b)
    assert_close(out2[2], e["c_np"](e["vals"]))


def test_evaluate_list_with_optimize(spec_example):
    e = spec_example
    gs = ricci.grad(e["L"], [e["W"], e["x"]])
    out = ricci.evaluate(gs, e["vals"], optimize="greedy")
    assert_close(out[0], fd_grad(e["L_np"], e["vals"], e["wn"]))
    assert_close(out[1], fd_grad(e["L_np"], e["vals"], e["xn"]))


def test_call_keyword_form(spec_example):
    e = spec_example
    g = ricci.grad(e["L"], e["W"])
    got = g(**e["vals"])
    assert_close(got, fd_grad(e["L_np"], e["vals"], e["wn"]))


def test_float32_inputs_give_float32(spec_example, rng):
    e = spec_example
    vals32 = {k: v.astype(np.float32) for k, v in e["vals"].items()}
    # numpy's promotion: the float64 ones(5) constant of the spec model makes its values float64 ...
    assert e["L"].evaluate(vals32).dtype == np.result_type(np.float32, np.ones(5).dtype) == np.float64
    # ... and with a float32 constant everything stays float32
    W, x, b = e["W"], e["x"], e["b"]
    u = ricci.einsum("ij,jb->ib", W, x) + ricci.einsum("i,b->ib", b, np.ones(5, dtype=np.float32))
    c = ricci.tanh(u)
    L = ricci.einsum("ib,ib->", c, c)
    got = ricci.grad(L, W).evaluate(vals32)
    assert got.dtype == np.float32
    assert_close(got, fd_grad(e["L_np"], e["vals"], e["wn"]), rtol=1e-4, atol=1e-5)
    assert L.evaluate(vals32).dtype == np.float32
    assert ricci.jacobian(c, W).evaluate(vals32).dtype == np.float32
    assert all(a.dtype == np.float32 for a in ricci.evaluate(ricci.grad(L, [W, b]), vals32))


def test_float64_inputs_give_float64(spec_example):
    e = spec_example
    assert ricci.grad(e["L"], e["W"]).evaluate(e["vals"]).dtype == np.float64


@pytest.mark.parametrize(
    "optimize", ["greedy", "optimal", "dp", "auto", "auto-hq", "branch-2", "branch-all", "random-greedy"]
)
def test_optimize_options_agree(spec_example, optimize):
    e = spec_example
    g = ricci.grad(e["L"], e["W"])
    assert_close(g.evaluate(e["vals"], optimize=optimize), fd_grad(e["L_np"], e["vals"], e["wn"]))
    H = ricci.hessian(e["L"], e["b"])
    ref = H.evaluate(e["vals"], optimize="auto")
    assert_close(H.evaluate(e["vals"], optimize=optimize), ref, rtol=1e-10, atol=1e-12)


def test_grad_of_independent_variable_is_zero(spec_example):
    e = spec_example
    yn = fresh_name("Yind")
    Y = ricci.Tensor(yn, (2, 6))
    g = ricci.grad(e["L"], Y)
    assert g.shape == (2, 6)
    got = np.asarray(g.evaluate({**e["vals"], yn: rand((2, 6))}))
    assert got.shape == (2, 6)
    assert np.all(got == 0)


def test_grad_independent_then_vjp_jvp_jacobian_zero(spec_example):
    e = spec_example
    yn = fresh_name("Yind")
    Y = ricci.Tensor(yn, (3,))
    vals = {**e["vals"], yn: rand((3,))}
    assert np.all(np.asarray(ricci.jacobian(e["c"], Y).evaluate(vals)) == 0)
    assert ricci.jacobian(e["c"], Y).shape == (4, 5, 3)
    assert np.all(np.asarray(ricci.vjp(e["c"], Y, np.ones((4, 5))).evaluate(vals)) == 0)
    assert np.all(np.asarray(ricci.jvp(e["c"], Y, np.ones(3)).evaluate(vals)) == 0)


def test_gradient_that_no_longer_depends_on_a_variable(rng):
    """grad of a function linear in W does not depend on W, yet the full dict is accepted."""
    W, wn = T((3, 4), "Wlin")
    v, vn = T((4,), "vlin")
    b, bn = T((3,), "blin")
    L = ricci.einsum("ij,j->", W, v) + ricci.einsum("i,i->", b, b)
    vals = {wn: rand((3, 4), rng), vn: rand((4,), rng), bn: rand((3,), rng)}
    gW = ricci.grad(L, W)
    assert_close(gW.evaluate(vals), np.outer(np.ones(3), vals[vn]))
    gb = ricci.grad(L, b)
    assert_close(gb.evaluate(vals), 2 * vals[bn])


def test_grad_wrt_rank0_tensor(rng):
    s, sn = T(())
    X, xn = T((3,))
    L = ricci.einsum(",i,i->", s, X, X) + ricci.einsum(",->", s, s)
    vals = {sn: np.array(0.7), xn: rand((3,), rng)}
    g = ricci.grad(L, s)
    assert g.shape == ()
    assert_close(g.evaluate(vals), vals[xn] @ vals[xn] + 2 * 0.7)
    assert_close(ricci.hessian(L, s).evaluate(vals), np.array(2.0))


def test_sum_of_terms_sharing_variable(rng):
    X, xn = T((3, 3))
    x = rand((3, 3), rng)
    L = (ricci.einsum("ij,ij->", X, X) + ricci.einsum("ii->", X) * 3.0
         - ricci.einsum("ij->", ricci.sin(X)) + 2.0)
    g = ricci.grad(L, X)
    assert_close(g.evaluate({xn: x}), 2 * x + 3 * np.eye(3) - np.cos(x))


def test_deep_chain_correct_at_moderate_depth(rng):
    """20 tanh layers with shared weight: grad vs FD."""
    W, wn = T((3, 3), "Wdeep")
    h0 = rand((3, 2), rng)
    h = h0
    for _ in range(20):
        h = ricci.tanh(ricci.einsum("ij,jb->ib", W, h))
    L = ricci.einsum("ib,ib->", h, h)

    def L_np(d):
        hh = h0
        for _ in range(20):
            hh = np.tanh(d[wn] @ hh)
        return np.sum(hh * hh)

    vals = {wn: rand((3, 3), rng, low=-1.5, high=1.5)}
    t0 = time.perf_counter()
    g = ricci.grad(L, W)
    assert time.perf_counter() - t0 < 10
    assert_close(g.evaluate(vals), fd_grad(L_np, vals, wn))


# ---------------------------------------------------------------------------
# second derivatives of every elementwise rule; HVPs; edge cases
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", UNARY, ids=[u[0] for u in UNARY])
def test_unary_hessian_vs_fd_of_grad(case, rng):
    """Hessian of sum(w * f(X)) vs FD of ricci.grad (grad is FD-checked in
    test_unary_rules).  Exercises the derivative of every derivative rule."""
    _, build, ref_np, domain = case
    X, xn = T(SHAPE)
    x = draw_domain(domain, SHAPE, rng)
    w = rand(SHAPE, rng)
    L = ricci.einsum("ij,ij->", build(X), w)
    g = ricci.grad(L, X)
    H = ricci.hessian(L, X)
    assert H.shape == SHAPE + SHAPE
    inputs = {xn: x}
    expected = fd_jacobian(lambda d: np.asarray(g.evaluate(d), dtype=np.float64), inputs, xn)
    got = np.asarray(H.evaluate(inputs))
    assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # for an elementwise f the Hessian is diagonal
    Hm = got.reshape(12, 12)
    assert_close(Hm - np.diag(np.diag(Hm)), np.zeros((12, 12)), rtol=0, atol=1e-12)


SECOND_DERIVS = [
    ("tanh", lambda X: ricci.tanh(X), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), "any"),
    ("exp", lambda X: ricci.exp(X), np.exp, "any"),
    ("log", lambda X: ricci.log(X), lambda x: -1 / x ** 2, "pos"),
    ("sigmoid", lambda X: ricci.sigmoid(X),
     lambda x: sigmoid_np(x) * (1 - sigmoid_np(x)) * (1 - 2 * sigmoid_np(x)), "any"),
    ("relu", lambda X: ricci.relu(X), lambda x: 0 * x, "nonzero"),
    ("sqrt", lambda X: ricci.sqrt(X), lambda x: -0.25 * x ** -1.5, "pos"),
    ("abs", lambda X: ricci.abs(X), lambda x: 0 * x, "nonzero"),
    ("sin", lambda X: ricci.sin(X), lambda x: -np.sin(x), "any"),
    ("cos", lambda X: ricci.cos(X), lambda x: -np.cos(x), "any"),
    ("pow2", lambda X: X ** 2, lambda x: 2 + 0 * x, "any"),
    ("pow3", lambda X: X ** 3, lambda x: 6 * x, "any"),
    ("pow-1", lambda X: X ** -1, lambda x: 2 * x ** -3.0, "nonzero"),
    ("pow0.5", lambda X: X ** 0.5, lambda x: -0.25 * x ** -1.5, "pos"),
    ("pow1.5", lambda X: X ** 1.5, lambda x: 0.75 * x ** -0.5, "pos"),
    ("pow1", lambda X: X ** 1, lambda x: 0 * x, "any"),
    ("2/x", lambda X: 2 / X, lambda x: 4 / x ** 3, "nonzero"),
]


@pytest.mark.parametrize("case", SECOND_DERIVS, ids=[c[0] for c in SECOND_DERIVS])
def test_unary_hessian_closed_form(case, rng):
    """Hessian of sum(f(X)) is diag(f''(x)) -- hand-derived second derivatives."""
    _, build, f2, domain = case
    X, xn = T((5,))
    x = draw_domain(domain, (5,), rng)
    H = ricci.hessian(ricci.einsum("i->", build(X)), X)
    assert_close(H.evaluate({xn: x}), np.diag(f2(x)), rtol=1e-9, atol=1e-12)


def test_pow1_and_pow0_at_zero_are_finite():
    """d/dx x**1 = 1 and d/dx x**0 = 0 everywhere, including x = 0 (a naive
    p * x**(p-1) gives 0 * inf = nan for the second derivative / for p=0)."""
    X, xn = T((3,))
    x = np.array([0.0, 1.0, -2.0])
    g1 = ricci.grad(ricci.einsum("i->", X ** 1), X).evaluate({xn: x})
    assert_close(g1, np.ones(3), rtol=0, atol=0)
    g0 = ricci.grad(ricci.einsum("i->", X ** 0), X).evaluate({xn: x})
    assert_close(g0, np.zeros(3), rtol=0, atol=0)
    g2 = ricci.grad(ricci.einsum("i->", X ** 2), X).evaluate({xn: x})
    assert_close(g2, 2 * x, rtol=0, atol=0)
    h2 = ricci.hessian(ricci.einsum("i->", X ** 2), X).evaluate({xn: x})
    assert_close(h2, 2 * np.eye(3), rtol=0, atol=0)


@pytest.mark.parametrize("case", UNARY, ids=[u[0] for u in UNARY])
def test_third_derivative_via_jacobian_of_hessian(case, rng):
    """jacobian(hessian(L)) vs FD of the Hessian (itself checked above)."""
    _, build, ref_np, domain = case
    X, xn = T(SHAPE)
    x = draw_domain(domain, SHAPE, rng)
    w = rand(SHAPE, rng)
    L = ricci.einsum("ij,ij->", build(X), w)
    H = ricci.hessian(L, X)
    J3 = ricci.jacobian(H, X)
    assert J3.shape == SHAPE * 3
    inputs = {xn: x}
    expected = fd_jacobian(lambda d: np.asarray(H.evaluate(d), dtype=np.float64), inputs, xn)
    assert_close(J3.evaluate(inputs), expected, rtol=1e-5, atol=1e-6)


def test_hessian_vector_product_via_jvp_of_grad(spec_example, rng):
    e = spec_example
    g = ricci.grad(e["L"], e["W"])
    Tg = rand((4, 3), rng)
    hvp = ricci.jvp(g, e["W"], Tg)
    assert hvp.shape == (4, 3)
    expected = fd_jvp(lambda d: np.asarray(g.evaluate(d), dtype=np.float64), e["vals"], e["wn"], Tg)
    assert_close(hvp.evaluate(e["vals"]), expected)
    H = np.asarray(ricci.hessian(e["L"], e["W"]).evaluate(e["vals"]))
    assert_close(hvp.evaluate(e["vals"]), np.tensordot(H, Tg, axes=2))


def test_vjp_of_grad(spec_example, rng):
    e = spec_example
    g = ricci.grad(e["L"], e["W"])
    G = rand((4, 3), rng)
    v = ricci.vjp(g, e["b"], G)
    assert v.shape == (4,)
    expected = fd_vjp(lambda d: np.asarray(g.evaluate(d), dtype=np.float64), e["vals"], e["bn"], G)
    assert_close(v.evaluate(e["vals"]), expected)


def test_jacobian_of_tensor_wrt_itself_is_identity():
    X, xn = T((2, 3))
    J = ricci.jacobian(X, X)
    assert J.shape == (2, 3, 2, 3)
    assert_close(J.evaluate({xn: rand((2, 3))}), np.eye(6).reshape(2, 3, 2, 3), rtol=0, atol=0)
    s, sn = T(())
    assert_close(ricci.grad(s, s).evaluate({sn: np.array(3.0)}), np.array(1.0), rtol=0, atol=0)


def test_derivatives_of_constant_expression_are_zero():
    X, xn = T((2, 3))
    C = ricci.einsum("ij,jk->ik", rand((2, 4)), rand((4, 3)))
    J = ricci.jacobian(C, X)
    assert J.shape == (2, 3, 2, 3)
    assert np.all(np.asarray(J.evaluate({xn: rand((2, 3))})) == 0)


def test_same_name_tensors_total_derivative():
    """Two Tensor objects with one name and shape are the same input, so the
    derivative wrt that input counts both occurrences."""
    name = fresh_name("shared")
    X1 = ricci.Tensor(name, (3,))
    X2 = ricci.Tensor(name, (3,))
    x = rand((3,))
    L = ricci.einsum("i,i->", X1, X2)
    assert_close(ricci.grad(L, X1).evaluate({name: x}), 2 * x)
    assert_close(ricci.grad(L, X2).evaluate({name: x}), 2 * x)


def test_grad_list_with_repeated_variable(spec_example):
    e = spec_example
    g1, g2 = ricci.grad(e["L"], [e["W"], e["W"]])
    expected = fd_grad(e["L_np"], e["vals"], e["wn"])
    assert_close(g1.evaluate(e["vals"]), expected)
    assert_close(g2.evaluate(e["vals"]), expected)


def test_vjp_jvp_on_big_input_do_not_materialize_jacobian():
    """jvp / vjp of tanh(X) for X (1000, 2000) (the Jacobian would be 32 TB)."""
    X, xn = T((1000, 2000))
    rng = make_rng(31)
    x = rand((1000, 2000), rng)
    t = rand((1000, 2000), rng)
    E = ricci.tanh(X)
    d = 1 - np.tanh(x) ** 2
    t0 = time.perf_counter()
    assert_close(ricci.jvp(E, X, t).evaluate({xn: x}), d * t)
    assert_close(ricci.vjp(E, X, t).evaluate({xn: x}), d * t)
    assert time.perf_counter() - t0 < 10


def test_float32_derivatives_keep_dtype(spec_example, rng):
    e = spec_example
    v32 = {k: v.astype(np.float32) for k, v in e["vals"].items()}
    W, x, b = e["W"], e["x"], e["b"]
    c = ricci.tanh(ricci.einsum("ij,jb->ib", W, x) + ricci.einsum("i,b->ib", b, np.ones(5, dtype=np.float32)))
    L = ricci.einsum("ib,ib->", c, c)
    assert ricci.hessian(L, b).evaluate(v32).dtype == np.float32
    assert ricci.jvp(c, W, rand((4, 3), rng).astype(np.float32)).evaluate(v32).dtype == np.float32
    assert ricci.vjp(c, W, rand((4, 5), rng).astype(np.float32)).evaluate(v32).dtype == np.float32
    # a float64 constant (the spec model's ones(5)) promotes, as numpy.einsum would
    assert ricci.hessian(e["L"], b).evaluate(v32).dtype == np.float64
