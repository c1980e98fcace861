"""Fuzzing the two loaders of untrusted files: model directories and IDX data files.

``python -m benchmarks.fuzz --cases 10000`` mutates a valid model directory and valid IDX files
``--cases`` times each (JSON values replaced, keys deleted, truncations, bit flips, forged
safetensors and IDX headers, non-finite weights with a consistent hash, gzip bombs, FIFOs,
directories and ``/dev/zero`` in place of a file), loads each in this process, and counts the
outcomes: a clean error (``ModelFileError`` / ``DatasetError``), accepted and valid (the model
predicts finite probabilities; the array has the declared shape), anything else (must be 0),
hangs (a case that runs past ``--timeout`` seconds, interrupted by ``SIGALRM``), the slowest case
and the peak RSS. The address space is capped (``RLIMIT_AS``) so a memory blow-up shows as a
``MemoryError`` (counted as "anything else") instead of swapping.

The mutators (:mod:`benchmarks.fuzz_cases`) and the outcome checks and limits here are shared
with the property-based tests (``tests/estimator/test_model_schema.py``,
``tests/app/test_datasets.py``), which draw the mutations with hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.fuzz_cases import (
    mutate_idx,
    mutate_model,
    template_idx,
    template_model_dir,
    write_idx_case,
    write_model_case,
)


# --- running something under a memory cap -------------------------------------------------
def address_space_mb() -> float:
    """This process's virtual memory size (VmSize), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) / 1024
    return 0.0


def limit_memory(extra_mb: float) -> None:
    """Cap the address space at its current size plus ``extra_mb``: a blow-up becomes a
    ``MemoryError`` instead of swapping the machine."""
    cap = int((address_space_mb() + extra_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@contextlib.contextmanager
def memory_cap(extra_mb: float = 1024.0):
    """Lower the *soft* address-space limit to the current size plus ``extra_mb`` for the block,
    then restore it: an in-process case that tries to allocate gigabytes gets ``MemoryError``
    instead of swapping the machine or waking the OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int((address_space_mb() + extra_mb) * 2**20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_limited(code: str, timeout: float = 60.0, extra_mb: float = 768.0):
    """Run Python ``code`` in a child process under ``limit_memory(extra_mb)``, one BLAS thread,
    and a wall-clock ``timeout``; return the ``CompletedProcess`` (``returncode`` None on a
    timeout)."""
    prelude = (
        "import numpy, scratchnet.estimator.model_dir, scratchnet.app.datasets\n"
        "from benchmarks.fuzz import limit_memory\n"
        f"limit_memory({extra_mb})\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=_pythonpath())
    try:
        return subprocess.run(
            [sys.executable, "-c", prelude + code],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, None, exc.stdout or "", exc.stderr or "")


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[1])
    return os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )


class Hang(Exception):
    """A case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in this (main) thread if the block runs past ``seconds``; a blocking
    ``open`` of a FIFO is interrupted too (the handler raises, so Python does not retry)."""

    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- outcomes ---------------------------------------------------------------------------------
def model_outcome(directory) -> str:
    """``"clean"`` (ModelFileError), ``"valid"`` (loads and predicts finite probabilities), or
    ``"other: ..."`` for anything else."""
    from scratchnet.estimator.model_dir import ModelFileError, load_model

    try:
        model = load_model(directory)
    except ModelFileError as exc:
        if "\n" in str(exc):
            return f"other: multi-line message {str(exc)!r}"
        return "clean"
    except Exception as exc:  # noqa: BLE001 (the point is to catch anything)
        return f"other: {type(exc).__name__}: {str(exc)[:200]}"
    try:
        X = np.random.default_rng(0).integers(0, 256, size=(3, model.scaler.mean.shape[0]))
        proba = model.predict_proba(X)  # (3, C)
    except Exception as exc:  # noqa: BLE001
        return f"other: accepted, then predict raised {type(exc).__name__}: {str(exc)[:200]}"
    if (
        proba.shape != (3, len(model.class_names))
        or not np.isfinite(proba).all()
        or not np.allclose(proba.sum(axis=1), 1.0)
    ):
        return "other: accepted, but predicts non-finite or malformed probabilities"
    return "valid"


def idx_outcome(path) -> str:
    """``"clean"`` (DatasetError), ``"valid"`` (a uint8 array), or ``"other: ..."``."""
    from scratchnet.app.datasets import DatasetError, read_idx

    try:
        array = read_idx(path)
    except DatasetError as exc:
        return f"other: multi-line message {str(exc)!r}" if "\n" in str(exc) else "clean"
    except Exception as exc:  # noqa: BLE001
        return f"other: {type(exc).__name__}: {str(exc)[:200]}"
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 4:
        return f"other: accepted a {array.ndim}-d {array.dtype} array"
    return "valid"


# --- the benchmark ----------------------------------------------------------------------------
def run(cases: int, seed: int, timeout: float, log=print) -> dict:
    """Run ``cases`` model-directory cases and ``cases`` IDX cases; return the counts."""
    rng = random.Random(seed)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = template_model_dir(tmp / "template")
        case_dir = tmp / "case"
        case_dir.mkdir()

        def model_case():
            kind, text, blob = mutate_model(template, rng)
            write_model_case(case_dir, kind, text, blob)
            return kind, lambda: model_outcome(case_dir)

        idx_path = tmp / "data-idx"

        def idx_case():
            kind, data, compress = mutate_idx(template_idx(rng), rng)
            write_idx_case(idx_path, data, compress)
            return kind, lambda: idx_outcome(idx_path)

        for name, make in (("model directory", model_case), ("IDX", idx_case)):
            counts, others, slowest = Counter(), [], (0.0, "")
            start = time.perf_counter()
            for _ in range(cases):
                kind, check = make()
                t0 = time.perf_counter()
                try:
                    with time_limit(timeout):
                        outcome = check()
                except Hang:
                    outcome = "hang"
                dt = time.perf_counter() - t0
                slowest = max(slowest, (dt, kind))
                key = outcome if outcome in ("clean", "valid", "hang") else "other"
                counts[key] += 1
                if key == "other" and len(others) < 10:
                    others.append(f"{kind}: {outcome}")
            results[name] = {
                "cases": cases,
                "clean_errors": counts["clean"],
                "accepted_valid": counts["valid"],
                "other": counts["other"],
                "hangs": counts["hang"],
                "slowest_case_s": round(slowest[0], 4),
                "slowest_kind": slowest[1],
                "seconds": round(time.perf_counter() - start, 1),
                "examples_of_other": others,
            }
            r = results[name]
            log(
                f"{name}: {cases} cases: {r['clean_errors']} clean errors, "
                f"{r['accepted_valid']} accepted-valid, {r['other']} anything else, "
                f"{r['hangs']} hangs; slowest case {r['slowest_case_s'] * 1000:.1f} ms "
                f"({r['slowest_kind']}); {r['seconds']} s"
            )
            for line in others:
                log(f"  {line}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_rss_mb"] = round(peak, 1)
    log(f"peak RSS {peak:.0f} MB")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per loader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a hang")
    parser.add_argument(
        "--memory-mb",
        type=float,
        default=1024.0,
        help="address space allowed above the start-up size",
    )
    parser.add_argument("--json", default=None, help="also write the counts here")
    args = parser.parse_args(argv)
    import scratchnet.app.datasets  # noqa: F401  (loaded before the cap, as in real use)
    import scratchnet.estimator.model_dir  # noqa: F401

    limit_memory(args.memory_mb)
    results = run(args.cases, args.seed, args.timeout)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    bad = sum(results[k]["other"] + results[k]["hangs"] for k in ("model directory", "IDX"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
