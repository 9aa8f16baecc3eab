"""Named (symbolic) dimensions: Tensor("X", ("batch", 3)).

One derivation serves every size; sizes are bound from the inputs; conflicts name both
inputs; programs are cached per concrete size; printers show the names; cost() takes
sizes; deltas, ones and structured results over a named dimension stay symbolic.
"""
import threading

import numpy as np
import pytest

import ricci
from conftest import fresh_name, rand


def _T(prefix, shape):
    return ricci.Tensor(fresh_name(prefix), shape)


def test_one_derivation_every_batch_size(rng):
    X, w = _T("X", ("batch", 4)), _T("w", (4,))
    L = ricci.mean(ricci.softplus(X @ w))
    g, H = ricci.grad(L, w), ricci.hessian(L, w)
    for n in (1, 3, 17):
        Xv, wv = rand((n, 4), rng), rand((4,), rng)
        s = 1 / (1 + np.exp(-(Xv @ wv)))  # closed forms, independent of ricci
        np.testing.assert_allclose(g.evaluate({X.name: Xv, w.name: wv}), Xv.T @ s / n, rtol=1e-12)
        np.testing.assert_allclose(H.evaluate({X.name: Xv, w.name: wv}), Xv.T @ np.diag(s * (1 - s)) @ Xv / n,
                                   rtol=1e-12)
    assert g.shape == (4,) and H.shape == (4, 4)


def test_a_conflict_names_both_inputs():
    X, Y = _T("X", ("batch", 3)), _T("Y", ("batch", 4))
    with pytest.raises(ricci.InputShapeError) as info:
        (ricci.sum(X) + ricci.sum(Y)).evaluate({X.name: np.ones((2, 3)), Y.name: np.ones((5, 4))})
    assert X.name in str(info.value) and Y.name in str(info.value) and "'batch'" in str(info.value)


def test_one_program_per_size_and_reuse():
    X = _T("X", ("n", 3))
    f = ricci.compile(ricci.grad(ricci.sum(ricci.tanh(X) ** 2), X))
    for n in (2, 5, 2, 5, 2):
        assert f({X.name: np.ones((n, 3))}).shape == (n, 3)
    assert len(f._bound) == 2  # one concrete function per size seen
    assert f.at({"n": 2}) is f.at({"n": 2})
    assert "def program" in f.at({"n": 4}).source
    with pytest.raises(ricci.InputShapeError, match="named dimensions"):
        f.source  # noqa: B018  (a program depends on the sizes: the error says to use at())


def test_printers_show_the_names():
    X = _T("X", ("batch", 3))
    m = ricci.mean(ricci.tanh(X))
    assert "1/batch" in str(m)
    assert r"\mathrm{batch}" in m.to_latex()
    assert "1/batch" in ricci.grad(m, X).to_dot()
    assert ricci.grad(m, X).shape == ("batch", 3)
    assert "ones(batch)" not in str(ricci.broadcast_to(_T("b", (3,)), ("batch", 3)))


def test_cost_takes_sizes():
    X, w = _T("X", ("batch", 8)), _T("w", (8,))
    g = ricci.grad(ricci.sum(ricci.tanh(X @ w)), w)
    small, large = ricci.cost(g, sizes={"batch": 10}), ricci.cost(g, sizes={"batch": 1000})
    assert large.flops == pytest.approx(100 * small.flops, rel=0.05)
    assert large.largest_intermediate == 100 * small.largest_intermediate


def test_deltas_and_structure_over_a_named_dimension():
    X = _T("X", ("batch", 3))
    J = ricci.jacobian(X, X)  # δ ⊗ δ: X itself is not in the network, its declared shape binds batch
    assert J.shape == ("batch", 3, "batch", 3) and "eye(batch)" in str(J)
    np.testing.assert_array_equal(J.evaluate({X.name: np.ones((2, 3))}), np.eye(6).reshape(2, 3, 2, 3))
    H = ricci.hessian(ricci.sum(X * X), X)
    s = H.evaluate({X.name: np.ones((4, 3))}, structured=True)
    assert s.deltas == ((0, 2), (1, 3)) and float(s.core) == 2.0
    v = _T("v", ("n",))
    trace = ricci.einsum("ii->", ricci.jacobian(v, v))  # the trace of δ over n: the size n
    assert str(trace) == "n" and float(trace.evaluate({v.name: np.ones(7)})) == 7.0


def test_a_size_no_input_has_must_be_given():
    w = _T("w", (3,))
    L = ricci.sum(ricci.broadcast_to(w, ("other", 3)))
    with pytest.raises(ricci.MissingInputError, match="other"):
        L.evaluate({w.name: np.ones(3)})
    assert float(L.evaluate({w.name: np.ones(3)}, sizes={"other": 4})) == 12.0
    with pytest.raises(ricci.ArgumentError, match="nope"):
        L.evaluate({w.name: np.ones(3)}, sizes={"other": 4, "nope": 1})


@pytest.mark.parametrize("bad", [None, "", "batch size", 2.5, -1])
def test_bad_dimensions_are_refused(bad):
    with pytest.raises(ricci.RicciError):
        ricci.Tensor(fresh_name("bad"), (bad, 3))


def test_many_sizes_from_threads(rng):
    X, w = _T("X", ("batch", 5)), _T("w", (5,))
    g = ricci.grad(ricci.sum(ricci.tanh(X @ w) ** 2), w)
    f = ricci.compile(g)
    errors = []

    def work(k):
        r = np.random.default_rng(k)
        for i in range(40):
            n = 1 + (k * 7 + i) % 9
            Xv, wv = r.standard_normal((n, 5)), r.standard_normal(5)
            t = np.tanh(Xv @ wv)
            if not np.allclose(f({X.name: Xv, w.name: wv}), Xv.T @ (2 * t * (1 - t * t)), rtol=1e-12):
                errors.append((k, i))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
