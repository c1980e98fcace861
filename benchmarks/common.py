"""What every benchmark shares: facts about the machine and its libraries, one thread limit for
all of them, the standardised data, timers, the BLAS GEMM reference rate, a memory probe run in a
fresh process, the JSON file and the markdown table rendered from it.

A benchmark builds one *runner* per library (see :class:`Runner`) and hands them to
:func:`run_interleaved`, which trains epoch 1 of every library, then epoch 2 of every library,
and so on, in one process under one thread limit. On a shared machine a slow minute then slows
every library alike, so the ratios stay fair even when the absolute times are noisy.

Shapes: ``X`` is ``(n_samples, n_features)`` float32, standardised; ``y`` is ``(n_samples,)``
int64 labels ``0..n_classes-1``; ``predict_proba`` returns ``(n_samples, n_classes)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Environment variables that change which BLAS kernel runs or how many threads it uses. They are
# reported, never changed: the benchmark measures the machine as it is configured.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS")
LABELS = {"scratchnet": "scratchnet", "sklearn": "scikit-learn", "pytorch": "PyTorch"}


class Runner(Protocol):
    """One library's side of a benchmark.

    ``train_epoch`` runs one pass over ``(X, y)`` and keeps the weights *and the optimizer
    state* between calls; ``predict_proba`` maps a NumPy batch to NumPy probabilities through
    the library's public inference call; ``forward_raw`` (``None`` when the library has no
    public one) is the bare network forward without the estimator's input checks.
    """

    name: str

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    forward_raw: Callable[[np.ndarray], Any] | None


# --- the machine and its libraries -----------------------------------------------------------
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
    return (f"busy machine: load average {load[0]:.1f} on {cpus} CPUs before the run; the "
            f"{machine['threads']} benchmark thread(s) compete with other processes, so times "
            "are inflated (multi-threaded ones most) and vary from epoch to epoch")


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
    return {"internal_api": lib.get("internal_api"), "version": lib.get("version"),
            "architecture": lib.get("architecture"),
            "threading_layer": lib.get("threading_layer"),
            "file": os.path.basename(lib.get("filepath", ""))}


def library_versions(torch=None) -> dict:
    """Versions of Python, NumPy (and its BLAS), scikit-learn, scratchnet and PyTorch."""
    import sklearn
    import threadpoolctl

    import scratchnet

    out = {"python": platform.python_version(), "numpy": np.__version__, "blas": blas_info(),
           "scikit-learn": sklearn.__version__, "threadpoolctl": threadpoolctl.__version__,
           "scratchnet": scratchnet.__version__, "torch": None}
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


# --- data --------------------------------------------------------------------------------------
@dataclass
class Data:
    """Standardised float32 training and test sets and where they came from."""

    X_train: np.ndarray  # (N, D) float32
    y_train: np.ndarray  # (N,) int64
    X_test: np.ndarray  # (M, D) float32
    y_test: np.ndarray  # (M,) int64
    source: str


def standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(X - mean) / std`` with the training set's statistics, as float32.

    A feature that never varies in the training set keeps ``std = 1`` (no division by 0).
    """
    mean = X_train.mean(axis=0, dtype=np.float64)  # (D,)
    std = X_train.std(axis=0, dtype=np.float64)  # (D,)
    std[std == 0] = 1.0
    out = []
    for X in (X_train, X_test):
        Z = X.astype(np.float32)  # (N, D), one float32 copy, then in place
        Z -= mean.astype(np.float32)
        Z /= std.astype(np.float32)
        out.append(Z)
    return out[0], out[1]


