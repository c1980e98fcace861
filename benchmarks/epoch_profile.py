"""Timing every part of a scratchnet training epoch: each layer's forward and backward, the loss,
the optimizer step and the rest (input checks, batch gather, the loop), over whole epochs.

Each part is timed by wrapping the bound method of that one object with two ``perf_counter``
calls (about 0.1 us each, a few thousand calls an epoch); nothing else changes.
``benchmarks.profile_mlp`` and ``benchmarks.profile_cnn`` use it with their benchmark's model.
"""

from __future__ import annotations

import argparse
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


def profile_main(argv, prog: str, doc: str, profile: Callable, epochs: int,
                 n_train: int | None) -> int:
    """The command line of a profiler: ``profile(epochs, threads, n_train, synthetic=,
    data_dir=)``, its table printed and, with ``--json``, written."""
    from benchmarks.report import write_json

    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=epochs, help=f"timed epochs (default {epochs})")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    p.add_argument("--n-train", type=int, default=n_train,
                   help=f"use the first N training images (default {n_train or 'all'})")
    p.add_argument("--synthetic", action="store_true", help="random images instead of the data")
    p.add_argument("--data-dir", help="directory holding the Fashion-MNIST files")
    p.add_argument("--json", metavar="PATH", help="also write the timings to PATH")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.threads < 1 or (args.n_train is not None and args.n_train < 1):
        p.error("--epochs, --threads and --n-train must be at least 1")
    results = profile(
        args.epochs, args.threads, args.n_train, synthetic=args.synthetic, data_dir=args.data_dir
    )
    print(report(results))
    if args.json:
        write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0
