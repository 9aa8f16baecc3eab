"""Forward evaluation of ricci.einsum and arithmetic, compared with numpy."""
import numpy as np
import pytest

import ricci
from conftest import assert_close, fresh_name, make_rng, rand, rand_positive

# Dimension sizes per index letter: all different where possible so that a
# transposition bug cannot hide behind equal sizes.
SIZES = dict(zip("ijklmnabcdefgh", [2, 3, 4, 5, 2, 3, 2, 3, 4, 2, 3, 2, 4, 3]))

# ---------------------------------------------------------------------------
# Corpus of einsum subscripts, grouped by intent.  Shapes derive from SIZES.
# ---------------------------------------------------------------------------
MATMUL_CHAINS = [
    "ij,jk->ik",
    "ij,jk,kl->il",
    "ij,jk,kl,lm->im",
    "ij,kj->ik",
    "ji,jk->ik",
    "ij,jk->ki",
    "i,ij->j",
    "ij,j->i",
    "i,i->",
    "ij,jk,ki->",
    "bij,bjk->bik",
    "ij,jk,kl,lm,mn->in",
]
TRACES_DIAGONALS = [
    "ii->",
    "ii->i",
    "iij->j",
    "iji->j",
    "jii->ij",
    "iii->i",
    "iii->",
    "ij,jj->i",
    "iijj->",
    "iijj->ij",
    "ij,ji->",
    "ii,i->i",
]
HYPEREDGES = [
    "ij,ij->ij",
    "ij,ij,ij->ij",
    "i,i,i->",
    "i,i,i->i",
    "ij,ik,il->i",
    "ij,ik,il->ijkl",
    "ijk,ij,ik->i",
    "ab,bc,bd->acd",
    "ij,jk,jl,jm->iklm",
    "i,i,i,i->i",
    "ij,ij,ij->",
]
OUTER_PRODUCTS = [
    "i,j->ij",
    "ij,k->ijk",
    "i,j,k->kji",
    "ij,kl->ikjl",
    "i,j->ji",
    "ij,kl->",
    "i,jk->kij",
]
SUMS = [
    "ij->i",
    "ij->j",
    "ij->",
    "ijk->ik",
    "ijk->",
    "ij,ij->",
    "ijk,jk->",
    "ijk,jk->j",
    "ij->ji",
    "ijk->kij",
    "i->",
    "i->i",
    "ij->ij",
]
IMPLICIT_OUTPUT = [
    "ij,jk",
    "ij,ji",
    "ii",
    "ij",
    "ba",  # implicit output is sorted: "ab", i.e. a transpose
    "ji",
    "i,i",
    "ij,k",
    "ijk,jl",
    "kj,ji",
    "i",
]
SCALARS_RANK0 = [
    "->",
    ",->",
    ",i->i",
    "i,->i",
    ",ij->ij",
    ",,->",
    "ij,->",
    ",",
]

CORPUS = (
    [("matmul", s) for s in MATMUL_CHAINS]
    + [("trace_diag", s) for s in TRACES_DIAGONALS]
    + [("hyperedge", s) for s in HYPEREDGES]
    + [("outer", s) for s in OUTER_PRODUCTS]
    + [("sum", s) for s in SUMS]
    + [("implicit", s) for s in IMPLICIT_OUTPUT]
    + [("rank0", s) for s in SCALARS_RANK0]
)

