"""Facts about the machine and its libraries, and one thread limit for all of them.

A benchmark records where it ran (:func:`machine_info`, :func:`library_versions`), warns when
other processes already keep the CPUs busy (:func:`busy_warning`), and runs every library under
the same cap on BLAS, OpenMP and PyTorch threads (:func:`limit_threads`). PyTorch is optional:
:func:`import_torch` says why it is left out instead of failing. :func:`busy_neighbour` starts
another program that keeps one core busy, for the benchmarks' ``--busy`` case.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np

# Environment variables that change which BLAS kernel runs or how many threads it uses. They are
# reported, never changed: the benchmark measures the machine as it is configured.
BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def cpu_model() -> str:
    """The CPU's ``model name`` from ``/proc/cpuinfo`` (what ``platform`` says elsewhere)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def physical_cores() -> int | None:
    """Distinct ``(physical id, core id)`` pairs in ``/proc/cpuinfo``; ``None`` if unknown."""
    cores, phys = set(), "0"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                phys = value.strip()
            elif key.strip() == "core id":
                cores.add((phys, value.strip()))
    return len(cores) or None


def machine_info(threads: int) -> dict:
    """CPU, core counts, the thread limit used, platform, UTC date and BLAS environment."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "threads": threads,
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "blas_environment": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def busy_warning(machine: dict) -> str | None:
    """A warning when other processes already keep the CPUs busy (1-minute load average, read
    before the benchmark starts), since then the benchmark's threads wait for CPUs: OpenBLAS
    and OpenMP split every product across the threads and each call waits for its slowest one.
    """
    load, cpus = machine.get("load_average"), machine.get("usable_cpus")
    if not load or not cpus or load[0] + machine["threads"] <= cpus + 0.5:
        return None
    return (
        f"busy machine: load average {load[0]:.1f} on {cpus} CPUs before the run; the "
        f"{machine['threads']} benchmark thread(s) compete with other processes, so times "
        "are inflated (multi-threaded ones most) and vary from epoch to epoch"
    )


def blas_info() -> dict:
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel ('architecture')."""
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    # scipy (pulled in by scikit-learn) may load a second BLAS; NumPy's is the one that runs
    # scratchnet's and scikit-learn's matrix products.
    ours = [lib for lib in blas if "numpy" in lib.get("filepath", "")] or blas
    if not ours:
        return {"internal_api": "unknown"}
    lib = ours[0]
    return {
        "internal_api": lib.get("internal_api"),
        "version": lib.get("version"),
        "architecture": lib.get("architecture"),
        "threading_layer": lib.get("threading_layer"),
        "file": os.path.basename(lib.get("filepath", "")),
    }


def library_versions(torch=None) -> dict:
    """Versions of Python, NumPy (and its BLAS), scikit-learn, scratchnet and PyTorch."""
    import sklearn
    import threadpoolctl

    import scratchnet

    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "scikit-learn": sklearn.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "scratchnet": scratchnet.__version__,
        "torch": None,
    }
    if torch is not None:
        out["torch"] = torch.__version__
        out["torch_mkl"] = bool(torch.backends.mkl.is_available())
        out["torch_mkldnn"] = bool(torch.backends.mkldnn.is_available())
    return out


def import_torch(disabled: bool = False):
    """``(torch, None)``, or ``(None, why)`` when it is disabled or cannot be imported."""
    if disabled:
        return None, "PyTorch skipped (--no-torch)"
    try:
        import torch
    except ImportError as exc:
        return None, f"PyTorch skipped: cannot import torch ({exc})"
    return torch, None


@contextlib.contextmanager
def limit_threads(threads: int, torch=None) -> Iterator[None]:
    """Cap every BLAS and OpenMP pool (threadpoolctl) and PyTorch's intra-op pool at
    ``threads``, restoring them afterwards."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


# The neighbour: a plain Python busy loop that stops by itself after its time limit, so a
# benchmark that dies without cleaning up leaves nothing spinning for long.
_BUSY_LOOP = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end: pass\n"
BUSY_NOTE = (
    "busy neighbour: another process (a Python busy loop) kept one core busy while the "
    "libraries were timed"
)


@contextlib.contextmanager
def busy_neighbour(enabled: bool = True, limit_s: float = 3600.0) -> Iterator[None]:
    """Run the block beside another process that keeps one core busy (at most ``limit_s``
    seconds; it is killed when the block ends). ``enabled=False`` runs the block alone."""
    if not enabled:
        yield
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUSY_LOOP.format(limit=float(limit_s))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.2)  # let it start spinning before anything is timed
        yield
    finally:
        proc.kill()
        proc.wait()
