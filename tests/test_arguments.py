"""Every argument checked (issue 8): each bad argument to a public function raises a
ricci exception (a ``ricci.RicciError``) whose message names the problem, and results of
``evaluate`` never alias each other or the inputs.
"""
import numpy as np
import pytest

import ricci
from conftest import fresh_name


def T(shape, prefix="arg"):
    return ricci.Tensor(fresh_name(prefix), shape)


def raises_ricci(exc_type, fn, *args, match=None, **kwargs):
    with pytest.raises(exc_type, match=match) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, ricci.RicciError), f"{type(info.value).__name__} is not a RicciError"
    return info.value


# ---------------------------------------------------------------------------
# the hierarchy of the new error types
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ricci.__all__)
def test_every_exported_error_is_a_ricci_error(name):
    obj = getattr(ricci, name)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        assert issubclass(obj, ricci.RicciError)


def test_new_error_types_subclass_the_builtin_ones():
    assert issubclass(ricci.ArgumentError, ValueError) and issubclass(ricci.ArgumentError, ricci.RicciError)
    assert issubclass(ricci.DtypeError, TypeError) and issubclass(ricci.DtypeError, ricci.RicciError)
    assert issubclass(ricci.SingularMatrixError, np.linalg.LinAlgError)
    assert issubclass(ricci.SingularMatrixError, ricci.RicciError)


# ---------------------------------------------------------------------------
# axes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [7, 2, -3, (0, 7), (1, -5)])
def test_sum_with_out_of_range_axis_raises(axis):
    x = T((2, 3))
    err = raises_ricci(ricci.RicciError, ricci.sum, x, axis=axis)
    assert isinstance(err, ricci.ShapeError) or isinstance(err, ricci.ArgumentError)
    assert "axis" in str(err) and "(2, 3)" in str(err)
    with pytest.raises(ricci.RicciError):
        x.sum(axis=axis)


@pytest.mark.parametrize("axis", [1.5, "0", True])
def test_sum_with_non_integer_axis_raises(axis):
    x = T((2, 3))
    raises_ricci(ricci.RicciError, ricci.sum, x, axis=axis)


def test_sum_with_valid_axes_still_works():
    x = T((2, 3))
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ricci.sum(x, axis=-1).evaluate({x.name: v}), v.sum(axis=-1))
    np.testing.assert_allclose(ricci.sum(x, axis=(0, 1)).evaluate({x.name: v}), v.sum())
    np.testing.assert_allclose(ricci.sum(x, axis=np.int64(0)).evaluate({x.name: v}), v.sum(axis=0))


@pytest.mark.parametrize("fn", ["softmax", "logsumexp", "log_softmax"])
@pytest.mark.parametrize("axis", [2, -3, 1.5])
def test_nn_functions_with_bad_axis_raise(fn, axis):
    x = T((2, 3))
    raises_ricci(ricci.RicciError, getattr(ricci, fn), x, axis=axis)


# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2.5,), (-1,), (True,), (3, False), (2, "3"), (2, None), (np.float64(2.0),)],
                         ids=["float", "negative", "bool", "bool2", "str", "none", "npfloat"])
def test_tensor_with_bad_shape_raises_shape_error(shape):
    err = raises_ricci(ricci.ShapeError, ricci.Tensor, fresh_name("bad"), shape)
    assert "shape" in str(err)


def test_tensor_shape_accepts_numpy_integers_and_zero():
    t = ricci.Tensor(fresh_name("ok"), (np.int64(3), 0, np.int32(2)))
    assert t.shape == (3, 0, 2) and all(type(d) is int for d in t.shape)


def test_tensor_shape_not_a_sequence_raises():
    raises_ricci(ricci.ShapeError, ricci.Tensor, fresh_name("bad"), 3.5)


# ---------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------
def _expr():
    A, B = T((3, 4)), T((4, 5))
    y = ricci.einsum("ij,jk->ik", A, B)
    return y, {A.name: np.ones((3, 4)), B.name: np.ones((4, 5))}


