"""Shared measurement helpers for the ricci benchmarks (stdlib + numpy only).

Meant to run inside a *fresh* child process per measurement, so that peak
memory figures are not polluted by earlier work in the same interpreter.

* ``peak_memory(fn)`` runs ``fn()`` once and returns

  - ``traced_peak_bytes``: tracemalloc peak during the call minus what was
    traced just before it (numpy registers its array buffers with
    tracemalloc, so this counts every array allocated by the call, including
    the returned result, but not memory that already existed, e.g. inputs);
  - ``rss_delta_bytes``: ``ru_maxrss`` after the call minus ``ru_maxrss``
    before it.  On Linux the RSS high-water mark is first reset to the
    current RSS (``/proc/self/clear_refs``), so the delta is the peak resident
    growth caused by the call; it is page-granular and also sees allocator /
    BLAS-buffer effects that tracemalloc does not.

* ``median_time(fn, repeat)`` returns the median seconds per call over
  ``repeat`` repeats, each repeat looping enough calls to last >= ~20 ms.
"""
from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import timeit
import tracemalloc
from datetime import datetime, timezone

# ru_maxrss is KiB on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def _reset_rss_peak() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn):
    """Run ``fn()`` once; return ``(result, info)`` with the peak-memory figures."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    rss_reset = _reset_rss_peak()
    rss_before = _maxrss_bytes()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    rss_after = _maxrss_bytes()
    if not was_tracing:
        tracemalloc.stop()
    info = {
        "traced_peak_bytes": max(0, peak - base),
        "rss_delta_bytes": max(0, rss_after - rss_before),
        "rss_peak_reset": rss_reset,
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
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "opt_einsum": oe_version,
        "ricci": ricci_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
