"""Indexing and shaping the numpy way (issue 9, item 4): ``x[key]``, ``reshape``,
``concatenate``, ``stack``.

Values are compared with numpy on the same arrays over a corpus of keys; derivatives
(grad, vjp, jvp, jacobian, hvp, hessian) with central finite differences in float64; bad
inputs with the ricci error types; and at scale, the vjp of a gather stays a scatter.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ricci
from conftest import METHODS, assert_close, check_derivative, fd_grad, fd_jvp, fresh_name, rand
from ricci.expr import Apply, Contract, topological_order


def T(shape):
    return ricci.Tensor(fresh_name("idx"), shape)


def dot(y, w):
    """``sum(y * w)`` for a constant ``w`` of y's shape (any rank)."""
    labels = tuple(range(y.ndim))
    return ricci.expr.contract((), [(y, labels), (np.asarray(w), labels)])


SHAPE = (4, 5, 3)
KEYS = [
    0, -1, 3, (1, 2), (-4, -5, -3), (0, 0, 0),
    slice(None), slice(1, 3), slice(None, None, -1), slice(3, 0, -2), slice(None, None, 2), slice(-2, None),
    slice(10, 20), slice(2, 2), slice(-100, 100, 3), slice(None, None, -3),
    (slice(None), 1), (slice(None), slice(None, None, -1), 2), (Ellipsis, 1), (1, Ellipsis), (0, Ellipsis, 2),
    (Ellipsis,), (), None, (None, 1), (slice(None), None, 1, None), (None, Ellipsis, None), (1, None, Ellipsis, None),
    [0, 0, 3], [-1, 1], np.array([[0, 1], [2, 3]]), ([0, 2], [1, 4]), ([0, 2], slice(None), [1, 0]),
    (slice(None), [0, 4, 4]), (slice(1, None), [[0], [4]], [1, 2]), (Ellipsis, [2, 0]), (0, [1, 2]),
    (slice(None), 0, [1, 2]), ([1], None, [2]), ([3], Ellipsis, [0]), ([[1, 2]], [[0], [3]]),
    (slice(None, None, -1), [0, 2], None), (np.array(2), slice(None)), (np.int64(1), [0]), ([],),
    (np.array([], dtype=int), 1), ([0, 1], [1, 2], [2, 0]), (None, [1, 0], 2), ([[0, 1]], slice(None), 2),
    (slice(None), slice(None), [2, 0, 1, 1]), (np.uint8(3),),
]


def key_id(key):
    return repr(key).replace(" ", "")[:40]


@pytest.mark.parametrize("key", KEYS, ids=[key_id(k) for k in KEYS])
def test_getitem_matches_numpy(key, rng):
    a = rand(SHAPE, rng)
    x = T(SHAPE)
    y = x[key]
    expected = a[key]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y(**{x.name: a}), expected)


@pytest.mark.parametrize("key", KEYS, ids=[key_id(k) for k in KEYS])
def test_getitem_gradient_matches_finite_differences(key, rng):
    a, x = rand(SHAPE, rng), T(SHAPE)
    w = rand(a[key].shape, rng)
    L = dot(ricci.tanh(x[key]), w)
    g = ricci.grad(L, x)(**{x.name: a})
    assert_close(g, fd_grad(lambda d: np.sum(np.tanh(d[x.name][key]) * w), {x.name: a}, x.name))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key", [(slice(1, None), slice(None, None, -2)), (None, 2), [2, 2, 0],
                                 ([0, 3], slice(None), [2, 2]), (Ellipsis, [[1], [0]])], ids=key_id)
def test_getitem_derivative_methods(method, key, rng):
    a, x = rand(SHAPE, rng), T(SHAPE)
    check_derivative(method, ricci.sin(x[key]) * 2.0, lambda d: np.sin(d[x.name][key]) * 2.0,
                     {x.name: a}, x, x.name, rng)


def _hvp_check(L, ref, x, a, rng):
    v = rand(a.shape, rng)
    got = ricci.hvp(L, x, v)(**{x.name: a})
    expected = fd_jvp(lambda d: fd_grad(ref, d, x.name, eps=1e-5), {x.name: a}, x.name, v, eps=1e-4)
    assert_close(got, expected, rtol=1e-4, atol=1e-5)
    H = ricci.hessian(L, x)(**{x.name: a})
    assert_close(np.tensordot(H, v, axes=v.ndim), expected, rtol=1e-4, atol=1e-5)