# Ellipsis cases carry explicit shapes.
ELLIPSIS = [
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 3, 4), (2, 3, 4, 2)]),
    ("i...->...", [(2, 3, 4)]),
    ("...i,...i->...", [(2, 3), (2, 3)]),
    ("ij...,jk...->ik...", [(2, 3, 4), (3, 5, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
    ("...", [(2, 3)]),
    ("...i,i->...", [(2, 3, 4), (4,)]),
    ("i...j->ji...", [(2, 3, 4, 5)]),
]


def shapes_for(subscripts):
    inputs = subscripts.split("->")[0]
    return [tuple(SIZES[c] for c in term) for term in inputs.split(",")]


def corpus_id(entry):
    return "%s:%s" % entry


def build(subscripts, shapes, mode, seed=0):
    """Build a ricci einsum plus the inputs dict and raw operand arrays.

    mode == "tensors": every operand is a ricci.Tensor.
    mode == "mixed":   even-position operands are numpy constants.
    mode == "scalars": rank-0 operands are passed as Python floats.
    """
    rng = make_rng(seed)
    arrays = [rand(s, rng) for s in shapes]
    operands, inputs = [], {}
    for pos, (shape, arr) in enumerate(zip(shapes, arrays)):
        if mode == "mixed" and pos % 2 == 0:
            operands.append(arr)
        elif mode == "scalars" and shape == ():
            operands.append(float(arr))
        else:
            name = fresh_name("op%d" % pos)
            operands.append(ricci.Tensor(name, shape))
            inputs[name] = arr
    return ricci.einsum(subscripts, *operands), inputs, arrays


@pytest.mark.parametrize("mode", ["tensors", "mixed"])
@pytest.mark.parametrize("entry", CORPUS, ids=corpus_id)
def test_corpus_matches_numpy(entry, mode):
    _, subscripts = entry
    shapes = shapes_for(subscripts)
    expr, inputs, arrays = build(subscripts, shapes, mode)
    expected = np.einsum(subscripts, *arrays)
    assert tuple(expr.shape) == expected.shape
    assert expr.ndim == expected.ndim
    got = expr.evaluate(inputs)
    assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("entry", [e for e in CORPUS if e[0] == "rank0"], ids=corpus_id)
def test_rank0_python_scalar_operands(entry):
    _, subscripts = entry
    shapes = shapes_for(subscripts)
    expr, inputs, arrays = build(subscripts, shapes, "scalars")
    expected = np.einsum(subscripts, *arrays)
    assert tuple(expr.shape) == expected.shape
    assert_close(expr.evaluate(inputs), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["tensors", "mixed"])
@pytest.mark.parametrize(
    "subscripts,shapes", ELLIPSIS, ids=["%s|%s" % (s, sh) for s, sh in ELLIPSIS]
)
def test_ellipsis_matches_numpy(subscripts, shapes, mode):
    expr, inputs, arrays = build(subscripts, shapes, mode)
    expected = np.einsum(subscripts, *arrays)
    assert tuple(expr.shape) == expected.shape
    assert_close(expr.evaluate(inputs), expected, rtol=1e-12, atol=1e-12)


def T(shape, prefix="X"):
    name = fresh_name(prefix)
    t = ricci.Tensor(name, tuple(shape))
    return t, name


def test_python_scalar_operand_scales_named():
    A, an = T((2, 3))
    a = rand((2, 3))
    e = ricci.einsum(",ij->ij", 2.5, A)
    assert_close(e.evaluate({an: a}), 2.5 * a, rtol=1e-12)


def test_tensor_shape_and_ndim():
    for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 1, 3)]:
        t, _ = T(shape)
        assert tuple(t.shape) == shape
        assert t.ndim == len(shape)


def test_rank0_tensor_variable():
    s, sn = T(())
    A, an = T((2, 3))
    sv, av = np.array(1.7), rand((2, 3))
    e = ricci.einsum(",ij->ji", s, A)
    assert e.shape == (3, 2)
    assert_close(e.evaluate({sn: sv, an: av}), 1.7 * av.T, rtol=1e-12)


def test_constant_only_expression():
    a, b = rand((2, 3)), rand((3, 4))
    e = ricci.einsum("ij,jk->ik", a, b)
    assert_close(e.evaluate({}), a @ b, rtol=1e-12)


def test_nested_einsum():
    A, an = T((2, 3))
    B, bn = T((3, 4))
    C, cn = T((4, 2))
    AB = ricci.einsum("ij,jk->ik", A, B)
    e = ricci.einsum("ik,ki->i", AB, C)
    rng = make_rng(3)
    a, b, c = rand((2, 3), rng), rand((3, 4), rng), rand((4, 2), rng)
    assert_close(e.evaluate({an: a, bn: b, cn: c}), np.einsum("ik,ki->i", a @ b, c))


def test_same_tensor_twice():
    X, xn = T((3, 3))
    x = rand((3, 3))
    e = ricci.einsum("ij,jk->ik", X, X)
    assert_close(e.evaluate({xn: x}), x @ x)
    e2 = ricci.einsum("ij,ji->", X, X)
    assert_close(e2.evaluate({xn: x}), np.trace(x @ x))


