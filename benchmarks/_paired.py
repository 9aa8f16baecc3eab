"""Helpers shared by benchmarks/scaling.py and benchmarks/engine.py.

* ``pin_blas_threads()`` -- call it before numpy is imported: sets
  OMP/OPENBLAS/MKL_NUM_THREADS=1 (and XLA's single-thread flags) so every
  compared call runs on one core, then, once numpy is loaded,
  ``limit_threads()`` also applies threadpoolctl's limit when it is installed.
* ``blas_info()`` -- what BLAS numpy runs and with which settings, including
  the OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE variables this machine's image may
  set (they are left as they are; see the benchmarks README).
* ``paired(fns, ref)`` -- interleaved timing: each repetition times one block
  of calls of every function, alternating their order, and the ratio of each
  function to ``ref`` is formed *within* a repetition; the median of those
  paired ratios is what the scripts report (a burst of load from elsewhere
  hits both sides of a pair, so the ratio stays fair).
* ``ricci_runner(exprs, inputs)`` -- the path a user calls repeatedly:
  ``f = ricci.compile(exprs)`` then ``f(**inputs)`` where ``ricci.compile``
  exists, otherwise ``ricci.evaluate(exprs, inputs)``; says which it used.
* ``run_child(argv, timeout)`` -- run a child process that prints one
  ``@@RECORD {json}`` line per finished measurement; returns the records it
  printed even when it was stopped by the timeout or crashed, plus a status.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RECORD = "@@RECORD "


def pin_blas_threads(threads=1):
    """Set the thread variables (before numpy / jax are imported); returns what was set."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false"
                                       " intra_op_parallelism_threads=1").strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return {var: os.environ[var] for var in THREAD_VARS}


_LIMITER = None


def limit_threads(threads=1):
    """threadpoolctl's limit on top of the variables, when threadpoolctl is installed."""
    global _LIMITER
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    _LIMITER = threadpool_limits(limits=threads)
    return True


def blas_info():
    """BLAS libraries and thread counts as threadpoolctl sees them, and the OpenBLAS variables."""
    info = {
        "thread_env": {var: os.environ.get(var) for var in THREAD_VARS},
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "openblas_note": ("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set by this machine's image on some "
                          "processors (older OpenBLAS builds misbehave there) and slow a current numpy; "
                          "left as they are: ricci and the numpy references run under the same setting"),
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture",
                                   "threading_layer", "filepath")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


def blas_line(info):
    pools = info.get("threadpools")
    if isinstance(pools, list):
        desc = "; ".join(f"{p['internal_api']} {p.get('version')} {p.get('architecture') or ''} "
                         f"{p['num_threads']} thread(s)".replace("  ", " ") for p in pools)
    else:
        desc = str(pools)
    return (f"BLAS: {desc or 'none found'}; OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']}, "
            f"OPENBLAS_L2_SIZE={info['OPENBLAS_L2_SIZE']} (left as set)")


# --------------------------------------------------------------------------- timing