SECOND_ORDER = [
    ("slice", lambda x: x[1:, ::-2], lambda a: a[1:, ::-2]),
    ("int-new", lambda x: x[None, 2, ..., 1], lambda a: a[None, 2, ..., 1]),
    ("gather-dup", lambda x: x[[0, 0, 3]], lambda a: a[[0, 0, 3]]),
    ("gather-2d", lambda x: x[:, [[1], [4]], [0, 2]], lambda a: a[:, [[1], [4]], [0, 2]]),
    ("reshape", lambda x: ricci.reshape(x, (6, 10)), lambda a: a.reshape(6, 10)),
    ("reshape-F", lambda x: ricci.reshape(x, (3, -1), order="F"), lambda a: a.reshape(3, -1, order="F")),
    ("concat", lambda x: ricci.concatenate([x, x[:, :2] * 2.0], axis=1),
     lambda a: np.concatenate([a, a[:, :2] * 2.0], axis=1)),
    ("stack", lambda x: ricci.stack([x[0], x[3]], axis=-1), lambda a: np.stack([a[0], a[3]], axis=-1)),
]


@pytest.mark.parametrize("name,f,ref", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_hvp_and_hessian_through_every_op(name, f, ref, rng):
    a, x = rand(SHAPE, rng), T(SHAPE)
    w = rand(ref(a).shape, rng)
    L = dot(ricci.sin(f(x)) * f(x), w)  # not quadratic: the Hessian depends on x
    _hvp_check(L, lambda d: np.sum(np.sin(ref(d[x.name])) * ref(d[x.name]) * w), x, a, rng)


@given(st.data())
def test_random_basic_and_advanced_keys_match_numpy(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 1.5 - 3
    items = []
    for n in shape:  # one item per axis, then a run of them replaced by ``...`` and Nones put in
        kind = data.draw(st.sampled_from(["int", "slice", "array"]))
        if kind == "int":
            items.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(slice(data.draw(st.none() | st.integers(-5, 5)), data.draw(st.none() | st.integers(-5, 5)),
                               data.draw(st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3]))))
        else:
            items.append(np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))))
    cut = sorted(data.draw(st.lists(st.integers(0, len(items)), min_size=2, max_size=2)))
    if data.draw(st.booleans()):
        items[cut[0]:cut[1]] = [Ellipsis]
    else:
        del items[cut[1]:]  # missing trailing indices are full slices
    for _ in range(data.draw(st.integers(0, 2))):
        items.insert(data.draw(st.integers(0, len(items))), None)
    key = tuple(items)
    x = T(shape)
    try:
        expected = a[key]
    except IndexError:  # arrays that do not broadcast: numpy's error, as a ricci error
        with pytest.raises(ricci.IndexingError, match="could not be broadcast"):
            x[key]
        return
    y = x[key]
    np.testing.assert_array_equal(y(**{x.name: a}), expected)
    assert y.shape == a[key].shape
    np.testing.assert_array_equal(y(**{x.name: a}), a[key])
    if y.ndim:
        w = np.arange(np.prod(y.shape), dtype=np.float64).reshape(y.shape) + 1
        g = ricci.grad(dot(y, w), x)(**{x.name: a})
        expected = np.zeros(shape)
        np.add.at(expected, key, w)  # the adjoint of a[key], with numpy's own indexing
        np.testing.assert_allclose(g, expected)


def test_list_of_an_expression_iterates_axis_0():
    x, a = T((3, 2)), np.arange(6.0).reshape(3, 2)
    rows = list(x)  # the sequence protocol: x[0], x[1], ... until IndexError
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    for r, row in zip(rows, a):
        np.testing.assert_array_equal(r(**{x.name: a}), row)
    assert [r.shape for r in ricci.indexing.iterate(x)] == [(2,)] * 3
    assert ricci.indexing.length(x) == 3
    with pytest.raises(TypeError, match="0-d"):
        ricci.indexing.length(T(()))


