"""``y = a * x + b * y`` in one pass over memory, for the optimizers.

An optimizer step is a chain of element-wise updates over every parameter, and with a few
hundred thousand parameters each pass streams megabytes through the cache. NumPy has no fused
multiply-add: ``y *= b; y += a * x`` reads and writes ``y`` twice and needs a scratch array for
``a * x``. The BLAS routine ``axpby`` (and ``axpy`` when ``b == 1``) does it in one pass, on the
threads of the OpenBLAS that NumPy already runs its matrix products on.

``axpby`` calls NumPy's own OpenBLAS through ``ctypes``. Where that library or its symbol cannot
be found (NumPy built on another BLAS), or the arrays do not suit it (not contiguous, not
float32/float64, different dtypes), it runs the same update as NumPy operations. Both paths
compute ``a * x + b * y``; they can differ in the last bit, as BLAS kernels use fused
multiply-adds. Reference: http://www.openmathlib.org/OpenBLAS/docs/extensions/ (``?axpby``).

The same library's thread pool is read and resized by :func:`get_threads` and
:func:`set_threads`, and :class:`ThreadChooser` picks its size from the cores other programs
leave free (see its docstring for why).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from functools import cache
from pathlib import Path

import numpy as np

from scratchnet.nn.callbacks import Callback

# How OpenBLAS builds name their symbols (prefix, suffix), most specific first:
# NumPy's wheels use scipy-openblas64 ("scipy_cblas_saxpby64_"); system builds use the plain name.
_AFFIXES = (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", ""))
_BLAS_DTYPES = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


def _blas_config() -> dict:
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # an old or unusual NumPy build: no BLAS routines, the NumPy path is used
        return {}


def _library_candidates(config: dict) -> list[Path | str]:
    """Files that may hold the OpenBLAS NumPy was built against: the copy a wheel bundles next
    to the package (``numpy.libs`` on Linux and Windows, ``numpy/.dylibs`` on macOS), then the
    system's ``libopenblas``."""
    package = Path(np.__file__).parent
    found: list[Path | str] = []
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        found += sorted(folder.glob("*openblas*")) if folder.is_dir() else []
    system = ctypes.util.find_library(config.get("name", "openblas"))
    if system:
        found.append(system)
    return found


@cache
def _thread_routines() -> tuple | None:
    """``(get_num_threads, set_num_threads)`` of NumPy's OpenBLAS, or ``None``."""
    config = _blas_config()
    if "openblas" not in str(config.get("name", "")).lower():
        return None
    loaded_only = getattr(os, "RTLD_NOLOAD", 0)  # never a second OpenBLAS (see _routines)
    for candidate in _library_candidates(config):
        try:
            lib = ctypes.CDLL(str(candidate), mode=loaded_only)
        except OSError:
            continue
        for prefix, suffix in _AFFIXES:
            try:
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
                put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
            except AttributeError:
                continue
            get.restype, get.argtypes = ctypes.c_int, []
            put.restype, put.argtypes = None, [ctypes.c_int]
            return get, put
    return None


def get_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses for a product, or ``None`` when it cannot be read."""
    routines = _thread_routines()
    return int(routines[0]()) if routines else None


def set_threads(n: int) -> bool:
    """Resize NumPy's OpenBLAS thread pool to ``n`` threads; ``False`` when it cannot be
    reached (another BLAS), in which case nothing changes."""
    routines = _thread_routines()
    if not routines:
        return False
    routines[1](max(1, int(n)))
    return True


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _busy_jiffies() -> tuple[int, int] | None:
    """``(busy, total)`` CPU time of the whole machine in clock ticks, from ``/proc/stat``."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


class ThreadChooser(Callback):
    """Choose BLAS threads from the cores other programs leave free, once per epoch.

    As a training callback (``NNClassifier(...).fit(X, y, callbacks=[ThreadChooser()])``) it
    chooses when training begins and after every epoch, and puts the thread count it found
    back when training ends. :meth:`choose` can also be called directly.

    Why: OpenBLAS threads spin while they wait for each other, so two threads on two cores of
    which one is busy with another program make every product wait for the thread that got no
    core: beside a busy loop, an MLP epoch on two threads was measured at 3.13 s against
    0.95 s on one.

    :meth:`choose` compares the machine's CPU time (``/proc/stat``) with this process's own
    (``os.times``) since the previous call: ``others = (machine busy - ours) / wall`` cores
    were taken by other programs, so ``int(cpus - others + 0.25)`` threads (at least 1, at
    most ``max_threads``) are used next. The first call measures over ``window`` seconds while this
    process waits. Where ``/proc/stat`` cannot be read it keeps ``max_threads``.

    A product's result can change in the last bits with the number of threads, so a run is
    reproducible only where the same threads were chosen; fix the threads for bit-identical
    reruns.
    """

    def __init__(self, max_threads: int | None = None, window: float = 0.05) -> None:
        self.max_threads = max(1, int(max_threads or _usable_cpus()))
        self.window = float(window)
        self._last: tuple | None = None
        self.free_cpus: float | None = None
        self.chosen: list[int] = []  # every choice, in order
        self._before: int | None = None  # the thread count when training began

    def on_train_begin(self, trainer, history) -> None:
        self._before = get_threads()
        self.choose()

    def on_epoch_end(self, trainer, history) -> bool:
        self.choose()
        return False

    def on_train_end(self, trainer, history) -> None:
        if self._before is not None:
            set_threads(self._before)

    def _snapshot(self) -> tuple | None:
        stat = _busy_jiffies()
        if stat is None:
            return None
        t = os.times()
        return stat[0], stat[1], t.user + t.system, time.monotonic()

    def choose(self) -> int:
        """Threads for the next epoch (and sets them, see :func:`set_threads`)."""
        if self._last is None:
            self._last = self._snapshot()
            if self._last is not None:
                time.sleep(self.window)
        now = self._snapshot()
        threads = self.max_threads
        if now is not None and self._last is not None and now[1] > self._last[1]:
            cpus = _usable_cpus()
            busy_share = (now[0] - self._last[0]) / (now[1] - self._last[1])  # of all CPUs
            wall = max(now[3] - self._last[3], 1e-9)
            ours = (now[2] - self._last[2]) / wall  # cores this process used
            machine_cpus = os.cpu_count() or cpus
            others = max(0.0, busy_share * machine_cpus - ours)
            self.free_cpus = max(0.0, cpus - others)
            # A core counts as free when at least 3/4 of it is: a thread on a core shared with
            # another program stalls every product it takes part in.
            threads = max(1, min(self.max_threads, int(self.free_cpus + 0.25)))
        self._last = now
        set_threads(threads)
        self.chosen.append(threads)
        return threads