def synthetic_images(n: int, rng: np.random.Generator, n_features: int = 784,
                     n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images drawn around one random prototype per class (learnable, unlike noise).

    The prototypes come from a fixed seed so training and test sets share them.
    """
    prototypes = np.random.default_rng(12345).integers(0, 256, (n_classes, n_features))
    y = rng.integers(0, n_classes, n)  # (n,)
    X = prototypes[y] + rng.normal(0.0, 60.0, (n, n_features))  # (n, D)
    return np.clip(X, 0, 255).astype(np.uint8), y.astype(np.int64)


def load_data(n_train: int | None = None, n_test: int | None = None, synthetic: bool = False,
              seed: int = 0, data_dir=None) -> Data:
    """Fashion-MNIST (or synthetic look-alikes), the first ``n_train``/``n_test`` samples,
    standardised with the training set's per-pixel mean and standard deviation."""
    if synthetic:
        rng = np.random.default_rng(seed)
        Xtr, ytr = synthetic_images(n_train or 60_000, rng)
        Xte, yte = synthetic_images(n_test or 10_000, rng)
        source = "synthetic"
    else:
        from scratchnet.app.datasets import find_data_dir, load_fashion_mnist

        Xtr, ytr = load_fashion_mnist("train", data_dir)
        Xte, yte = load_fashion_mnist("test", data_dir)
        source = f"Fashion-MNIST ({find_data_dir('train', data_dir)})"
    Xtr, ytr, Xte, yte = Xtr[:n_train], ytr[:n_train], Xte[:n_test], yte[:n_test]
    Xtr_std, Xte_std = standardise(Xtr, Xte)
    return Data(Xtr_std, np.ascontiguousarray(ytr), Xte_std, np.ascontiguousarray(yte), source)


# --- timing ------------------------------------------------------------------------------------
def call_seconds(fn: Callable[[], object], repeats: int, number: int = 1,
                 warmup: int = 1) -> list[float]:
    """``repeats`` measurements of the time of one call of ``fn``; each measurement runs it
    ``number`` times (so calls shorter than the timer's resolution still time well)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return times


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of one call of each ``fns[name]``, the calls taking turns (one warm-up
    call each first), so a busy moment on the machine hits every library alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def interleaved_latencies(fns: dict[str, Callable[[np.ndarray], object]], X: np.ndarray,
                          calls: int) -> dict[str, float]:
    """Median seconds of each ``fns[name]`` on a single row ``X[i:i+1]`` of shape ``(1, D)``,
    over ``calls`` different rows, the libraries taking turns row by row."""
    for fn in fns.values():
        fn(X[:1])
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(max(1, calls)):
        row = X[i % X.shape[0]:i % X.shape[0] + 1]  # (1, D)
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(row)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def run_interleaved(runners: Sequence[Runner], X: np.ndarray, y: np.ndarray, epochs: int,
                    log: Callable[[str], None] = print) -> dict[str, list[float]]:
    """Train every runner for ``epochs`` epochs, taking turns epoch by epoch; seconds per epoch.

    The order rotates each epoch so no library always runs first (cold caches, turbo budget).
    """
    seconds: dict[str, list[float]] = {r.name: [] for r in runners}
    for epoch in range(epochs):
        k = epoch % len(runners)
        for runner in list(runners[k:]) + list(runners[:k]):
            gc.collect()  # outside the timed region, so no library pays for another's garbage
            start = time.perf_counter()
            runner.train_epoch(X, y)
            seconds[runner.name].append(time.perf_counter() - start)
        log(f"epoch {epoch + 1}/{epochs}: " + ", ".join(
            f"{LABELS.get(r.name, r.name)} {seconds[r.name][-1]:.2f} s" for r in runners))
    return seconds


# --- GEMM reference ----------------------------------------------------------------------------
def matmul_gflops(pairs: Sequence[tuple[np.ndarray, np.ndarray]], repeats: int,
                  number: int = 1) -> float:
    """GFLOP/s of computing ``a @ b`` for every pair in turn (``2*m*k*n`` FLOPs each), from the
    *fastest* of ``repeats`` measurements: a reference rate says what the BLAS can do, and other
    work on the machine only ever slows it down. Outputs are preallocated, so only the BLAS
    calls are timed."""
    outs = [np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b)) for a, b in pairs]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)

    def run() -> None:
        for (a, b), out in zip(pairs, outs, strict=True):
            np.matmul(a, b, out=out)

    return flops / min(call_seconds(run, repeats, number=number)) / 1e9


def square_gemm_gflops(n: int, repeats: int, dtype=np.float32, seed: int = 0) -> float:
    """GFLOP/s of one ``(n, n) @ (n, n)`` product, the best of ``repeats``: the machine's BLAS
    peak for ``dtype`` under the current thread limit."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    b = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    return matmul_gflops([(a, b)], repeats)


# --- memory ------------------------------------------------------------------------------------
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
    return {"baseline_mib": baseline / 1024, "peak_mib": peak / 1024,
            "growth_mib": (peak - baseline) / 1024, "method": method}


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new *spawned* interpreter, so its memory is its own (a fork would
    share, and count, the parent's pages); returns what it returns."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --- results -----------------------------------------------------------------------------------
def write_json(path: str | os.PathLike, results: dict) -> None:
    """Write ``results`` as indented JSON (atomically), creating the parent directory."""
    from scratchnet.estimator.atomic import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """The results a benchmark wrote with :func:`write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _fmt(value, spec: str, missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def render_table(results: dict) -> str:
    """The README's markdown table: one row per library, then the ratios and the setup."""
    rows = [
        "| library | epoch, median (s) | test accuracy | inference (images/s) "
        "| latency, 1 image (ms) | bare forward, 1 image (ms) | memory growth (MiB) "
        "| process peak (MiB) | share of GEMM peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, lib in results["libraries"].items():
        mem = lib.get("memory") or {}
        rows.append(
            f"| {LABELS.get(name, name)} | {lib['median_epoch_seconds']:.2f} "
            f"| {lib['test_accuracy']:.4f} | {lib['inference_images_per_second']:,.0f} "
            f"| {lib['latency_ms']:.3f} | {_fmt(lib.get('latency_raw_ms'), '.3f')} "
            f"| {_fmt(mem.get('growth_mib'), '.0f')} | {_fmt(mem.get('peak_mib'), '.0f')} "
            f"| {_fmt(lib.get('share_of_gemm_peak'), '.1%')} |")
    lines = ["\n".join(rows), ""]
    for pair, r in results.get("ratios", {}).items():
        a, b = (LABELS.get(p, p) for p in pair.split("/"))
        lines.append(f"- {a} / {b}: epoch time ×{r['epoch_time']:.2f} (paired by epoch "
                     f"×{r['epoch_time_paired']:.2f}), inference throughput "
                     f"×{r['inference_throughput']:.2f}")
    lines.append("")
    lines.append(setup_line(results))
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines)


def setup_line(results: dict) -> str:
    """One sentence naming the model, the data, the machine, the date and the versions."""
    c, m, v = results["config"], results["machine"], results["versions"]
    blas = v["blas"]
    blas_txt = f"{blas.get('internal_api')} {blas.get('version')}, " \
               f"{blas.get('architecture')} kernels"
    torch_txt = f", PyTorch {v['torch']}" if v.get("torch") else ""
    gemm = results.get("gemm", {})
    gemm_txt = f"; float32 GEMM peak {gemm['peak_gflops']:.0f} GFLOP/s" if gemm else ""
    return (f"{c['model']}; {c['data']} ({c['n_train']:,} train / {c['n_test']:,} test), "
            f"{c['epochs']} epoch(s), {c['threads']} thread(s). {m['cpu']} "
            f"({m['logical_cpus']} logical CPUs){gemm_txt}; {m['date'][:10]}. "
            f"Python {v['python']}, NumPy {v['numpy']} ({blas_txt}), "
            f"scikit-learn {v['scikit-learn']}{torch_txt}.")


def config_from_args(config_cls, args, quick: dict):
    """Build ``config_cls`` from parsed options: options given > ``--quick``'s values >
    the dataclass's defaults."""
    fields = {}
    for f in dataclasses.fields(config_cls):
        value = getattr(args, f.name, None)
        if value is None and args.quick and f.name in quick:
            value = quick[f.name]
        if value is not None:
            fields[f.name] = value
    return config_cls(**fields)


def run_and_report(run: Callable[..., dict], cfg, args, report: Callable[[dict], str]) -> int:
    """The end of every benchmark's ``main``: run with PyTorch unless ``--no-torch`` (or absent),
    print ``report(results)``, write ``--json``. Exit status 2 with one line when the data is
    missing."""
    from scratchnet.app.datasets import DatasetError

    torch, note = import_torch(disabled=args.no_torch)
    if note:
        print(note)
    try:
        results = run(cfg, torch, notes=[note] if note else [])
    except DatasetError as exc:
        print(f"error: {exc} (or pass --synthetic)", file=sys.stderr)
        return 2
    print()
    print(report(results))
    write_json(args.json, results)
    print(f"\nwrote {args.json}")
    return 0