def test_structural_nodes_where_free():
    x = T((4, 1, 3))
    assert x[:] is x and x[...] is x and x[:, 0] is ricci.squeeze(x, 1)
    assert x[None].shape == (1, 4, 1, 3) and isinstance(x[None], Contract)
    assert x[::1, :, -100:100] is x
    assert not any(isinstance(n, Apply) for n in topological_order([x[:, 0, None]]))
    assert isinstance(ricci.reshape(x, (4, 3, 1)), Contract)  # only size-1 axes move
    assert ricci.reshape(x, (4, 1, 3)) is x
    y = x[1:][::2]
    assert y.children[0] is x and y.primitive.name == "slice"  # a slice of a slice is one slice
    r = ricci.reshape(ricci.reshape(x, (12,)), (2, 6))
    assert r.children[0] is x  # a reshape of a reshape is one


def test_constant_operands_fold_as_numpy():
    c = ricci.Constant(np.arange(12).reshape(3, 4))
    assert isinstance(c[1:, [0, 2]], ricci.Constant)
    np.testing.assert_array_equal(c[1:, [0, 2]].value, np.arange(12).reshape(3, 4)[1:, [0, 2]])
    assert c[1:, [0, 2]].value.dtype == np.arange(12).dtype
    np.testing.assert_array_equal(ricci.reshape(c, (4, 3)).value, np.arange(12).reshape(4, 3))


def test_float32_stays_float32(rng):
    x = T((4, 3))
    a = rand((4, 3), rng, dtype=np.float32)
    for y in (x[1:], x[[0, 2]], ricci.reshape(x, -1), ricci.concatenate([x, x]), ricci.stack([x, x])):
        assert y(**{x.name: a}).dtype == np.float32


def test_the_program_does_not_write_into_the_input(rng):
    x, a = T((4, 3)), rand((4, 3), rng)
    before = a.copy()
    for y in (2 * x[1:] + 1, 3 * ricci.reshape(x, 12) - 1):
        y(**{x.name: a})
    np.testing.assert_array_equal(a, before)


# -- reshape, concatenate, stack against numpy ---------------------------------------------
RESHAPES = [(-1,), (12,), (3, 4), (2, -1, 3), (1, 12, 1), (6, 2), (4, 3, 1), (2, 2, 3)]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", RESHAPES, ids=str)
def test_reshape_matches_numpy(shape, order, rng):
    a, x = rand((3, 4), rng), T((3, 4))
    y = ricci.reshape(x, shape, order=order)
    np.testing.assert_array_equal(y(**{x.name: a}), np.reshape(a, shape, order=order))
    np.testing.assert_array_equal(x.reshape(*shape, order=order)(**{x.name: a}), a.reshape(*shape, order=order))
    check_derivative("vjp", y, lambda d: np.reshape(d[x.name], shape, order=order), {x.name: a}, x, x.name, rng)


def test_reshape_of_size_zero_and_scalars():
    x = T((0, 3))
    assert ricci.reshape(x, (-1, 3)).shape == (0, 3)
    s = T(())
    assert ricci.reshape(s, (1, 1)).shape == (1, 1) and ricci.reshape(T((1,)), ()).shape == ()


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concatenate_matches_numpy(axis, rng):
    shapes = [(2, 3), (2, 3), (2, 3)] if axis is None else [(2, 3), (2, 3)]
    arrays = [rand(s, rng) for s in shapes]
    if axis == 0:
        arrays[1] = rand((4, 3), rng)
    if axis in (1, -1):
        arrays[1] = rand((2, 1), rng)
    xs = [T(a.shape) for a in arrays]
    inputs = {t.name: a for t, a in zip(xs, arrays)}
    y = ricci.concatenate(xs + [np.ones_like(arrays[0])], axis=axis)
    ref = np.concatenate(arrays + [np.ones_like(arrays[0])], axis=axis)
    np.testing.assert_array_equal(y(inputs), ref)
    for t in xs:
        for method in METHODS:
            check_derivative(method, ricci.tanh(y), lambda d: np.tanh(np.concatenate(
                [d[s.name] for s in xs] + [np.ones_like(arrays[0])], axis=axis)), inputs, t, t.name, rng)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack_matches_numpy(axis, rng):
    arrays = [rand((2, 3), rng) for _ in range(3)]
    xs = [T((2, 3)) for _ in arrays]
    inputs = {t.name: a for t, a in zip(xs, arrays)}
    y = ricci.stack(xs, axis=axis)
    np.testing.assert_array_equal(y(inputs), np.stack(arrays, axis=axis))
    for method in METHODS:
        check_derivative(method, y ** 2, lambda d: np.stack([d[t.name] for t in xs], axis=axis) ** 2,
                         inputs, xs[1], xs[1].name, rng)