@pytest.mark.parametrize("where", ["evaluate", "Expr.evaluate", "cost", "Expr.cost", "compile", "call"])
@pytest.mark.parametrize("optimize", ["nope", 42, ""])
def test_unknown_optimizer_raises_argument_error(where, optimize):
    y, inputs = _expr()
    call = {
        "evaluate": lambda: ricci.evaluate(y, inputs, optimize=optimize),
        "Expr.evaluate": lambda: y.evaluate(inputs, optimize=optimize),
        "cost": lambda: ricci.cost(y, inputs, optimize=optimize),
        "Expr.cost": lambda: y.cost(inputs, optimize=optimize),
        "compile": lambda: ricci.compile(y, optimize=optimize)(inputs),
        "call": lambda: ricci.evaluate([y, y], inputs, optimize=optimize),
    }[where]
    err = raises_ricci(ricci.ArgumentError, call)
    msg = str(err)
    if isinstance(optimize, str) and optimize:
        assert repr(optimize) in msg or optimize in msg, msg
    else:  # the value or its type is named
        assert repr(optimize) in msg or type(optimize).__name__ in msg, msg
    assert "optimize" in msg


@pytest.mark.parametrize("optimize", ["auto", "greedy", "optimal", "dp"])
def test_known_optimizers_work(optimize):
    y, inputs = _expr()
    np.testing.assert_allclose(ricci.evaluate(y, inputs, optimize=optimize), np.full((3, 5), 4.0))


# ---------------------------------------------------------------------------
# memory budgets
# ---------------------------------------------------------------------------
BAD_BUDGETS = [0, -5, 1.5, "big", None.__class__, [1]]
BAD_IDS = ["zero", "negative", "float", "str", "type", "list"]


@pytest.mark.parametrize("budget", BAD_BUDGETS, ids=BAD_IDS)
def test_bad_memory_budget_in_evaluate_raises_argument_error(budget):
    y, inputs = _expr()
    err = raises_ricci(ricci.ArgumentError, ricci.evaluate, y, inputs, memory_budget=budget)
    assert "budget" in str(err)
    raises_ricci(ricci.ArgumentError, y.evaluate, inputs, memory_budget=budget)


@pytest.mark.parametrize("budget", BAD_BUDGETS + [None], ids=BAD_IDS + ["none"])
def test_bad_set_memory_budget_raises_argument_error_and_keeps_the_budget(budget, restore_memory_budget):
    before = ricci.get_memory_budget()
    err = raises_ricci(ricci.ArgumentError, ricci.set_memory_budget, budget)
    assert "budget" in str(err)
    assert ricci.get_memory_budget() == before


def test_good_memory_budgets_are_accepted(restore_memory_budget):
    y, inputs = _expr()
    ricci.evaluate(y, inputs, memory_budget=2**20)
    ricci.evaluate(y, inputs, memory_budget=np.int64(2**20))
    old = ricci.set_memory_budget(2**40)
    assert ricci.get_memory_budget() == 2**40 and isinstance(old, int)


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def test_ragged_list_input_raises_input_error():
    x = T((2, 2))
    err = raises_ricci((ricci.InputError, ricci.OperandTypeError), ricci.evaluate, ricci.sum(x), {x.name: [[1.0, 2.0], [3.0]]})
    assert x.name in str(err)


def test_ragged_list_constant_raises_ricci_error():
    x = T((2,))
    raises_ricci((ricci.InputError, ricci.OperandTypeError, ricci.ShapeError),
                 ricci.einsum, "i,ij->j", x, [[1.0, 2.0], [3.0]])


def test_nested_list_inputs_that_are_not_ragged_work():
    x = T((2, 2))
    np.testing.assert_allclose(ricci.evaluate(ricci.sum(x), {x.name: [[1.0, 2.0], [3.0, 4.0]]}), 10.0)


def test_non_numeric_input_raises_input_error():
    x = T((2,))
    raises_ricci(ricci.InputError, ricci.evaluate, ricci.sum(x), {x.name: np.array(["a", "b"])})
    raises_ricci((ricci.InputError, ricci.OperandTypeError), ricci.evaluate, ricci.sum(x), {x.name: object()})