@pytest.mark.parametrize("optimize", ["greedy", "optimal", "dp", "auto"])
def test_optimize_options_forward(optimize):
    A, an = T((2, 3))
    B, bn = T((3, 4))
    C, cn = T((4, 5))
    D, dn = T((5, 2))
    e = ricci.einsum("ij,jk,kl,li->i", A, B, C, D)
    rng = make_rng(5)
    vals = {an: rand((2, 3), rng), bn: rand((3, 4), rng), cn: rand((4, 5), rng), dn: rand((5, 2), rng)}
    expected = np.einsum("ij,jk,kl,li->i", vals[an], vals[bn], vals[cn], vals[dn])
    assert_close(e.evaluate(vals, optimize=optimize), expected)


def test_call_keyword_form_forward():
    A, an = T((2, 3), "Akw")
    B, bn = T((3, 4), "Bkw")
    e = ricci.einsum("ij,jk->ik", A, B)
    a, b = rand((2, 3)), rand((3, 4))
    assert_close(e(**{an: a, bn: b}), a @ b)


def test_float32_forward():
    A, an = T((2, 3))
    B, bn = T((3, 4))
    e = ricci.tanh(ricci.einsum("ij,jk->ik", A, B))
    a, b = rand((2, 3), dtype=np.float32), rand((3, 4), dtype=np.float32)
    got = e.evaluate({an: a, bn: b})
    assert got.dtype == np.float32
    assert_close(got, np.tanh(a.astype(np.float64) @ b.astype(np.float64)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# arithmetic and elementwise functions, forward values
# ---------------------------------------------------------------------------
SHAPE = (3, 4)


@pytest.fixture
def xy():
    X, xn = T(SHAPE, "Xa")
    Y, yn = T(SHAPE, "Ya")
    rng = make_rng(11)
    # away from zero so that division is well conditioned
    x = rand(SHAPE, rng, high=2.0, away_from_zero=0.3)
    y = rand(SHAPE, rng, high=2.0, away_from_zero=0.3)
    return X, Y, {xn: x, yn: y}, x, y


ARITH = [
    ("x+y", lambda X, Y: X + Y, lambda x, y: x + y),
    ("x-y", lambda X, Y: X - Y, lambda x, y: x - y),
    ("x*y", lambda X, Y: X * Y, lambda x, y: x * y),
    ("x/y", lambda X, Y: X / Y, lambda x, y: x / y),
    ("x+2", lambda X, Y: X + 2, lambda x, y: x + 2),
    ("2+x", lambda X, Y: 2 + X, lambda x, y: 2 + x),
    ("x-2", lambda X, Y: X - 2, lambda x, y: x - 2),
    ("1-x", lambda X, Y: 1 - X, lambda x, y: 1 - x),
    ("2*x", lambda X, Y: 2 * X, lambda x, y: 2 * x),
    ("x*2", lambda X, Y: X * 2, lambda x, y: x * 2),
    ("x/2", lambda X, Y: X / 2, lambda x, y: x / 2),
    ("2/x", lambda X, Y: 2 / X, lambda x, y: 2 / x),
    ("x*2.5+y", lambda X, Y: X * 2.5 + Y, lambda x, y: x * 2.5 + y),
    ("-x", lambda X, Y: -X, lambda x, y: -x),
    ("-(x*y)", lambda X, Y: -(X * Y), lambda x, y: -(x * y)),
    ("x**2", lambda X, Y: X ** 2, lambda x, y: x ** 2),
    ("x**3", lambda X, Y: X ** 3, lambda x, y: x ** 3),
    ("x**-1", lambda X, Y: X ** -1, lambda x, y: x ** -1.0),
    ("x*x*y", lambda X, Y: X * X * Y, lambda x, y: x * x * y),
    ("(x+y)/(x-y+10)", lambda X, Y: (X + Y) / (X - Y + 10), lambda x, y: (x + y) / (x - y + 10)),
]


@pytest.mark.parametrize("name,rop,nop", ARITH, ids=[a[0] for a in ARITH])
def test_arithmetic_forward(xy, name, rop, nop):
    X, Y, inputs, x, y = xy
    e = rop(X, Y)
    assert tuple(e.shape) == SHAPE
    assert_close(e.evaluate(inputs), nop(x, y), rtol=1e-12, atol=1e-12)


POS_POW = [0.5, 1.5, 2, 3, -1, 0, 1, -0.5]


@pytest.mark.parametrize("p", POS_POW)
def test_pow_forward_positive_base(p):
    X, xn = T(SHAPE)
    x = rand_positive(SHAPE, make_rng(2))
    assert_close((X ** p).evaluate({xn: x}), x ** float(p), rtol=1e-12)


CONST = rand(SHAPE, make_rng(99), away_from_zero=0.5)

NP_ARITH = [
    ("A*x", lambda X: CONST * X, lambda x: CONST * x),
    ("x*A", lambda X: X * CONST, lambda x: x * CONST),
    ("A+x", lambda X: CONST + X, lambda x: CONST + x),
    ("x+A", lambda X: X + CONST, lambda x: x + CONST),
    ("A-x", lambda X: CONST - X, lambda x: CONST - x),
    ("x-A", lambda X: X - CONST, lambda x: x - CONST),
    ("A/x", lambda X: CONST / X, lambda x: CONST / x),
    ("x/A", lambda X: X / CONST, lambda x: x / CONST),
]


@pytest.mark.parametrize("name,rop,nop", NP_ARITH, ids=[a[0] for a in NP_ARITH])
def test_numpy_array_arithmetic_forward(name, rop, nop):
    X, xn = T(SHAPE)
    x = rand(SHAPE, make_rng(4), away_from_zero=0.3)
    e = rop(X)
    # must be a ricci expression, not an object ndarray produced by numpy broadcasting
    assert not isinstance(e, np.ndarray), "numpy array op Expr produced %r" % type(e)
    assert tuple(e.shape) == SHAPE
    assert_close(e.evaluate({xn: x}), nop(x), rtol=1e-12)


ELEMENTWISE = [
    ("tanh", getattr(ricci, "tanh", None), np.tanh, "any"),
    ("exp", getattr(ricci, "exp", None), np.exp, "any"),
    ("log", getattr(ricci, "log", None), np.log, "pos"),
    ("sigmoid", getattr(ricci, "sigmoid", None), lambda v: 1.0 / (1.0 + np.exp(-v)), "any"),
    ("relu", getattr(ricci, "relu", None), lambda v: np.maximum(v, 0.0), "any"),
    ("sqrt", getattr(ricci, "sqrt", None), np.sqrt, "pos"),
    ("abs", getattr(ricci, "abs", None), np.abs, "any"),
    ("sin", getattr(ricci, "sin", None), np.sin, "any"),
    ("cos", getattr(ricci, "cos", None), np.cos, "any"),
]


@pytest.mark.parametrize("name,rf,nf,domain", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_forward(name, rf, nf, domain):
    assert rf is not None, "ricci.%s is missing" % name
    X, xn = T(SHAPE)
    rng = make_rng(6)
    x = rand_positive(SHAPE, rng) if domain == "pos" else rand(SHAPE, rng, low=-2, high=2)
    e = rf(X)
    assert tuple(e.shape) == SHAPE
    assert_close(e.evaluate({xn: x}), nf(x), rtol=1e-12, atol=1e-14)


def test_relu_and_abs_at_zero_forward():
    X, xn = T((4,))
    x = np.array([-1.0, 0.0, 0.5, -0.0])
    assert_close(ricci.relu(X).evaluate({xn: x}), np.array([0.0, 0.0, 0.5, 0.0]))
    assert_close(ricci.abs(X).evaluate({xn: x}), np.array([1.0, 0.0, 0.5, 0.0]))


def test_elementwise_of_contraction_forward():
    W, wn = T((4, 3))
    x, xn_ = T((3, 5))
    b, bn = T((4,))
    u = ricci.einsum("ij,jb->ib", W, x) + ricci.einsum("i,b->ib", b, np.ones(5))
    c = ricci.tanh(u)
    L = ricci.einsum("ib,ib->", c, c)
    rng = make_rng(8)
    w, xv, bv = rand((4, 3), rng), rand((3, 5), rng), rand((4,), rng)
    cref = np.tanh(w @ xv + bv[:, None])
    assert c.shape == (4, 5)
    assert L.shape == () and L.ndim == 0
    assert_close(c.evaluate({wn: w, xn_: xv, bn: bv}), cref)
    assert_close(L.evaluate({wn: w, xn_: xv, bn: bv}), np.sum(cref * cref))


def test_sum_of_rank0_exprs():
    X, xn = T((3,))
    s = ricci.einsum("i->", X) + ricci.einsum("i,i->", X, X) * 2 - 1
    x = rand((3,))
    assert s.shape == ()
    assert_close(s.evaluate({xn: x}), x.sum() + 2 * (x @ x) - 1)


# ---------------------------------------------------------------------------
# edge cases of evaluation
# ---------------------------------------------------------------------------
def test_uppercase_indices_like_numpy():
    A, an = T((2, 3))
    B, bn = T((3, 4))
    a, b = rand((2, 3)), rand((3, 4))
    e = ricci.einsum("IJ,Jk->kI", A, B)
    assert e.shape == (4, 2)
    assert_close(e.evaluate({an: a, bn: b}), np.einsum("IJ,Jk->kI", a, b))


def test_ellipsis_size1_broadcast_is_numpy_or_clear_error():
    """numpy broadcasts size-1 '...' dims; ricci must either agree or raise
    ShapeError -- never silently return something else."""
    X, xn = T((1, 3, 4))
    Y, yn = T((2, 4, 5))
    x, y = rand((1, 3, 4)), rand((2, 4, 5))
    try:
        e = ricci.einsum("...ij,...jk->...ik", X, Y)
    except ricci.ShapeError:
        return
    assert_close(e.evaluate({xn: x, yn: y}), np.einsum("...ij,...jk->...ik", x, y))


def test_numpy_scalar_types_act_like_python_scalars():
    X, xn = T((2, 3))
    x = rand((2, 3), away_from_zero=0.3)
    for e, ref in [
        (np.float64(2.0) * X, 2.0 * x),
        (X * np.float32(2.0), 2.0 * x),
        (np.float64(1.0) - X, 1.0 - x),
        (np.float64(2.0) / X, 2.0 / x),
        (X ** np.float64(2.0), x ** 2),
    ]:
        assert not isinstance(e, np.ndarray)
        assert tuple(e.shape) == (2, 3)
        assert_close(e.evaluate({xn: x}), ref, rtol=1e-12)


def test_repeated_evaluation_with_new_inputs_and_dtypes():
    """No stale caching: new values, new dtypes, new memory layouts."""
    A, an = T((3, 4))
    B, bn = T((4, 2))
    e = ricci.tanh(ricci.einsum("ij,jk->ik", A, B))
    rng = make_rng(21)
    for _ in range(3):
        a, b = rand((3, 4), rng), rand((4, 2), rng)
        assert_close(e.evaluate({an: a, bn: b}), np.tanh(a @ b))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert e.evaluate({an: a32, bn: b32}).dtype == np.float32
    assert e.evaluate({an: a, bn: b}).dtype == np.float64
    # non-contiguous views and Fortran order
    at = rand((4, 3), rng).T
    bf = np.asfortranarray(rand((4, 2), rng))
    assert_close(e.evaluate({an: at, bn: bf}), np.tanh(at @ bf))
    # cost() in between does not disturb evaluation
    e.cost({an: (3, 4), bn: (4, 2)})
    assert_close(e.evaluate({an: a, bn: b}), np.tanh(a @ b))


def test_evaluate_does_not_mutate_inputs():
    A, an = T((3, 3))
    e = ricci.exp(ricci.einsum("ij,jk->ik", A, A)) * 2 - A
    a = rand((3, 3))
    a_copy = a.copy()
    e.evaluate({an: a})
    np.testing.assert_array_equal(a, a_copy)


def test_read_only_inputs():
    A, an = T((3, 3))
    a = rand((3, 3))
    a.setflags(write=False)
    assert_close(ricci.sin(A).evaluate({an: a}), np.sin(a))


def test_evaluate_list_with_duplicates_and_forward():
    A, an = T((2, 3))
    e1 = ricci.einsum("ij->i", A)
    e2 = ricci.tanh(A)
    a = rand((2, 3))
    out = ricci.evaluate([e1, e2, e1], {an: a})
    assert len(out) == 3
    assert_close(out[0], a.sum(1))
    assert_close(out[1], np.tanh(a))
    assert_close(out[2], a.sum(1))


def test_same_name_same_shape_tensors_are_one_variable():
    name = fresh_name("shared")
    X1 = ricci.Tensor(name, (3,))
    X2 = ricci.Tensor(name, (3,))
    x = rand((3,))
    e = ricci.einsum("i,i->", X1, X2)
    assert_close(e.evaluate({name: x}), x @ x)