def test_concatenate_of_one_expression_and_an_expression_of_rows(rng):
    x, a = T((3, 2)), rand((3, 2), rng)
    assert ricci.concatenate([x]) is x
    np.testing.assert_array_equal(ricci.concatenate(x)(**{x.name: a}), np.concatenate(a))
    np.testing.assert_array_equal(ricci.stack(x, axis=1)(**{x.name: a}), np.stack(a, axis=1))


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key,match", [
    (4, "index 4 is out of bounds for axis 0 with size 4"),
    (-5, "index -5 is out of bounds for axis 0 with size 4"),
    ((0, 5), "index 5 is out of bounds for axis 1 with size 5"),
    ((slice(None), [0, 9]), "index 9 is out of bounds for axis 1 with size 5"),
    ([[-5]], "index -5 is out of bounds"),
    ((0, 0, 0, 0), "too many indices .* 3-dimensional, but 4 were indexed"),
    ((Ellipsis, Ellipsis), "single ellipsis"),
    (([0, 1], [0, 1, 2]), r"could not be broadcast together with shapes \(2,\) \(3,\)"),
    (1.5, "only integers, slices"),
    ("a", "only integers, slices"),
    (np.array([1.0]), "must be of integer type"),
    (True, "boolean index .* ricci.where"),
    (np.ones(4, dtype=bool), "boolean index .* ricci.where"),
    ([[0, 1], [2]], "not a rectangular integer array"),
])
def test_bad_indices_raise_index_errors(key, match):
    x = T(SHAPE)
    with pytest.raises(ricci.IndexingError, match=match) as info:
        x[key]
    assert isinstance(info.value, IndexError) and isinstance(info.value, ricci.RicciError)