@cache
def _routines() -> dict[str, ctypes._CFuncPtr]:
    """``{"saxpby": f, "daxpby": f, "saxpy": f, "daxpy": f}`` from NumPy's OpenBLAS, or ``{}``."""
    config = _blas_config()
    if "openblas" not in str(config.get("name", "")).lower():
        return {}
    index = ctypes.c_int64 if "USE64BITINT" in str(config.get("openblas configuration", "")) \
        else ctypes.c_int
    # Only a library NumPy has already loaded: another OpenBLAS would start a second pool of
    # threads that fights NumPy's for the cores (measured: an MLP epoch 6x slower).
    loaded_only = getattr(os, "RTLD_NOLOAD", 0)
    for candidate in _library_candidates(config):
        try:
            lib = ctypes.CDLL(str(candidate), mode=loaded_only)
        except OSError:
            continue
        for prefix, suffix in _AFFIXES:
            try:
                found = {f"{t}{name}": getattr(lib, f"{prefix}cblas_{t}{name}{suffix}")
                         for t in "sd" for name in ("axpby", "axpy")}
            except AttributeError:
                continue
            for t, real in (("s", ctypes.c_float), ("d", ctypes.c_double)):
                found[f"{t}axpby"].argtypes = [index, real, ctypes.c_void_p, index, real,
                                               ctypes.c_void_p, index]
                found[f"{t}axpy"].argtypes = [index, real, ctypes.c_void_p, index,
                                              ctypes.c_void_p, index]
            for f in found.values():
                f.restype = None
            if _works(found):
                return found
    return {}


def _works(routines: dict) -> bool:
    """Check the routines on a small case before trusting them (a wrong integer width or a
    different library would show up here)."""
    for dtype in _BLAS_DTYPES:
        x = np.arange(1.0, 6.0, dtype=dtype)  # (5,)
        y = np.full(5, 2.0, dtype=dtype)  # (5,)
        t = _BLAS_DTYPES[dtype]
        routines[f"{t}axpby"](4, 3.0, x.ctypes.data, 1, 0.5, y.ctypes.data, 1)
        routines[f"{t}axpy"](2, -1.0, x.ctypes.data, 1, y.ctypes.data, 1)
        if not np.array_equal(y, np.array([3.0, 5.0, 10.0, 13.0, 2.0], dtype=dtype)):
            return False
    return True


def has_blas() -> bool:
    """True when ``axpby`` runs on NumPy's OpenBLAS rather than on NumPy operations."""
    return bool(_routines())


def _suits_blas(x: np.ndarray, y: np.ndarray) -> bool:
    return (x.dtype == y.dtype and x.dtype in _BLAS_DTYPES and x.size == y.size and x.size > 0
            and x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable
            and not np.shares_memory(x, y))


def axpby(a: float, x: np.ndarray, b: float, y: np.ndarray,
          scratch: np.ndarray | None = None) -> None:
    """Update ``y = a * x + b * y`` in place; ``x`` is left alone.

    Parameters
    ----------
    a, b : float
    x, y : ndarray of the same shape
    scratch : ndarray like ``x``, optional
        Where the NumPy path may put ``a * x`` (it may be ``x`` itself when the caller no longer
        needs it); without it that path allocates. The BLAS path never touches it.
    """
    a, b = float(a), float(b)  # a NumPy float64 scalar would make float32 passes run in float64
    routines = _routines()
    if routines and _suits_blas(x, y):
        t = _BLAS_DTYPES[x.dtype]
        if b == 1.0:
            routines[f"{t}axpy"](x.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
        else:
            routines[f"{t}axpby"](x.size, a, x.ctypes.data, 1, b, y.ctypes.data, 1)
        return
    if b != 1.0:
        y *= b
    if a == 1.0:
        y += x
    elif a == -1.0:
        y -= x
    else:
        y += np.multiply(x, a, out=scratch)
