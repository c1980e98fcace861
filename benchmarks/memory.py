"""The memory a library needs: peak resident set of a piece of work, measured in a fresh process
so that no other library's allocations (or their allocator caches) are counted.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any


def _status_kib(field: str) -> float | None:
    with contextlib.suppress(OSError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS; False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def measure_peak_rss(work: Callable[[], object]) -> dict:
    """Run ``work()`` here and report the resident set before it and its peak during it, MiB.

    Linux: the peak mark is reset just before ``work`` and read as ``VmHWM`` after it, so
    ``growth_mib`` is what ``work`` itself (weights, optimizer state, activations, allocator
    caches) added on top of ``baseline_mib`` (interpreter, imported libraries, loaded data).
    Elsewhere the peak is ``ru_maxrss``, which also counts everything before ``work``.
    """
    gc.collect()
    baseline = _status_kib("VmRSS")
    exact = baseline is not None and reset_peak_rss()
    work()
    if exact:
        peak, method = _status_kib("VmHWM"), "VmHWM reset before training (Linux clear_refs)"
    else:
        import resource

        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        baseline = baseline if baseline is not None else 0.0
        method = "ru_maxrss: peak since the process started, imports and data included"
    return {
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "growth_mib": (peak - baseline) / 1024,
        "method": method,
    }


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new *spawned* interpreter, so its memory is its own (a fork would
    share, and count, the parent's pages); returns what it returns."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()
