"""Memory and time of the RNN-cell gradient: hand-written numpy vs ricci vs naive Jacobians.

The reference case (a tutorial on chain rules for matrix-valued functions)::

    c = tanh(Wc @ c_prev + Wx @ x + b 1^T)      # (nc, m)
    L = sum(c * G)                              # scalar
    dL/dWx = (G * (1 - c**2)) @ x.T             # (nc, nx)

Methods
    handwritten  the numpy formula above; the 1.0x reference.
    ricci.grad   ``g = ricci.grad(L, Wx)`` derived once (not timed), then
                 ``g.evaluate(inputs)`` is measured.
    naive        the textbook chain rule: materialise the generalized Jacobians
                 dc/du (nc*m*nc*m numbers) and du/dWx (nc*m*nc*nx numbers) as
                 4-D numpy arrays and contract them with dL/dc = G.  Run only if
                 the predicted size of the two Jacobians is below the budget
                 (``--naive-budget-gib``, default 1); otherwise the predicted
                 bytes are printed, marked "predicted, not run".

Every (method, size) is measured in a fresh child process (this script with a
hidden ``--child`` flag), after the inputs have been allocated:

    tracemalloc MiB  peak traced during ONE evaluation (the first one in the
                     process) minus what was traced before it, i.e. the extra
                     memory the evaluation needs on top of the inputs, including
                     its result.  numpy reports its buffers to tracemalloc.
    RSS-delta MiB    ru_maxrss after that evaluation minus ru_maxrss before it
                     (the RSS high-water mark is reset to the current RSS first
                     on Linux); page-granular, also sees allocator/BLAS effects.
    median ms        median over ``--repeat`` repeats of the time per call
                     (tracemalloc off, each repeat loops >= ~20 ms of calls).
    min ms           the fastest repeat, for judging timing noise.
    x hw             ratio to the handwritten method in the same column.

Also printed per size: the predicted size of dc/du, ricci's planned cost
(``g.cost``: flops and largest intermediate), a correctness line (ricci result
vs handwritten with np.allclose, rtol 1e-6 for float64 / 1e-4 for float32 and
atol = rtol * max|reference|) and the target line "ricci.grad within 1.5x of
handwritten in memory (traced) and time: MET/MISSED".  Nothing is asserted;
timings whose median exceeds 1.25x their fastest repeat are flagged as noisy.

Results go to benchmarks/results/rnn_memory.json (rnn_memory_small.json for
``--sizes small``, rnn_memory_custom.json for explicit sizes; ``--out`` wins).

Run (from the repository root)::

    python benchmarks/rnn_memory.py                 # all four sizes, float64
    python benchmarks/rnn_memory.py --sizes small   # smoke test, (64, 32, 8)
    python benchmarks/rnn_memory.py --dtype float32 --repeat 11
    python benchmarks/rnn_memory.py --sizes 512x256x32,4096x2048x128
    python benchmarks/rnn_memory.py --threads 1     # steadier on a busy machine
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmark the checkout this script lives in
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._measure import environment, median_time, peak_memory  # noqa: E402

SIZES = [(64, 32, 8), (256, 128, 32), (1024, 512, 64), (2048, 1024, 128)]
METHODS = ["handwritten", "ricci.grad", "naive"]
RESULTS_DIR = ROOT / "benchmarks" / "results"
TARGET_RATIO = 1.5
NOISY_RATIO = 1.25  # median/min above this is flagged as a noisy timing
MiB, GiB = 2.0**20, 2.0**30
CHILD_TIMEOUT_S = 1800
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LEGEND = """\
columns (each (method, size) measured in a fresh child process, inputs already allocated):
  tracemalloc MiB  peak traced during one evaluation minus memory traced before it
                   (numpy buffers + Python objects; includes the result, excludes inputs)
  RSS-delta MiB    ru_maxrss after minus before that evaluation (peak reset first)
  median ms        median over repeats of the time per call (tracemalloc off)
  min ms           fastest repeat (less sensitive to machine noise than the median)
  x hw             ratio to 'handwritten' in the same column"""


# --------------------------------------------------------------------------- the three methods


def make_inputs(nc, nx, m, dtype, seed=0):
    """Well-scaled random inputs (tanh not saturated)."""
    rng = np.random.default_rng(seed)

    def randn(*shape, scale=1.0):
        a = rng.standard_normal(shape, dtype=dtype)
        a *= dtype(scale)
        return a

    return {
        "Wc": randn(nc, nc, scale=nc**-0.5),
        "Wx": randn(nc, nx, scale=nx**-0.5),
        "b": randn(nc, scale=0.1),
        "c_prev": np.tanh(randn(nc, m)),
        "x": randn(nx, m),
        "G": randn(nc, m),
    }


def handwritten(Wc, Wx, b, c_prev, x, G):
    c = np.tanh(Wc @ c_prev + Wx @ x + b[:, None])
    return (G * (1 - c**2)) @ x.T


def naive(Wc, Wx, b, c_prev, x, G):
    """Textbook chain rule with explicit generalized Jacobians."""
    nc, m = c_prev.shape
    nx = x.shape[0]
    c = np.tanh(Wc @ c_prev + Wx @ x + b[:, None])
    # dc/du[i,b,k,d] = delta_ik delta_bd (1 - c[i,b]^2)
    dc_du = np.zeros((nc, m, nc, m), dtype=c.dtype)
    np.fill_diagonal(dc_du.reshape(nc * m, nc * m), (1 - c**2).ravel())
    # du/dWx[k,d,p,q] = delta_kp x[q,d]
    du_dWx = np.zeros((nc, m, nc, nx), dtype=c.dtype)
    k = np.arange(nc)
    du_dWx[k, :, k, :] = x.T
    dL_du = np.einsum("ib,ibkd->kd", G, dc_du)
    return np.einsum("kd,kdpq->pq", dL_du, du_dWx)


def naive_bytes(nc, nx, m, itemsize):
    """Bytes of the two generalized Jacobians the naive method materialises."""
    return (nc * m * nc * m + nc * m * nc * nx) * itemsize


def ricci_gradient(nc, nx, m, dtype):
    """Build L(Wc, Wx, b, c_prev, x, G) symbolically and return dL/dWx."""
    import ricci

    Wc = ricci.Tensor("Wc", (nc, nc))
    Wx = ricci.Tensor("Wx", (nc, nx))
    b = ricci.Tensor("b", (nc,))
    cp = ricci.Tensor("c_prev", (nc, m))
    x = ricci.Tensor("x", (nx, m))
    G = ricci.Tensor("G", (nc, m))
    u = (
        ricci.einsum("ij,jb->ib", Wc, cp)
        + ricci.einsum("ij,jb->ib", Wx, x)
        + ricci.einsum("i,b->ib", b, np.ones(m, dtype=dtype))
    )
    c = ricci.tanh(u)
    L = ricci.einsum("ib,ib->", c, G)
    return ricci.grad(L, Wx)


# --------------------------------------------------------------------------- child process


def run_child(method, nc, nx, m, dtype_name, repeat):
    """Measure one (method, size) in this (fresh) process; return a JSON-able dict."""
    dtype = np.dtype(dtype_name).type
    inputs = make_inputs(nc, nx, m, dtype)
    out = {"method": method, "inputs_bytes": sum(a.nbytes for a in inputs.values())}
    if method == "handwritten":
        fn = lambda: handwritten(**inputs)  # noqa: E731
    elif method == "naive":
        fn = lambda: naive(**inputs)  # noqa: E731
    elif method == "ricci.grad":
        g = ricci_gradient(nc, nx, m, dtype)
        shapes = {k: v.shape for k, v in inputs.items()}
        try:
            cost = g.cost(shapes)
            out["cost"] = {
                "flops": _num(cost.flops),
                "largest_intermediate": _num(cost.largest_intermediate),
                "largest_bytes": _num(getattr(cost, "largest_bytes", None)),
            }
        except Exception as exc:  # report, keep measuring
            out["cost_error"] = f"{type(exc).__name__}: {exc}"
        fn = lambda: g.evaluate(inputs)  # noqa: E731
    else:
        raise ValueError(f"unknown method {method!r}")

    result, mem = peak_memory(fn)
    out.update(mem)
    result = np.asarray(result)
    if method != "handwritten":
        ref = handwritten(**inputs)
        rtol = 1e-6 if dtype is np.float64 else 1e-4
        scale = float(np.max(np.abs(ref)))
        out["result_dtype"] = str(result.dtype)
        out["shape_ok"] = result.shape == ref.shape
        out["allclose"] = bool(out["shape_ok"] and np.allclose(result, ref, rtol=rtol, atol=rtol * scale))
        if out["shape_ok"]:
            out["max_rel_err"] = float(np.max(np.abs(result - ref)) / scale)
    t, number, per_call = median_time(fn, repeat)
    out.update(median_s=t, min_s=min(per_call), calls_per_repeat=number, times_s=per_call)
    return out


def _num(v):
    if v is None:
        return None
    v = float(v)
    return int(v) if v.is_integer() else v


def spawn_child(method, size, dtype_name, repeat, threads=None):
    nc, nx, m = size
    env = dict(os.environ)
    if threads:  # BLAS thread count must be fixed before numpy is imported
        for var in THREAD_VARS:
            env[var] = str(threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method,
           "--sizes", f"{nc}x{nx}x{m}", "--dtype", dtype_name, "--repeat", str(repeat)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT),
                              env=env, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"method": method, "error": f"timed out after {CHILD_TIMEOUT_S} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"method": method, "error": f"child exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- parent: run and report


def _ratio(v, ref):
    return v / ref if (v is not None and ref) else None


def _fmt(v, spec, width):
    return f"{'n/a' if v is None else format(v, spec):>{width}}"


def bench_size(size, dtype_name, repeat, budget_bytes, threads=None):
    nc, nx, m = size
    itemsize = np.dtype(dtype_name).itemsize
    rec = {"nc": nc, "nx": nx, "m": m,
           "dcdu_bytes": nc * m * nc * m * itemsize,
           "naive_predicted_bytes": naive_bytes(nc, nx, m, itemsize),
           "methods": {}}
    for method in METHODS:
        if method == "naive" and rec["naive_predicted_bytes"] >= budget_bytes:
            rec["methods"][method] = {"method": method, "run": False,
                                      "predicted_bytes": rec["naive_predicted_bytes"]}
            continue
        r = spawn_child(method, size, dtype_name, repeat, threads)
        r["run"] = "error" not in r
        rec["methods"][method] = r

    hw, rg = rec["methods"]["handwritten"], rec["methods"]["ricci.grad"]
    for r in rec["methods"].values():
        if r.get("run"):
            r["traced_ratio"] = _ratio(r["traced_peak_bytes"], hw.get("traced_peak_bytes"))
            r["rss_ratio"] = _ratio(r["rss_delta_bytes"], hw.get("rss_delta_bytes"))
            r["time_ratio"] = _ratio(r["median_s"], hw.get("median_s"))
    rec["ricci_correct"] = bool(rg.get("allclose"))
    rec["target_met"] = bool(
        rg.get("run") and hw.get("run") and rec["ricci_correct"]
        and rg["traced_ratio"] is not None and rg["traced_ratio"] <= TARGET_RATIO
        and rg["time_ratio"] is not None and rg["time_ratio"] <= TARGET_RATIO)
    return rec


def print_size(rec, dtype_name):
    nc, nx, m = rec["nc"], rec["nx"], rec["m"]
    print(f"\n=== (nc, nx, m) = ({nc}, {nx}, {m}), {dtype_name} ===")
    print(f"dc/du would hold nc*m*nc*m = {nc * m * nc * m:,} numbers = {rec['dcdu_bytes'] / GiB:.3f} GiB"
          f" (dc/du + du/dWx: {rec['naive_predicted_bytes'] / GiB:.3f} GiB)")
    hw = rec["methods"]["handwritten"]
    if "inputs_bytes" in hw:
        print(f"inputs: {hw['inputs_bytes'] / MiB:.2f} MiB (not counted below)")
    print(f"{'method':<12} {'tracemalloc MiB':>15} {'x hw':>6} {'RSS-delta MiB':>14} {'x hw':>6}"
          f" {'median ms':>10} {'x hw':>6} {'min ms':>9}")
    for name, r in rec["methods"].items():
        if "error" in r:
            print(f"{name:<12} ERROR: {r['error']}")
        elif not r["run"]:
            print(f"{name:<12} {r['predicted_bytes'] / GiB:,.2f} GiB for the Jacobians (predicted, not run)")
        else:
            print(f"{name:<12} {r['traced_peak_bytes'] / MiB:>15.3f} {_fmt(r['traced_ratio'], '.2f', 6)}"
                  f" {r['rss_delta_bytes'] / MiB:>14.2f} {_fmt(r['rss_ratio'], '.2f', 6)}"
                  f" {r['median_s'] * 1e3:>10.4f} {_fmt(r['time_ratio'], '.2f', 6)} {r['min_s'] * 1e3:>9.4f}")
    rg = rec["methods"]["ricci.grad"]
    itemsize = np.dtype(dtype_name).itemsize
    if "cost" in rg:
        c = rg["cost"]
        li = c["largest_intermediate"]
        print(f"ricci plan (g.cost): flops = {c['flops']:,}, largest intermediate = {li:,} elements"
              f" ({li * itemsize / MiB:.3f} MiB as {dtype_name}; cost.largest_bytes = {c['largest_bytes']})")
    elif "cost_error" in rg:
        print(f"ricci plan (g.cost): ERROR {rg['cost_error']}")
    for name in ("ricci.grad", "naive"):
        r = rec["methods"][name]
        if r.get("run"):
            verdict = "OK" if r.get("allclose") else "MISMATCH"
            detail = f"max rel err {r['max_rel_err']:.1e}" if "max_rel_err" in r else "shape differs"
            print(f"correctness {name} vs handwritten: {verdict} ({detail}, result dtype {r['result_dtype']})")
    noisy = [f"{n} (median/min {r['median_s'] / r['min_s']:.2f})" for n, r in rec["methods"].items()
             if r.get("run") and r["median_s"] > NOISY_RATIO * r["min_s"]]
    if noisy:
        print("note: timing looks noisy for " + ", ".join(noisy) + "; consider rerunning")
    print(f"target: ricci.grad within {TARGET_RATIO}x of handwritten in memory and time: "
          f"{'MET' if rec['target_met'] else 'MISSED'}")


def parse_sizes(text):
    if text == "all":
        return SIZES
    if text == "small":
        return SIZES[:1]
    return [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="all",
                   help="'all' (default), 'small' (only 64x32x8) or NCxNXxM[,NCxNXxM...]")
    p.add_argument("--repeat", type=int, default=7, help="timing repeats (median is reported)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--naive-budget-gib", type=float, default=1.0,
                   help="run 'naive' only if its Jacobians are predicted below this (GiB)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/OpenMP threads in the children (default: the libraries' own default)")
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    p.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = parse_sizes(args.sizes)

    if args.child:
        print(json.dumps(run_child(args.child, *sizes[0], args.dtype, args.repeat)))
        return 0

    env = environment()
    print(__doc__.split("\n")[0])
    print(LEGEND)
    print(f"python {env['python']}, numpy {env['numpy']}, opt_einsum {env['opt_einsum']}, "
          f"ricci {env['ricci']}, {env['cpu_count']} CPUs, dtype {args.dtype}, repeat {args.repeat}, "
          f"BLAS threads {args.threads or 'default'}")
    budget = args.naive_budget_gib * GiB
    records = []
    for size in sizes:
        rec = bench_size(size, args.dtype, args.repeat, budget, args.threads)
        print_size(rec, args.dtype)
        records.append(rec)

    name = {"all": "rnn_memory.json", "small": "rnn_memory_small.json"}.get(args.sizes, "rnn_memory_custom.json")
    out = args.out or RESULTS_DIR / name
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "rnn_memory", "dtype": args.dtype, "repeat": args.repeat,
               "naive_budget_bytes": budget, "target_ratio": TARGET_RATIO, "threads": args.threads,
               "environment": env, "sizes": records}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
