"""Timers, and the interleaving that keeps a comparison of libraries fair on a shared machine.

A benchmark builds one *runner* per library (see :class:`Runner`) and hands them to
:func:`run_interleaved`, which trains epoch 1 of every library, then epoch 2 of every library,
and so on, in one process under one thread limit. On a shared machine a slow minute then slows
every library alike, so the ratios stay fair even when the absolute times are noisy. Inference
is timed the same way, the libraries taking turns call by call (:func:`interleaved_medians`,
:func:`interleaved_latencies`).

Shapes: ``X`` is ``(n_samples, n_features)`` float32; ``y`` is ``(n_samples,)`` int64;
``predict_proba`` returns ``(n_samples, n_classes)``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from benchmarks.report import LABELS


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


def call_seconds(
    fn: Callable[[], object], repeats: int, number: int = 1, warmup: int = 1
) -> list[float]:
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


def interleaved_latencies(
    fns: dict[str, Callable[[np.ndarray], object]], X: np.ndarray, calls: int
) -> dict[str, float]:
    """Median seconds of each ``fns[name]`` on a single row ``X[i:i+1]`` of shape ``(1, D)``,
    over ``calls`` different rows, the libraries taking turns row by row."""
    for fn in fns.values():
        fn(X[:1])
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(max(1, calls)):
        row = X[i % X.shape[0] : i % X.shape[0] + 1]  # (1, D)
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(row)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def run_interleaved(
    runners: Sequence[Runner],
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    log: Callable[[str], None] = print,
) -> dict[str, list[float]]:
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
        log(
            f"epoch {epoch + 1}/{epochs}: "
            + ", ".join(
                f"{LABELS.get(r.name, r.name)} {seconds[r.name][-1]:.2f} s" for r in runners
            )
        )
    return seconds
