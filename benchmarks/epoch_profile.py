"""Timing every part of a scratchnet training epoch: each layer's forward and backward, the loss,
the optimizer step and the rest (input checks, batch gather, the loop), over whole epochs.

Each part is timed by wrapping the bound method of that one object with two ``perf_counter``
calls (about 0.1 us each, a few thousand calls an epoch); nothing else changes.
``benchmarks.profile_mlp`` and ``benchmarks.profile_cnn`` use it with their benchmark's model.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from benchmarks.machine import limit_threads, machine_info


def timed(fn: Callable, name: str, totals: dict[str, float]) -> Callable:
    """``fn``, adding the seconds each call takes to ``totals[name]``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start

    return wrapper


def profile_epochs(model, X, y, warm_up: tuple, epochs: int, threads: int,
                   labels: Callable) -> dict:
    """``model.partial_fit(*warm_up)`` once (it builds the network, the trainer and Adam), then
    ``epochs`` timed ``partial_fit(X, y)`` epochs; ``labels(net)`` names each layer. Returns the
    machine, the sizes and the seconds of every part in every epoch."""
    per_epoch: list[dict[str, float]] = []
    with limit_threads(threads):
        model.partial_fit(*warm_up)
        trainer = model.trainer_
        totals: dict[str, float] = defaultdict(float)
        for layer, label in labels(model.network_):
            layer.forward = timed(layer.forward, f"{label} forward", totals)
            layer.backward = timed(layer.backward, f"{label} backward", totals)
        trainer.loss.forward = timed(trainer.loss.forward, "loss forward", totals)
        trainer.loss.backward = timed(trainer.loss.backward, "loss backward", totals)
        trainer.optimizer.step = timed(trainer.optimizer.step, "optimizer step (Adam)", totals)
        for _ in range(epochs):
            totals.clear()
            start = time.perf_counter()
            model.partial_fit(X, y)
            wall = time.perf_counter() - start
            parts = dict(totals)
            parts["rest (input checks, batch gather, argmax, loop)"] = wall - sum(parts.values())
            parts["epoch"] = wall
            per_epoch.append(parts)
    names = list(per_epoch[0])
    return {
        "machine": machine_info(threads),
        "n_train": X.shape[0],
        "epochs": epochs,
        "seconds": {name: [p[name] for p in per_epoch] for name in names},
    }


def report(results: dict) -> str:
    seconds = results["seconds"]
    epoch = seconds["epoch"]
    threads = results["machine"]["threads"]
    lines = [
        f"{results['epochs']} epoch(s) of {results['n_train']:,} images, {threads} "
        f"thread(s): epoch {min(epoch):.2f}-{max(epoch):.2f} s",
        "",
        "| part | s per epoch (median) | share of the epoch |",
        "|---|---:|---:|",
    ]
    for name, values in seconds.items():
        if name == "epoch":
            continue
        shares = [v / e for v, e in zip(values, epoch, strict=True)]
        low, high = round(100 * min(shares)), round(100 * max(shares))
        span = f"{low}%" if low == high else f"{low}–{high}%"
        lines.append(f"| {name} | {np.median(values):.3f} | {span} |")
    return "\n".join(lines)
