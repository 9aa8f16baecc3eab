"""Data beyond one machine: compiled programs on dask arrays build a graph and return dask arrays.

Logistic regression L = mean(softplus(X w) - y * (X w)) with X, y dask arrays chunked by rows
and w (and the HVP direction v) numpy arrays: ricci's call computes nothing, the graph keeps
the row chunks and never holds more than one row chunk of X per task, and the values equal
numpy's -- on the local schedulers and on a ``dask.distributed`` cluster.
"""
import numpy as np
import pytest
from conftest import fresh_name

import ricci

da = pytest.importorskip("dask.array", reason="dask is not installed: pip install 'ricci[dask]'")
import dask

N, P, CHUNK = 2000, 5, 500


def _model():
    X = ricci.Tensor(fresh_name("X"), ("n", P))
    w = ricci.Tensor(fresh_name("w"), (P,))
    y = ricci.Tensor(fresh_name("y"), ("n",))
    v = ricci.Tensor(fresh_name("v"), (P,))
    z = X @ w
    L = ricci.mean(ricci.softplus(z) - y * z)
    exprs = [L, ricci.grad(L, w), ricci.hessian(L, w), ricci.hvp(L, w, v), ricci.grad(L, X), ricci.sigmoid(z)]
    return ricci.compile(exprs), (X.name, w.name, y.name, v.name)


def _data(rng):
    X = rng.normal(size=(N, P))
    w = rng.normal(size=P) / np.sqrt(P)
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(np.float64)
    return X, w, y, rng.normal(size=P)


def _closed_form(X, w, y, v):
    z = X @ w
    s = 1.0 / (1.0 + np.exp(-z))
    L = np.mean(np.logaddexp(0.0, z) - y * z)
    H = (X * (s * (1 - s))[:, None]).T @ X / len(y)
    return [L, X.T @ (s - y) / len(y), H, H @ v, np.outer(s - y, w) / len(y), s]


@pytest.fixture
def problem(rng):
    f, (Xn, wn, yn, vn) = _model()
    X, w, y, v = _data(rng)
    lazy = {Xn: da.from_array(X, chunks=(CHUNK, P)), yn: da.from_array(y, chunks=CHUNK), wn: w, vn: v}
    return f, lazy, _closed_form(X, w, y, v)


def _refuse(*args, **kwargs):
    raise AssertionError("ricci's call ran a dask computation; it should only build the graph")


def _check(results, expected):
    for got, want in zip(results, expected):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-13)


def test_evaluate_is_lazy_and_keeps_row_chunks(problem):
    f, lazy, expected = problem
    with dask.config.set(scheduler=_refuse):  # any compute (or np.asarray of a dask array) would raise
        out = f(lazy)
        also = ricci.evaluate(list(f.roots), lazy)
    assert all(isinstance(r, da.Array) for r in out + also)
    L, g, H, Hv, gX, s = out
    assert gX.chunks == ((CHUNK,) * (N // CHUNK), (P,))  # row chunks kept, no rechunk
    assert s.chunks == ((CHUNK,) * (N // CHUNK),)
    assert g.shape == (P,) and H.shape == (P, P) and Hv.shape == (P,) and L.shape == ()
    names = {str(k[0] if isinstance(k, tuple) else k) for r in out for k in r.__dask_graph__()}
    assert not any("rechunk" in k for k in names), sorted(names)
    _check(dask.compute(*out, scheduler="sync"), expected)
    _check(dask.compute(*also, scheduler="threads"), expected)


def test_no_task_holds_more_than_a_row_chunk(problem):
    from dask.callbacks import Callback

    f, lazy, expected = problem
    sizes = []

    class Sizes(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if not str(key[0] if isinstance(key, tuple) else key).startswith("finalize"):
                sizes.append((getattr(result, "size", 1), key))  # (finalize: compute's copy of a result)

    out = f(lazy)
    with Sizes(), dask.config.set({"optimization.fuse.active": False}):  # every intermediate is a task
        values = dask.compute(*out, scheduler="sync", optimize_graph=False)
    largest = max(sizes, key=lambda t: t[0])
    assert largest[0] <= CHUNK * P, largest  # no (n, n), no dense diagonal, no whole column of X
    _check(values, expected)


def test_distributed_cluster_matches_numpy(problem):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed: "
                                                             "pip install 'dask[distributed]'")
    f, lazy, expected = problem
    # threads in this process (processes=False): starts in well under a second and needs no pickling
    # of the test module; the scheduler and workers are the real distributed ones
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = f(lazy)
        assert all(isinstance(r, da.Array) for r in out)
        values = client.compute(out, sync=True)
        _check(values, expected)
        _check(dask.compute(*out), expected)  # the default scheduler inside the client is the cluster
        assert len(client.scheduler_info()["workers"]) == 2