def test_bad_slices_and_expression_indices():
    x = T(SHAPE)
    with pytest.raises(ricci.ArgumentError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(ricci.ArgumentError, match="slice indices must be integers or None"):
        x[1.5:]
    with pytest.raises(ricci.OperandTypeError, match="ricci expression"):
        x[T((2,))]
    with pytest.raises(ricci.OperandTypeError, match="indexed operand"):
        ricci.indexing.getitem("text", 0)
    with pytest.raises(ricci.IndexingError):
        T(())[0]


@pytest.mark.parametrize("shape,match", [
    ((5,), r"shape \(3, 4\) \(size 12\) into shape \(5,\)"),
    ((-1, -1), "only specify one unknown dimension"),
    ((5, -1), r"shape \(3, 4\) \(size 12\) into shape \(5, -1\)"),
    ((0, -1), "into shape"),
])
def test_bad_reshapes_name_both_shapes(shape, match):
    with pytest.raises(ricci.ShapeError, match=match):
        ricci.reshape(T((3, 4)), shape)


def test_bad_reshape_arguments():
    x = T((3, 4))
    with pytest.raises(ricci.ArgumentError, match="must be integers"):
        ricci.reshape(x, (2.0, 6))
    with pytest.raises(ricci.ArgumentError, match="order must be 'C' or 'F'"):
        ricci.reshape(x, 12, order="A")
    with pytest.raises(ricci.OperandTypeError, match="argument of reshape"):
        ricci.reshape("x", 12)


def test_bad_concatenations_name_the_operand():
    a, b = T((2, 3)), T((2, 4))
    with pytest.raises(ricci.ShapeError, match="along dimension 1, the array at index 0 has size 3 and the array at index 1 has size 4"):
        ricci.concatenate([a, b])
    with pytest.raises(ricci.ShapeError, match="array at index 2 has 1 dimension"):
        ricci.concatenate([a, a, T((2,))])
    with pytest.raises(ricci.ShapeError, match=r"zero-dimensional .*\(operand 1"):
        ricci.concatenate([T((1,)), T(())])
    with pytest.raises(ricci.ArgumentError, match="need at least one array"):
        ricci.concatenate([])
    with pytest.raises(ricci.OperandTypeError, match="operand 1 of concatenate"):
        ricci.concatenate([a, "b"])
    with pytest.raises(ricci.ShapeError, match="axis 2 is out of range"):
        ricci.concatenate([a, a], axis=2)
    with pytest.raises(ricci.ShapeError, match=r"operand 0 has shape \(2, 3\) and operand 1 has shape \(2, 4\)"):
        ricci.stack([a, b])
    with pytest.raises(ricci.ArgumentError, match="need at least one array to stack"):
        ricci.stack([])
    with pytest.raises(ricci.ShapeError, match="out of range"):
        ricci.stack([a, a], axis=3)


# -- scale: the vjp of a gather is a scatter, never a one-hot matrix ------------------------
def test_gather_of_many_indices_stays_a_scatter(rng):
    table, idx = T((1000, 64)), rng.integers(0, 1000, size=10_000)
    w = rand((10_000, 64), rng)
    L = ricci.einsum("ij,ij->", ricci.tanh(table[idx]), w)
    g = ricci.grad(L, table)
    names = {n.primitive.name for n in topological_order([g]) if isinstance(n, Apply)}
    assert "scatter_add" in names
    largest = ricci.cost(g, {table.name: (1000, 64)}).largest_intermediate
    assert largest <= 10_000 * 64  # the data, not 10000 x 1000 one-hots
    a = rand((1000, 64), rng)
    expected = np.zeros((1000, 64))
    np.add.at(expected, idx, (1 - np.tanh(a[idx]) ** 2) * w)
    assert_close(g(**{table.name: a}), expected)
    v = rand((1000, 64), rng)
    hv = ricci.hvp(L, table, v)
    assert ricci.cost(hv, {table.name: (1000, 64)}).largest_intermediate <= 10_000 * 64
    expected_hv = np.zeros((1000, 64))
    t = np.tanh(a[idx])
    np.add.at(expected_hv, idx, -2 * t * (1 - t ** 2) * v[idx] * w)
    assert_close(hv(**{table.name: a}), expected_hv)


def test_large_slices_and_reshapes_stay_linear(rng):
    x = T((2000, 300))
    L = ricci.einsum("ij,ij->", ricci.reshape(x[::2, 1:], (299, -1)), np.ones((299, 1000)))
    g = ricci.grad(L, x)
    assert ricci.cost(g, {x.name: (2000, 300)}).largest_intermediate <= 2000 * 300
    got = g(**{x.name: np.zeros((2000, 300))})
    expected = np.zeros((2000, 300))
    expected[::2, 1:] = 1
    np.testing.assert_array_equal(got, expected)


def test_named_dimensions_are_taken_whole(rng):
    X, V = ricci.Tensor(fresh_name("Xs"), ("batch", 3)), ricci.Tensor(fresh_name("Vs"), ("batch", 3))
    a, v = rand((2, 3), rng), rand((2, 3), rng)
    y = X[None, :, ::-2]
    assert y.shape == (1, "batch", 2)
    np.testing.assert_array_equal(y(**{X.name: a}), a[None, :, ::-2])
    L = ricci.sum(ricci.sin(ricci.concatenate([X[:, [0, 0]], X], axis=1)))
    ref = lambda d: np.sum(np.sin(np.concatenate([d[X.name][:, [0, 0]], d[X.name]], axis=1)))  # noqa: E731
    assert_close(ricci.grad(L, X)(**{X.name: a}), fd_grad(ref, {X.name: a}, X.name))
    expected = fd_jvp(lambda d: fd_grad(ref, d, X.name, eps=1e-5), {X.name: a}, X.name, v, eps=1e-4)
    assert_close(ricci.hvp(L, X, V)(**{X.name: a, V.name: v}), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ricci.ShapeError, match="named dimension 'batch'"):
        X[0]
    with pytest.raises(ricci.ShapeError, match="named dimension"):
        ricci.concatenate([X, X])
