"""ricci.einsum against numpy.einsum: broadcasting, the interleaved form, whitespace, rejects.

Every accepted case is compared with ``numpy.einsum`` (default, unoptimised
path) on random inputs: value, shape and dtype. A subset is also differentiated
with respect to each operand and checked against central finite differences of
``numpy.einsum`` itself. Every rejected case is checked to be rejected by numpy
too, and by ricci with a :class:`ricci.RicciError`.
"""
import itertools
import zlib

import numpy as np
import pytest

import ricci

E = Ellipsis
_names = itertools.count()


def _rng(key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _arrays(shapes, key, dtype=np.float64):
    rng = _rng(key)
    out = []
    for s in shapes:
        if np.issubdtype(dtype, np.integer):
            out.append(rng.integers(-3, 4, size=s).astype(dtype))
        else:
            out.append(rng.uniform(-1.0, 1.0, size=s).astype(dtype))
    return out


def _tensors(shapes):
    ts = [ricci.Tensor(f"P{next(_names)}", tuple(s)) for s in shapes]
    return ts, [t.name for t in ts]


def _check_against_numpy(args_for, shapes, key, dtype=np.float64, as_constants=False):
    """``args_for(ops)`` builds the einsum arguments around the operands ``ops``."""
    arrays = _arrays(shapes, key, dtype)
    expected = np.einsum(*args_for(arrays))
    if as_constants:
        got = ricci.einsum(*args_for(arrays)).evaluate({})
    else:
        ts, names = _tensors(shapes)
        expr = ricci.einsum(*args_for(ts))
        assert expr.shape == np.shape(expected)
        got = expr.evaluate(dict(zip(names, arrays)))
    got = np.asarray(got)
    assert got.shape == np.shape(expected)
    assert got.dtype == np.asarray(expected).dtype, (got.dtype, np.asarray(expected).dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _check_gradients(args_for, shapes, key, eps=1e-6):
    """d/dX_k of sum(einsum(...) * R), for every operand k, against central differences."""
    arrays = _arrays(shapes, key)
    out = np.einsum(*args_for(arrays))
    R = _rng(("R", key)).uniform(-1.0, 1.0, size=np.shape(out))
    ts, names = _tensors(shapes)
    expr = ricci.einsum(*args_for(ts))
    loss = ricci.sum(expr * R) if np.ndim(out) else expr * float(R)
    inputs = dict(zip(names, arrays))
    for k, (t, x) in enumerate(zip(ts, arrays)):
        got = np.asarray(ricci.grad(loss, t).evaluate(inputs))
        assert got.shape == x.shape
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            fd[idx] = (np.sum(np.einsum(*args_for(plus)) * R) - np.sum(np.einsum(*args_for(minus)) * R)) / (2 * eps)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8, err_msg=f"gradient w.r.t. operand {k}")


def _string(subscripts):
    return lambda ops: (subscripts, *ops)


# ---------------------------------------------------------------------------
# accepted string cases: (subscripts, operand shapes)
# ---------------------------------------------------------------------------
BROADCAST = [
    ("ij,ij->j", [(10, 2), (1, 2)]),
    ("ij,ij->ij", [(1, 3), (4, 1)]),
    ("ij,ij->i", [(4, 3), (4, 1)]),
    ("ij,ij->", [(1, 3), (4, 3)]),
    ("ij,ij", [(1, 1), (4, 3)]),
    ("i,i->i", [(1,), (5,)]),
    ("i,i->i", [(1,), (1,)]),
    ("i,i", [(1,), (4,)]),
    ("i,i,i->i", [(3,), (1,), (3,)]),
    ("i,i,i->", [(1,), (1,), (3,)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("ij,jk->ik", [(2, 3), (1, 4)]),
    ("ij,jk", [(2, 1), (1, 4)]),
    ("ij,jk,kl->il", [(2, 1), (3, 1), (4, 5)]),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 5)]),
    ("bij,bjk->bik", [(4, 2, 3), (1, 3, 5)]),
    ("bij,bjk->ik", [(1, 2, 3), (4, 3, 5)]),
    ("ab,ab->b", [(1, 1), (1, 3)]),
    ("i,j->ij", [(1,), (3,)]),
    ("ij,i->ij", [(3, 4), (1,)]),
    ("ij,j->i", [(3, 4), (1,)]),
    ("i,i->", [(0,), (1,)]),
    ("ij,ij->j", [(0, 2), (1, 2)]),
]
ELLIPSIS_BROADCAST = [
    ("...i,...i->...", [(3, 1, 4), (5, 4)]),
    ("...i,...i", [(3, 1, 4), (5, 4)]),
    ("...i,...i->...i", [(2, 1, 4), (3, 1)]),
    ("...ij,...j", [(3, 1, 4, 2), (5, 2)]),
    ("...ij,...j->...i", [(2, 4, 3), (5, 1, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(1, 3, 4), (2, 4, 2)]),
    ("...,...", [(2,), (1,)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    ("...,...", [(), (2, 3)]),
    ("i...,i...->i...", [(3, 1), (3,)]),
    ("ij...,jk...->ik...", [(2, 3, 1), (3, 4, 5)]),
    ("ij...,jk...->...ik", [(2, 3, 4, 1), (3, 4, 5)]),
    ("a...b,b...->a...", [(2, 1, 3, 4), (4, 5, 1)]),
    ("...,i->...i", [(2, 1), (3,)]),
    ("...i,i->...", [(2, 1, 3), (3,)]),
    ("...i,...->...i", [(2, 3), (4, 1, 1)]),
    ("...i->...", [(1, 2, 3)]),
    ("...,...,...->...", [(2, 1, 1), (1, 3, 1), (4,)]),
]
TRACE_BROADCAST = [
    ("ii,i->i", [(3, 3), (1,)]),
    ("ii,i->i", [(1, 1), (3,)]),
    ("ii,i", [(1, 1), (3,)]),
    ("ii->i", [(1, 1)]),
    ("ii", [(1, 1)]),
    ("iij,j->ij", [(1, 1, 3), (1,)]),
    ("ij,ji->i", [(1, 3), (3, 3)]),
    ("ij,ji->", [(1, 3), (3, 1)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("...ii,...i->...i", [(2, 1, 3, 3), (4, 3)]),
    ("...ii,...i->...", [(1, 1, 1), (2, 4)]),
    ("i...i->i...", [(3, 2, 3)]),
    ("i...i,...->...", [(1, 4, 1), (2, 1)]),
    ("iij,ijj->ij", [(1, 1, 3), (2, 3, 3)]),
]
IMPLICIT_BROADCAST = [
    ("ij,ij", [(1, 3), (4, 3)]),
    ("ba,ab", [(1, 3), (3, 4)]),
    ("Ij,jI", [(1, 3), (3, 4)]),
    ("...i,...i", [(1, 4), (3, 4)]),
    ("i...,i...", [(3, 1, 2), (3, 5, 1)]),
    ("...,...i", [(3, 1), (4, 2)]),
    ("...ij,...jk", [(2, 1, 3, 2), (1, 4, 2, 2)]),
    ("ji,j...", [(1, 3), (4, 2)]),
]
STRING_CASES = BROADCAST + ELLIPSIS_BROADCAST + TRACE_BROADCAST + IMPLICIT_BROADCAST


@pytest.mark.parametrize("subscripts,shapes", STRING_CASES, ids=[f"{s}|{sh}" for s, sh in STRING_CASES])
def test_string_form_matches_numpy(subscripts, shapes):
    _check_against_numpy(_string(subscripts), shapes, (subscripts, shapes))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128])
@pytest.mark.parametrize("subscripts,shapes", BROADCAST[:6] + ELLIPSIS_BROADCAST[:4] + TRACE_BROADCAST[:3])
def test_constant_operands_keep_numpy_dtype(subscripts, shapes, dtype):
    _check_against_numpy(_string(subscripts), shapes, (subscripts, shapes, dtype), dtype=dtype, as_constants=True)


GRADIENT_CASES = [
    ("ij,ij->j", [(4, 2), (1, 2)]),
    ("ij,ij->ij", [(1, 3), (4, 1)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("bij,bjk->bik", [(1, 2, 3), (2, 3, 2)]),
    ("i,i,i->", [(1,), (1,), (3,)]),
    ("...i,...i->...", [(3, 1, 4), (2, 4)]),
    ("...ij,...j", [(3, 1, 2, 2), (2, 2)]),
    ("...,...,...->...", [(2, 1, 1), (1, 3, 1), (2,)]),
    ("ii,i->i", [(1, 1), (3,)]),
    ("ii,i->i", [(3, 3), (1,)]),
    ("...ii,...i->...i", [(2, 1, 3, 3), (2, 3)]),
    ("ij,ij", [(1, 3), (2, 3)]),
    ("i...,i...", [(3, 1, 2), (3, 2, 1)]),
]


@pytest.mark.parametrize("subscripts,shapes", GRADIENT_CASES, ids=[f"{s}|{sh}" for s, sh in GRADIENT_CASES])
def test_broadcast_gradients_match_finite_differences(subscripts, shapes):
    _check_gradients(_string(subscripts), shapes, ("grad", subscripts, shapes))


def test_size1_broadcast_is_not_materialised():
    """The size-1 operand enters the network as is; no ones() factor appears in the forward node."""
    x, y = ricci.Tensor("bx", (10, 2)), ricci.Tensor("by", (1, 2))
    text = str(ricci.einsum("ij,ij->j", x, y))
    assert "ones" not in text and "bx" in text and "by" in text, text


# ---------------------------------------------------------------------------
# the interleaved (sublist) form
# ---------------------------------------------------------------------------
def _sublists(*pattern):
    """``pattern`` alternates None (an operand slot) and sublists: build the argument tuple."""
    def build(ops):
        ops, args = list(ops), []
        for item in pattern:
            args.append(ops.pop(0) if item is None else item)
        return tuple(args)
    return build


SUBLIST_CASES = [
    ("matmul", _sublists(None, [0, 1], None, [1, 2], [0, 2]), [(2, 3), (3, 4)]),
    ("matmul implicit", _sublists(None, [0, 1], None, [1, 2]), [(2, 3), (3, 4)]),
    ("transpose", _sublists(None, [1, 0]), [(2, 3)]),
    ("identity", _sublists(None, [0, 1]), [(2, 3)]),
    ("implicit order is numeric", _sublists(None, [30, 1]), [(2, 3)]),
    ("25 before 26", _sublists(None, [26, 25]), [(2, 3)]),
    ("top of range", _sublists(None, [51, 0], [0, 51]), [(2, 3)]),
    ("trace", _sublists(None, [0, 0]), [(3, 3)]),
    ("diagonal", _sublists(None, [0, 0], [0]), [(3, 3)]),
    ("sum all", _sublists(None, [0, 1], []), [(2, 3)]),
    ("tuple sublists", _sublists(None, (0, 1), None, (1, 2), (0, 2)), [(2, 3), (3, 4)]),
    ("range sublist", _sublists(None, range(2)), [(2, 3)]),
    ("array sublist", _sublists(None, np.array([1, 0])), [(2, 3)]),
    ("numpy ints", _sublists(None, [np.int64(0), np.int32(1)], [np.int8(1)]), [(2, 3)]),
    ("ellipsis", _sublists(None, [E, 1], [E]), [(2, 3)]),
    ("ellipsis moved", _sublists(None, [E, 1], [1, E]), [(2, 3)]),
    ("ellipsis implicit", _sublists(None, [E, 1]), [(4, 2, 3)]),
    ("ellipsis broadcast", _sublists(None, [E, 0], None, [E, 0], [E]), [(3, 1, 4), (5, 4)]),
    ("ellipsis, nothing covered", _sublists(None, [0, 1], [E]), [(2, 3)]),
    ("ellipsis, nothing covered, kept", _sublists(None, [0, 1], [E, 0]), [(2, 3)]),
    ("size-1 broadcast", _sublists(None, [0, 1], None, [0, 1], [1]), [(10, 2), (1, 2)]),
    ("batched matmul", _sublists(None, [E, 0, 1], None, [E, 1, 2], [E, 0, 2]), [(2, 1, 3, 4), (5, 4, 2)]),
    ("three operands", _sublists(None, [0, 1], None, [1, 2], None, [2, 3], [0, 3]), [(2, 3), (3, 4), (4, 2)]),
    ("hyperedge", _sublists(None, [0], None, [0], None, [0], [0]), [(3,), (1,), (3,)]),
    ("scalar operand", _sublists(None, [], None, [0], [0]), [(), (3,)]),
]


@pytest.mark.parametrize("build,shapes", [c[1:] for c in SUBLIST_CASES], ids=[c[0] for c in SUBLIST_CASES])
def test_sublist_form_matches_numpy(build, shapes):
    _check_against_numpy(build, shapes, ("sublist", shapes))


@pytest.mark.parametrize("build,shapes", [SUBLIST_CASES[0][1:], SUBLIST_CASES[17][1:], SUBLIST_CASES[20][1:]],
                         ids=["matmul", "ellipsis broadcast", "size-1 broadcast"])
def test_sublist_gradients_match_finite_differences(build, shapes):
    _check_gradients(build, shapes, ("sublist grad", shapes))


def test_sublist_form_equals_string_form():
    A, B = ricci.Tensor("SA", (2, 3)), ricci.Tensor("SB", (3, 4))
    assert ricci.einsum(A, [0, 1], B, [1, 2], [0, 2]) == ricci.einsum("ij,jk->ik", A, B)


def test_list_operand_in_sublist_form_is_an_array_as_in_numpy():
    # numpy reads einsum(A, [0, 1], [0, 2], [0]) as three operands' worth of pairs: [0, 2] is an array
    A = np.arange(6.0).reshape(2, 3)
    expected = np.einsum(A, [0, 1], [0, 2], [0])
    np.testing.assert_allclose(ricci.einsum(A, [0, 1], [0, 2], [0]).evaluate({}), expected)


SUBLIST_REJECTS = [
    ("two ellipses", (np.ones((2, 3)), [1, E, E]), ricci.SubscriptError),
    ("two ellipses in the output", (np.ones((2, 3)), [0, 1], [0, E, E]), ricci.SubscriptError),
    ("52 is out of range", (np.ones((2, 3)), [0, 52]), ricci.SubscriptError),
    ("negative", (np.ones((2, 3)), [0, -1]), ricci.SubscriptError),
    ("bool", (np.ones((2, 3)), [True, False]), TypeError),
    ("float", (np.ones((2, 3)), [0, 1.0]), TypeError),
    ("letters", (np.ones((2, 3)), ["i", "j"]), TypeError),
    ("a string sublist", (np.ones((2, 3)), "ij"), TypeError),
    ("nested", (np.ones((2, 3)), [0, [1]]), TypeError),
    ("None sublist", (np.ones((2, 3)), None), TypeError),
    ("int sublist", (np.ones((2, 3)), [0, 1], 7), TypeError),
    ("array as output sublist", (np.ones((2, 3)), [0, 1], np.ones((3, 4))), TypeError),
    ("repeated output", (np.ones((2, 3)), [0, 1], [0, 0]), ricci.SubscriptError),
    ("output not in inputs", (np.ones((2, 3)), [0, 1], [2]), ricci.SubscriptError),
    ("too few entries", (np.ones((2, 3)), [0]), ricci.SubscriptError),
    ("too many entries", (np.ones((2, 3)), [0, 1, 2]), ricci.SubscriptError),
    ("extra dims without ellipsis", (np.ones(3), []), ricci.SubscriptError),
    ("diagonal sizes differ", (np.ones((2, 3)), [0, 0]), ricci.ShapeError),
    ("sizes differ", (np.ones((2, 3)), [0, 1], np.ones((4, 2)), [1, 2]), ricci.ShapeError),
    ("list operand of the wrong size", (np.ones(3), [0], [0, 1], [0]), ricci.ShapeError),
    ("ellipsis dims left over", (np.ones((2, 3)), [E, 1], [1]), ricci.SubscriptError),
    ("one operand and nothing else", (np.ones((2, 3)),), ricci.OperandError),
]


@pytest.mark.parametrize("args,kind", [c[1:] for c in SUBLIST_REJECTS], ids=[c[0] for c in SUBLIST_REJECTS])
def test_sublist_rejects_like_numpy(args, kind):
    with pytest.raises(Exception) as numpy_error:
        np.einsum(*args)
    with pytest.raises(ricci.RicciError) as ricci_error:
        ricci.einsum(*args)
    assert isinstance(ricci_error.value, kind), ricci_error.value
    # the same built-in family as numpy (ValueError or TypeError), so generic handlers agree
    base = TypeError if isinstance(numpy_error.value, TypeError) else ValueError
    assert isinstance(ricci_error.value, base), (ricci_error.value, numpy_error.value)


def test_sublist_ellipsis_message_is_not_about_dtypes():
    with pytest.raises(ricci.SubscriptError) as error:
        ricci.einsum(ricci.Tensor("SE", (2, 3)), [E, 0, E])
    msg = str(error.value)
    assert "dtype" not in msg and "Ellipsis" in msg and "operand 0" in msg, msg


def test_sublist_out_of_range_message_names_the_range():
    with pytest.raises(ricci.SubscriptError, match=r"52.*\[0, 52\)"):
        ricci.einsum(np.ones((2, 3)), [0, 52])


def test_sublist_shape_message_names_the_form():
    with pytest.raises(ricci.ShapeError, match=r"operand 0.*operand 1.*interleaved"):
        ricci.einsum(np.ones((2, 3)), [0, 1], np.ones((4, 2)), [1, 2])


def test_no_arguments_is_a_ricci_error():
    with pytest.raises(Exception):
        np.einsum()
    with pytest.raises(ricci.OperandError):
        ricci.einsum()


# ---------------------------------------------------------------------------
# whitespace: exactly what numpy.einsum (default path) accepts
# ---------------------------------------------------------------------------
WHITESPACE_ACCEPT = [
    ("ij, jk -> ik", [(2, 3), (3, 4)]),
    ("i j,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk-> ik", [(2, 3), (3, 4)]),
    ("ij,jk ->ik", [(2, 3), (3, 4)]),
    (" ij,jk->ik ", [(2, 3), (3, 4)]),
    ("ij,jk->i k", [(2, 3), (3, 4)]),
    ("i , j", [(2,), (3,)]),
    ("... i->i", [(3,)]),
    ("... i->...i", [(2, 3)]),
    ("...i ->...", [(2, 3)]),
    (" ... i -> ... ", [(2, 3)]),
    ("i ", [(3,)]),
    (" ", [()]),
    ("", [()]),
    (" -> ", [()]),
    ("->", [()]),
    ("i, ->i", [(3,), ()]),
    ("i,,->i", [(3,), (), ()]),
    ("i i", [(3, 3)]),
    ("  ij ,  ij  ->  j", [(10, 2), (1, 2)]),
]


@pytest.mark.parametrize("subscripts,shapes", WHITESPACE_ACCEPT, ids=[repr(c[0]) for c in WHITESPACE_ACCEPT])
def test_whitespace_accepted_like_numpy(subscripts, shapes):
    _check_against_numpy(_string(subscripts), shapes, (subscripts, shapes))


# (subscripts, shapes, ricci error class, a fragment the message must contain)
STRING_REJECTS = [
    (". ..i->i", [(3,)], ricci.SubscriptError, "'...'"),
    (".. .i->i", [(3,)], ricci.SubscriptError, "'...'"),
    ("i->. ..", [(3,)], ricci.SubscriptError, "output"),
    ("ij,jk- >ik", [(2, 3), (3, 4)], ricci.SubscriptError, "'->'"),
    ("i- >i", [(3,)], ricci.SubscriptError, "'->'"),
    ("i\t->i", [(3,)], ricci.SubscriptError, "'\\t'"),
    ("i\n->i", [(3,)], ricci.SubscriptError, "'\\n'"),
    ("i->\ti", [(3,)], ricci.SubscriptError, "'\\t'"),
    ("\u00a0i", [(3,)], ricci.SubscriptError, "position 0"),
    ("i,i,", [(3,), (3,)], ricci.OperandError, "3 operand"),
    ("i,", [(3,)], ricci.OperandError, "2 operand"),
    ("ij", [(2, 3), (3, 4)], ricci.OperandError, "1 operand"),
    ("i->i,", [(3,)], ricci.SubscriptError, "','"),
    ("i-i", [(3,)], ricci.SubscriptError, "'->'"),
    ("i>i", [(3,)], ricci.SubscriptError, "'>'"),
    ("i->>i", [(3,)], ricci.SubscriptError, "'>'"),
    ("i-->i", [(3,)], ricci.SubscriptError, "'->'"),
    ("i->->i", [(3,)], ricci.SubscriptError, "more than once"),
    ("->->", [()], ricci.SubscriptError, "more than once"),
    ("ij->j-", [(2, 3)], ricci.SubscriptError, "'-'"),
    ("i.->i", [(3,)], ricci.SubscriptError, "'...'"),
    ("....i->i", [(3,)], ricci.SubscriptError, "'...'"),
    ("...i->....", [(3,)], ricci.SubscriptError, "output"),
    ("..,i", [(3,), (3,)], ricci.SubscriptError, "operand 0"),
    ("...i...", [(2, 3, 4)], ricci.SubscriptError, "once"),
    ("i1", [(2, 3)], ricci.SubscriptError, "'1'"),
    ("i_j", [(2, 3)], ricci.SubscriptError, "'_'"),
    ("i\u00e9", [(2, 3)], ricci.SubscriptError, "position 1"),
    ("i->ii", [(3,)], ricci.SubscriptError, "more than once"),
    ("i->I", [(3,)], ricci.SubscriptError, "'I'"),
    ("->i", [()], ricci.SubscriptError, "'i'"),
    ("i->", [()], ricci.SubscriptError, "operand 0"),
    ("i", [(2, 3)], ricci.SubscriptError, "operand 0"),
    ("i...->", [(2, 3)], ricci.SubscriptError, "'...'"),
    ("i...->i", [(2, 3)], ricci.SubscriptError, "'...'"),
    # sizes: broadcasting needs a 1; a diagonal never broadcasts
    ("ij,ij->j", [(10, 2), (3, 2)], ricci.ShapeError, "operand 1"),
    ("i,i", [(2,), (3,)], ricci.ShapeError, "'i'"),
    ("i,i,i->i", [(1,), (2,), (3,)], ricci.ShapeError, "operand 2"),
    ("ii->i", [(1, 3)], ricci.ShapeError, "operand 0"),
    ("ii->i", [(3, 1)], ricci.ShapeError, "operand 0"),
    ("ii->", [(3, 1)], ricci.ShapeError, "diagonal"),
    ("ii,i->i", [(1, 3), (3,)], ricci.ShapeError, "operand 0"),
    ("...ij,...j", [(3, 1, 4, 2), (5, 1, 2)], ricci.ShapeError, "'...'"),
    ("...i,...i", [(2, 4), (3, 4)], ricci.ShapeError, "'...'"),
    ("...,...", [(2, 3), (3, 3)], ricci.ShapeError, "'...'"),
]


@pytest.mark.parametrize("subscripts,shapes,kind,fragment", STRING_REJECTS,
                         ids=[f"{c[0]!r}|{c[1]}" for c in STRING_REJECTS])
def test_string_rejects_like_numpy(subscripts, shapes, kind, fragment):
    arrays = _arrays(shapes, subscripts)
    with pytest.raises((ValueError, TypeError)):
        np.einsum(subscripts, *arrays)
    ts, _ = _tensors(shapes)
    with pytest.raises(ricci.RicciError) as error:
        ricci.einsum(subscripts, *ts)
    assert isinstance(error.value, kind), error.value
    assert isinstance(error.value, ValueError)
    assert fragment in str(error.value), str(error.value)
    assert repr(subscripts) in str(error.value) or "operand" in str(error.value), str(error.value)


def test_bytes_subscripts_like_numpy():
    A = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ricci.einsum(b"ij->j", A).evaluate({}), np.einsum(b"ij->j", A))


def test_broadcast_message_names_both_operands_and_subscripts():
    with pytest.raises(ricci.ShapeError) as error:
        ricci.einsum("ij,ij->j", ricci.Tensor("MA", (10, 2)), ricci.Tensor("MB", (3, 2)))
    msg = str(error.value)
    assert "'ij,ij->j'" in msg and "operand 0" in msg and "operand 1" in msg and "10" in msg and "3" in msg, msg
