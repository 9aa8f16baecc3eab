"""Shared measurement helpers for the ricci benchmarks (stdlib + numpy only).

Meant to run inside a *fresh* child process per measurement, so that peak
memory figures are not polluted by earlier work in the same interpreter.
Start such children with ``child_env(threads)`` as their environment.

* ``peak_memory(fn, warmup=1)`` calls ``fn()`` ``warmup`` times (compilation,
  plan caches, lazy library initialisation), then measures two more calls,
  one for each figure (tracemalloc's own bookkeeping would inflate the RSS):

  - ``traced_peak_bytes``: tracemalloc peak during the call minus what was
    traced just before it.  numpy registers its array buffers with
    tracemalloc, so for numpy-only code this counts every array the call
    allocates, including the returned result, but not memory that already
    existed (inputs).  It does NOT see memory that jax (XLA) or torch
    allocate in C++, which is why those use the next figure.
  - ``rss_delta_bytes``: the process's peak resident set size (``VmHWM`` in
    /proc/self/status) during the call minus the resident size just before
    it.  The high-water mark is reset to the current RSS first
    (``/proc/self/clear_refs``).  Page-granular; sees every allocator.
    ``child_env(precise_rss=True)`` fixes glibc's mmap threshold so that
    large buffers are mapped on allocation and returned to the OS on free
    (otherwise glibc raises the threshold dynamically and a warm call may
    reuse, unseen, memory freed by an earlier call), and
    ``disable_numpy_hugepages`` stops numpy from rounding large arrays up to
    2 MiB huge pages.  Small buffers still come from already-resident heap
    memory, so the RSS delta of a small call can be 0.

* ``median_time(fn, repeat)`` returns the median seconds per call over
  ``repeat`` repeats, each repeat looping enough calls to last >= ~20 ms.
"""
from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import timeit
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# ru_maxrss is KiB on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MMAP_THRESHOLD = 64 * 1024


def child_env(threads=None, precise_rss=False):
    """Environment for a measurement child: optional thread cap, quiet XLA.

    ``precise_rss`` fixes glibc's mmap threshold (64 KiB) and trim threshold, so
    that large buffers are mapped on allocation and unmapped on free.  By default
    glibc raises the threshold dynamically (up to 32 MiB) once a large buffer is
    freed; later buffers then come from the heap, whose freed memory stays
    resident, and a warm call would reuse memory the RSS delta cannot see.  It
    also costs a page fault per page of every large buffer, so timing children
    run without it.
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # quiet XLA
    if precise_rss:
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
        env["MALLOC_TRIM_THRESHOLD_"] = str(2 * MMAP_THRESHOLD)
    if threads:  # must be fixed before numpy / jax / torch are imported
        for var in THREAD_VARS:
            env[var] = str(threads)
        if threads == 1:
            flags = env.get("XLA_FLAGS", "")
            env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false"
                                " intra_op_parallelism_threads=1").strip()
    return env


def disable_numpy_hugepages():
    """Stop numpy from madvise()-ing large arrays to 2 MiB transparent huge pages (RSS precision)."""
    try:
        import numpy as np

        setter = getattr(getattr(np, "_core", None) or np.core, "multiarray")._set_madvise_hugepage
        setter(False)
        return True
    except Exception:  # pragma: no cover - older/newer numpy: keep the default
        return False


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_bytes():
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def _hwm_bytes():
    """Peak RSS: VmHWM (resettable) where available, else ru_maxrss."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def _reset_rss_peak() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn, warmup=1):
    """Call ``fn()`` ``warmup`` times, then twice measured; return ``(result, info)``.

    The RSS figure comes from a call with tracemalloc off (its bookkeeping
    would add to the RSS), the traced figure from the call after it.
    """
    for _ in range(warmup):
        fn()
    gc.collect()
    rss_reset = _reset_rss_peak()
    rss_before = _rss_bytes() if rss_reset else None
    if rss_before is None:
        rss_before = _hwm_bytes()
    result = fn()
    rss_after = _hwm_bytes()
    del result
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    info = {
        "traced_peak_bytes": max(0, peak - base),
        "rss_delta_bytes": max(0, rss_after - rss_before),
        "rss_peak_reset": rss_reset,
        "warmup_calls": warmup,
    }
    return result, info


def median_time(fn, repeat: int, min_seconds: float = 0.02):
    """Median seconds per call of ``fn()`` (gc disabled during timing, as timeit does)."""
    timer = timeit.Timer(fn)
    number = 1
    while True:  # like Timer.autorange, but with a smaller target
        if timer.timeit(number) >= min_seconds or number >= 10_000:
            break
        number *= 10
    per_call = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(per_call), number, per_call


def _dist_version(name):
    """Installed version of a distribution, without importing it (jax/torch imports are slow)."""
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=str(ROOT), capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except Exception:
        return None


def environment() -> dict:
    """Versions and machine facts to store next to benchmark results."""
    import numpy

    try:
        import opt_einsum

        oe_version = opt_einsum.__version__
    except Exception:  # pragma: no cover - reported, not fatal
        oe_version = None
    try:
        import ricci

        ricci_version = getattr(ricci, "__version__", None)
    except Exception:  # pragma: no cover
        ricci_version = None
    dirty = _git("status", "--porcelain", "--", "ricci")
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opt_einsum": oe_version,
        "ricci": ricci_version,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "ricci_dirty": None if dirty is None else bool(dirty),
        "jax": _dist_version("jax"),
        "jaxlib": _dist_version("jaxlib"),
        "torch": _dist_version("torch"),
        "tensorgrad": _dist_version("tensorgrad"),
        "sympy": _dist_version("sympy"),
        "matplotlib": _dist_version("matplotlib"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def versions_line(env) -> str:
    """One line of library versions for the printed header."""
    keys = ("python", "numpy", "opt_einsum", "ricci", "jax", "jaxlib", "torch", "tensorgrad", "sympy")
    parts = [f"{k} {env.get(k) or 'not installed'}" for k in keys]
    commit = env.get("git_commit")
    if commit:
        parts.append(f"commit {commit}{' + uncommitted ricci/ changes' if env.get('ricci_dirty') else ''}")
    return ", ".join(parts) + f"; {env.get('cpu_count')} CPUs"