def _block(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def calibrate(fn, block_s):
    """Calls per block so that one block lasts about ``block_s`` seconds (at least one call)."""
    t = _block(fn, 1)
    number = 1
    while t * number < block_s and number < 100_000:
        number = min(100_000, max(number * 2, int(block_s / max(t, 1e-9)) + 1))
        t = _block(fn, number)
        if t * number >= block_s:
            break
    return number


def _quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def paired(fns, ref, repeats=21, block_s=0.01, warmup=1):
    """Interleaved timing of ``fns`` (name -> zero-argument callable) against ``fns[ref]``.

    Returns ``{name: {"median_s", "min_s", "number", "times_s"}, ..., "ratios": {name: {...}}}``
    where each ratio entry holds the median (and quartiles) of the per-repetition ratios
    name / ref.
    """
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    numbers = {n: calibrate(fns[n], block_s) for n in names}
    samples = {n: [] for n in names}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            order = names if r % 2 == 0 else names[::-1]
            for n in order:
                samples[n].append(_block(fns[n], numbers[n]))
    finally:
        if was_enabled:
            gc.enable()
    out = {n: {"median_s": statistics.median(s), "min_s": min(s), "number": numbers[n], "times_s": s}
           for n, s in samples.items()}
    out["ratios"] = {}
    for n in names:
        if n == ref:
            continue
        rs = [a / b for a, b in zip(samples[n], samples[ref])]
        out["ratios"][n] = {"median": statistics.median(rs), "q25": _quantile(rs, 0.25),
                            "q75": _quantile(rs, 0.75), "repeats": len(rs)}
    return out


def steady_time(fn, repeats=7, block_s=0.01):
    """Median seconds per call of ``fn`` (after one warm call)."""
    fn()
    number = calibrate(fn, block_s)
    ts = [_block(fn, number) for _ in range(repeats)]
    return statistics.median(ts), min(ts), number


# --------------------------------------------------------------------------- ricci's user path


def ricci_runner(exprs, inputs):
    """``(call, how)``: a zero-argument callable evaluating ``exprs`` the way a user repeats it."""
    import ricci

    compile_ = getattr(ricci, "compile", None)
    if compile_ is not None:
        f = compile_(exprs)

        def call():
            return f(**inputs)

        call.compiled = f
        return call, "ricci.compile(exprs) then f(**inputs)"
    return (lambda: ricci.evaluate(exprs, inputs)), "ricci.evaluate(exprs, inputs) (no ricci.compile yet)"


def program_stats(call):
    """Size of the compiled program behind ``call`` (after its first call), or None."""
    f = getattr(call, "compiled", None)
    try:
        src = getattr(f, "source", None)
    except Exception:
        src = None
    if not isinstance(src, str):
        return None
    lines = [ln.strip() for ln in src.splitlines()]
    steps = [ln for ln in lines if " = " in ln and not ln.startswith(("def ", "#", "del "))]
    return {"lines": len(lines), "steps": len(steps),
            "matmuls": sum(" @ " in ln for ln in steps),
            "einsums": sum("einsum(" in ln for ln in steps)}


def ricci_mode():
    import ricci

    return "compile" if getattr(ricci, "compile", None) is not None else "evaluate"


# --------------------------------------------------------------------------- child processes


def emit(record):
    """Print one record for the parent (see run_child)."""
    print(RECORD + json.dumps(record), flush=True)


def run_child(argv, timeout, echo=True):
    """Run ``python argv`` from the repository root; returns ``(records, status)``.

    ``status`` is "ok", "timeout after N s" or "exit N: <last stderr line>"; records
    printed before a timeout or crash are kept.
    """
    cmd = [sys.executable, *argv]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=timeout)
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        status = "ok" if code == 0 else None
    except subprocess.TimeoutExpired as exc:
        def _text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        stdout, stderr, code = _text(exc.stdout), _text(exc.stderr), None
        status = f"timeout after {timeout:g} s"
    records = []
    for line in stdout.splitlines():
        if line.startswith(RECORD):
            records.append(json.loads(line[len(RECORD):]))
        elif echo and line.strip():
            print("   " + line, flush=True)
    if status is None:
        tail = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        status = f"exit {code}: {tail[-1] if tail else 'no message'}"
        if echo:
            print("   child stderr:\n" + "\n".join("     " + ln for ln in tail[-8:]), flush=True)
    return records, status, time.perf_counter() - t0


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def print_load():
    load = loadavg()
    if load and load[0] > 1.0:
        print(f"note: 1-minute load average {load[0]:.2f} at the start: other processes share the CPUs, so"
              " absolute times are noisy; the paired ratios are less affected", flush=True)


def verdict(met):
    return "n/a" if met is None else ("met" if met else "MISSED")


def peak_rss_bytes():
    """Peak resident set size of this process so far (VmHWM)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
