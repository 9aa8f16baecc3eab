"""Data beyond memory: ricci's logistic-regression gradient and Hessian on a lazy dask design matrix.

L(w) = mean(softplus(X w) - y * (X w)), X (n, p) float64, y in {0, 1}; ``ricci.grad(L, w)``
and ``ricci.hessian(L, w)`` compiled once (``n`` a named dimension) and called with X, y dask
arrays chunked by rows and w a numpy array.  ricci builds a dask graph and returns dask
arrays; nothing is computed until ``dask.compute``.

Three measurements, each in its own child process, printed side by side:

outofcore  n = 2,000,000, p = 200 (X is 3.2 GB), X built lazily with
           ``da.random.default_rng(0).standard_normal((n, p), chunks=(100_000, p))`` and
           y = (u < sigmoid(X w_true)) lazily from it -- no full-size numpy array ever
           exists.  Gradient and Hessian computed together (one pass over X) with dask's
           threaded scheduler (one worker per CPU).  Reported: the time to build the graph
           (ricci's call), to compute it, the graph's task count and largest chunk, and
           the child's peak RSS (VmHWM / ru_maxrss, imports included).  Target: < 1 GB.
           Then the same full-size answer by hand-written numpy, chunk by chunk
           (``X.blocks[i]`` computed one at a time, X^T (s - y) and X^T (s(1-s) X)
           accumulated): max relative error, target <= 1e-10.
sample     the first 200,000 rows (``--small``: 20,000) both ways: ricci on the dask slice
           vs ricci on the same rows as one numpy array; target rtol 1e-10.
timing     n = 200,000 (``--small``: 20,000), X already in memory: ricci on numpy
           arrays vs ricci on ``da.from_array(X, chunks=(100_000, p))`` (``--small``:
           10,000) followed by ``dask.compute``, the dask side timed end to end (ricci's
           call, graph, scheduling, compute).  BLAS pinned to one thread
           (threadpoolctl too); the dask side runs the threaded scheduler with one worker
           (the fair ratio: the overhead of dask) and, for context, one worker per CPU.
           Interleaved repetitions; the median of paired ratios dask / numpy is reported.
           Target: <= 1.5x (one worker).

Run::

    .venv/bin/python -m benchmarks.dask_outofcore            # full: 2,000,000 x 200, ~70 s on 2 cores
    .venv/bin/python -m benchmarks.dask_outofcore --small    # 200,000 x 200 out-of-core run, seconds
    .venv/bin/python -m benchmarks.dask_outofcore --save     # write benchmarks/results/dask[_small].json

Without ``--save`` the JSON goes to benchmarks/out/dask[_small].json (untracked; its path is
printed); ``--out PATH`` writes it there.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._paired import pin_blas_threads

pin_blas_threads(1)

import numpy as np

from benchmarks import _paired as P
from benchmarks._measure import environment, versions_line
from benchmarks._paths import add_save_argument, output_path

P_FEATURES = 200
CONFIG = {
    "full": {"n": 2_000_000, "chunk": 100_000, "sample": 200_000, "time_n": 200_000, "time_chunk": 100_000},
    "small": {"n": 200_000, "chunk": 20_000, "sample": 20_000, "time_n": 20_000, "time_chunk": 10_000},
}
RSS_TARGET = 1e9
RTOL = 1e-10
RATIO_TARGET = 1.5


def build():
    """The compiled gradient and Hessian (``n`` a named dimension)."""
    import ricci

    X = ricci.Tensor("X", ("n", P_FEATURES))
    w = ricci.Tensor("w", (P_FEATURES,))
    y = ricci.Tensor("y", ("n",))
    z = X @ w
    L = ricci.mean(ricci.softplus(z) - y * z)
    return ricci.compile([ricci.grad(L, w), ricci.hessian(L, w)])


def weights():
    rng = np.random.default_rng(1)
    return rng.normal(size=P_FEATURES) / np.sqrt(P_FEATURES), rng.normal(size=P_FEATURES) / np.sqrt(P_FEATURES)


def lazy_data(n, chunk):
    """X (n, p) standard normal and y = (u < sigmoid(X w_true)) as dask arrays, never materialised."""
    import dask.array as da

    _, w_true = weights()
    X = da.random.default_rng(0).standard_normal((n, P_FEATURES), chunks=(chunk, P_FEATURES))
    u = da.random.default_rng(2).random(n, chunks=chunk)
    y = (u < 1.0 / (1.0 + da.exp(-(X @ w_true)))).astype(np.float64)
    return X, y


def handwritten(Xc, yc, w):
    """Sums (not means) of the gradient and Hessian over one block of rows, plain numpy."""
    s = 1.0 / (1.0 + np.exp(-(Xc @ w)))
    return Xc.T @ (s - yc), (Xc * (s * (1.0 - s))[:, None]).T @ Xc


def rel_err(a, b):
    scale = max(float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(np.asarray(a) - b)) / scale)


def graph_stats(arrays):
    keys = set().union(*(a.__dask_graph__().keys() for a in arrays))
    kinds = sorted({str(k[0] if isinstance(k, tuple) else k).rsplit("-", 1)[0] for k in keys})
    return {"tasks": len(keys), "layers": kinds, "rechunks": sum("rechunk" in k for k in kinds)}


def child_outofcore(cfg):
    import dask

    n, chunk = cfg["n"], cfg["chunk"]
    w, _ = weights()
    f = build()
    X, y = lazy_data(n, chunk)
    rss_start = P.peak_rss_bytes()
    t0 = time.perf_counter()
    g, H = f(X=X, y=y, w=w)
    t_build = time.perf_counter() - t0
    stats = graph_stats([g, H])
    t0 = time.perf_counter()
    g_val, H_val = dask.compute(g, H, scheduler="threads")
    t_compute = time.perf_counter() - t0
    rss_peak = P.peak_rss_bytes()
    row = {"case": "outofcore", "n": n, "p": P_FEATURES, "chunk_rows": chunk, "x_bytes": n * P_FEATURES * 8,
           "result_types": [type(g).__module__ + "." + type(g).__name__], "build_s": t_build,
           "compute_s": t_compute, "peak_rss_bytes": rss_peak, "rss_before_compute_bytes": rss_start,
           "rss_target_bytes": RSS_TARGET, "rss_met": bool(rss_peak < RSS_TARGET),
           "workers": os.cpu_count(), **stats}
    # numpy's answer, one block at a time (X block and y block computed together: y needs X)
    t0 = time.perf_counter()
    g_ref, H_ref = np.zeros(P_FEATURES), np.zeros((P_FEATURES, P_FEATURES))
    for i in range(X.numblocks[0]):
        Xc, yc = dask.compute(X.blocks[i], y.blocks[i], scheduler="threads")
        gi, Hi = handwritten(Xc, yc, w)
        g_ref += gi
        H_ref += Hi
        del Xc, yc
    g_ref /= n
    H_ref /= n
    row["reference_s"] = time.perf_counter() - t0
    row["grad_rel_err"], row["hess_rel_err"] = rel_err(g_val, g_ref), rel_err(H_val, H_ref)
    row["agree"] = bool(row["grad_rel_err"] <= RTOL and row["hess_rel_err"] <= RTOL)
    P.emit(row)


def child_sample(cfg):
    import dask

    m = cfg["sample"]
    w, _ = weights()
    f = build()
    X, y = lazy_data(cfg["n"], cfg["chunk"])
    Xs, ys = X[:m], y[:m]
    g, H = dask.compute(*f(X=Xs, y=ys, w=w), scheduler="threads")
    Xn, yn = dask.compute(Xs, ys, scheduler="threads")
    g_np, H_np = f(X=Xn, y=yn, w=w)
    g_hw, H_hw = handwritten(Xn, yn, w)
    row = {"case": "sample", "rows": m, "grad_rel_err": rel_err(g, g_np), "hess_rel_err": rel_err(H, H_np),
           "numpy_vs_handwritten": max(rel_err(g_np, g_hw / m), rel_err(H_np, H_hw / m))}
    row["agree"] = bool(max(row["grad_rel_err"], row["hess_rel_err"], row["numpy_vs_handwritten"]) <= RTOL)
    P.emit(row)


def child_timing(cfg, repeats):
    import dask
    import dask.array as da

    P.limit_threads(1)
    n, chunk = cfg["time_n"], cfg["time_chunk"]
    w, _ = weights()
    f = build()
    X, y = lazy_data(n, chunk)
    Xn, yn = dask.compute(X, y, scheduler="threads")
    Xd, yd = da.from_array(Xn, chunks=(chunk, P_FEATURES)), da.from_array(yn, chunks=chunk)
    workers = os.cpu_count() or 1
    fns = {
        "numpy": lambda: f(X=Xn, y=yn, w=w),
        "dask_1worker": lambda: dask.compute(*f(X=Xd, y=yd, w=w), scheduler="threads", num_workers=1),
        "dask_all": lambda: dask.compute(*f(X=Xd, y=yd, w=w), scheduler="threads", num_workers=workers),
    }
    ref = fns["numpy"]()
    ok = all(rel_err(a, b) <= RTOL for a, b in zip(fns["dask_1worker"](), ref))
    res = P.paired(fns, "numpy", repeats=repeats, block_s=0.0)
    r1, ra = res["ratios"]["dask_1worker"], res["ratios"]["dask_all"]
    P.emit({"case": "timing", "n": n, "p": P_FEATURES, "chunk_rows": chunk, "workers_all": workers,
            "numpy_s": res["numpy"]["median_s"], "dask_1worker_s": res["dask_1worker"]["median_s"],
            "dask_all_s": res["dask_all"]["median_s"], "ratio": r1["median"], "ratio_q25": r1["q25"],
            "ratio_q75": r1["q75"], "ratio_all": ra["median"], "repeats": r1["repeats"],
            "target": RATIO_TARGET, "met": bool(r1["median"] <= RATIO_TARGET), "agree": ok})


def _gb(b):
    return f"{b / 1e9:.3f} GB"


def report(rows):
    by = {r["case"]: r for r in rows}
    o, s, t = by.get("outofcore"), by.get("sample"), by.get("timing")
    if o and "error" not in o:
        print(f"\nout-of-core   n = {o['n']:,} x p = {o['p']} float64 (X {_gb(o['x_bytes'])}), chunks of "
              f"{o['chunk_rows']:,} rows, threaded scheduler ({o['workers']} workers)")
        print(f"  ricci call (graph build)  {o['build_s'] * 1e3:10.1f} ms   graph: {o['tasks']:,} tasks"
              f" ({', '.join(o['layers'])})")
        print(f"  dask.compute(grad, hess)  {o['compute_s']:10.2f} s")
        print(f"  peak RSS                  {_gb(o['peak_rss_bytes']):>13}   (before compute "
              f"{_gb(o['rss_before_compute_bytes'])}; target < {_gb(o['rss_target_bytes'])}: "
              f"{P.verdict(o['rss_met'])})")
        print(f"  vs numpy chunk-wise       grad rel err {o['grad_rel_err']:.1e}, hessian {o['hess_rel_err']:.1e}"
              f" (target <= {RTOL:g}: {P.verdict(o['agree'])}; reference pass {o['reference_s']:.1f} s)")
    if s and "error" not in s:
        print(f"sample        first {s['rows']:,} rows, dask vs numpy: grad {s['grad_rel_err']:.1e}, hessian "
              f"{s['hess_rel_err']:.1e}; numpy vs hand-written {s['numpy_vs_handwritten']:.1e} "
              f"({P.verdict(s['agree'])})")
    if t and "error" not in t:
        print(f"timing        n = {t['n']:,} x {t['p']}, chunks of {t['chunk_rows']:,}, BLAS 1 thread, "
              f"{t['repeats']} paired repetitions")
        print(f"  {'numpy':<22} {t['numpy_s'] * 1e3:10.1f} ms")
        print(f"  {'dask, 1 worker':<22} {t['dask_1worker_s'] * 1e3:10.1f} ms   ratio {t['ratio']:.2f}x "
              f"(q25 {t['ratio_q25']:.2f}, q75 {t['ratio_q75']:.2f}; target <= {t['target']:g}x: "
              f"{P.verdict(t['met'])})")
        label = f"dask, {t['workers_all']} workers"
        print(f"  {label:<22} {t['dask_all_s'] * 1e3:10.1f} ms   ratio "
              f"{t['ratio_all']:.2f}x (context)")
    for r in rows:
        if "error" in r:
            print(f"{r['case']:<13} FAILED: {r['error']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true", help="200,000-row out-of-core run (seconds)")
    p.add_argument("--repeat", type=int, default=None, help="paired repetitions (default 9; small 5)")
    add_save_argument(p)
    p.add_argument("--out", type=Path, default=None, help="write the JSON here")
    p.add_argument("--child-timeout", type=float, default=None)
    p.add_argument("--child", choices=["outofcore", "sample", "timing"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    size = "small" if args.small else "full"
    cfg = CONFIG[size]
    args.repeat = args.repeat or (5 if args.small else 9)
    timeout = args.child_timeout or (120.0 if args.small else 900.0)
    if args.child:
        {"outofcore": lambda: child_outofcore(cfg), "sample": lambda: child_sample(cfg),
         "timing": lambda: child_timing(cfg, args.repeat)}[args.child]()
        return 0
    try:
        import dask
        import dask.array
    except ImportError:
        print("skipped: dask is not installed (pip install 'ricci[dask]')")
        return 0
    start = time.perf_counter()
    env = environment()
    env["dask"] = dask.__version__
    blas = P.blas_info()
    print(__doc__.split("\n")[0])
    print(versions_line(env) + f", dask {dask.__version__}")
    print(P.blas_line(blas))
    P.print_load()
    rows = []
    for case in ("outofcore", "sample", "timing"):
        argv_child = ["benchmarks/dask_outofcore.py", "--child", case, "--repeat", str(args.repeat)]
        recs, status, _ = P.run_child(argv_child + (["--small"] if args.small else []), timeout)
        if status != "ok":
            recs.append({"case": case, "error": f"child {status}"})
        rows += recs
    report(rows)
    payload = {"benchmark": "dask_outofcore", "size": size, "config": cfg, "environment": env, "blas": blas,
               "loadavg_start": P.loadavg(), "rows": rows, "elapsed_s": time.perf_counter() - start,
               "loadavg_end": P.loadavg()}
    print(f"total {payload['elapsed_s']:.0f} s")
    out = output_path(f"dask{'_small' if args.small else ''}.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