# ---------------------------------------------------------------------------
# singular matrices
# ---------------------------------------------------------------------------
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def _singular_case(kind):
    X = T((2, 2), "Sing")
    b = T((2,), "rhs")
    expr = {
        "inv": lambda: ricci.inv(X),
        "inv_in_einsum": lambda: ricci.einsum("ij,j->i", ricci.inv(X), b),
        "solve": lambda: ricci.solve(X, b),
        "det_grad": lambda: ricci.grad(ricci.det(X), X),
        "logdet_grad": lambda: ricci.grad(ricci.logdet(X), X),
        "solve_grad": lambda: ricci.grad(ricci.einsum("i->", ricci.solve(X, b)), b),
    }[kind]()
    return X, expr, {X.name: SINGULAR, b.name: np.ones(2)}


@pytest.mark.parametrize("kind", ["inv", "inv_in_einsum", "solve", "det_grad", "logdet_grad", "solve_grad"])
def test_singular_matrix_raises_singular_matrix_error_naming_the_operand(kind):
    X, expr, inputs = _singular_case(kind)
    with pytest.raises(ricci.SingularMatrixError) as info:
        ricci.evaluate(expr, inputs)
    assert isinstance(info.value, np.linalg.LinAlgError) and isinstance(info.value, ricci.RicciError)
    assert X.name in str(info.value), str(info.value)
    assert "singular" in str(info.value).lower()


def test_det_of_singular_matrix_is_zero_not_an_error():
    X = T((2, 2))
    np.testing.assert_allclose(ricci.det(X).evaluate({X.name: SINGULAR}), 0.0, atol=1e-12)


# ---------------------------------------------------------------------------
# no aliasing between results, or with inputs / constants
# ---------------------------------------------------------------------------
def _no_sharing(arrays, others=()):
    arrays = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert a is not b, "the same array object was returned twice"
            assert not np.shares_memory(a, b), "two results share memory"
        for o in others:
            assert not np.shares_memory(a, o), "a result shares memory with an input or a constant"


def test_evaluate_same_gradient_twice_gives_distinct_arrays():
    W = T((2, 2))
    g = ricci.grad(ricci.einsum("ij,ij->", W, W), W)
    w = np.eye(2)
    r = ricci.evaluate([g, g], {W.name: w})
    _no_sharing(r, [w])
    r[0][0, 0] = 99.0
    np.testing.assert_allclose(r[1], 2 * w)


def test_evaluate_a_tensor_twice_gives_copies_of_the_input():
    x = T((3,))
    v = np.arange(3.0)
    r = ricci.evaluate([x, x], {x.name: v})
    _no_sharing(r, [v])
    single = ricci.evaluate(x, {x.name: v})
    _no_sharing([single], [v])
    single[0] = -1.0
    assert v[0] == 0.0


def test_evaluate_a_constant_twice_gives_copies():
    c = ricci.Constant(np.array([1.0, 2.0, 3.0]))
    r = ricci.evaluate([c, c], {})
    _no_sharing(r, [c.value])
    r[0][0] = 42.0
    np.testing.assert_allclose(ricci.evaluate(c, {}), [1.0, 2.0, 3.0])
    assert all(np.asarray(a).flags.writeable for a in r)


def test_evaluate_a_transposed_input_and_itself_do_not_alias():
    X = T((2, 3))
    v = np.arange(6.0).reshape(2, 3)
    r = ricci.evaluate([X, X.T, ricci.einsum("ij->ji", X)], {X.name: v})
    _no_sharing(r, [v])
    np.testing.assert_array_equal(r[1], v.T)


def test_evaluate_float32_input_of_float32_expression_is_a_copy():
    x = T((3,))
    v = np.arange(3.0, dtype=np.float32)
    r = ricci.evaluate([x, 1 * x], {x.name: v})
    _no_sharing(r, [v])


def test_compiled_function_results_do_not_alias():
    x = T((3,))
    g = ricci.grad(ricci.einsum("i,i->", x, x), x)
    f = ricci.compile([g, g, x])
    v = np.arange(3.0)
    r = f({x.name: v})
    _no_sharing(r, [v])
    r2 = f({x.name: v})
    _no_sharing(list(r) + list(r2), [v])
