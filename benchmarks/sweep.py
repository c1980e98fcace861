"""The same 8-candidate sweep on one process, 2 loky workers and a 2-worker Dask LocalCluster.

::

    python -m benchmarks.sweep --json docs/bench-sweep.json

For each backend it prints the wall time (start-up of the workers included, the data load not),
the speed-up over one process, and checks that every backend found the same fold scores. The
Dask overhead is given two ways: the round trip of one empty task through the cluster (the
fixed cost of a task), and the sweep's extra wall time over loky's with as many workers,
divided by the number of fits (what that cost amounts to in this sweep, start-up included).

Every worker runs BLAS on one thread, as ``scratchnet sweep`` does by default. On a machine
that other processes keep busy the speed-ups are lower than the machine can give; the JSON
records the load average before the run and prints a warning then.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks.machine import busy_warning, machine_info
from benchmarks.report import write_json
from scratchnet.app.datasets import load_fashion_mnist
from scratchnet.app.sweep.backends import open_backend
from scratchnet.app.sweep.config import parse_config
from scratchnet.app.sweep.results import result_rows
from scratchnet.app.sweep.run import run_sweep

# 2 x 2 x 2 = 8 candidates of the mlp preset's kind, 2 folds.
SWEEP = {
    "search": {"kind": "grid", "folds": 2, "seed": 0},
    "fixed": {
        "activation": "relu",
        "optimizer": "adam",
        "batch_size": 128,
        "lr_schedule": "cosine",
    },
    "params": {
        "learning_rate": [0.001, 0.003],
        "n_hidden_units": [[64], [128, 64]],
        "dropout": [0.0, 0.2],
    },
}


def _noop() -> None:
    return None


def task_round_trip(client, repeats: int = 50) -> float:
    """Median seconds for one empty task to go to a worker and back."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        client.submit(_noop, pure=False, key=f"noop-{i}").result()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(limit: int, epochs: int, workers: int, log=print) -> dict:
    doc = {**SWEEP, "fixed": {**SWEEP["fixed"], "epochs": epochs}}
    config = parse_config(doc, source="benchmarks/sweep.py")
    X, y = load_fashion_mnist("train")
    X, y = X[:limit], y[:limit]
    n_fits = config.n_total() * config.folds
    machine = machine_info(threads=workers)
    warning = busy_warning(machine)
    if warning:
        log(warning)
    log(
        f"{config.n_total()} candidates x {config.folds} folds = {n_fits} fits on {limit:,} "
        f"images, {epochs} epoch(s) each; {machine['cpu']}, {machine['usable_cpus']} CPU(s)"
    )
    backends = {
        "sequential": dict(workers=1),
        f"loky ({workers} workers)": dict(workers=workers),
        f"dask LocalCluster ({workers} workers)": dict(workers=workers, scheduler="local"),
    }
    results, scores = {}, {}
    for name, how in backends.items():
        start = time.perf_counter()
        with open_backend(blas_threads=1, log=lambda _: None, **how) as backend:
            ready = time.perf_counter()
            search = run_sweep(config, X, y, backend)
            done = time.perf_counter()
            round_trip = task_round_trip(backend.client) if backend.client else None
        rows = result_rows(search.cv_results_, search.failed_)
        scores[name] = [(r["params"], r["split_scores"]) for r in rows]
        results[name] = {
            "wall_seconds": done - start,
            "startup_seconds": ready - start,
            "refit_seconds": float(search.refit_time_),
            "sum_of_fit_seconds": float(sum(search.cv_results_["mean_fit_time"]) * config.folds),
            "best_score": rows[0]["mean_score"],
            "best_params": rows[0]["params"],
            "task_round_trip_ms": None if round_trip is None else round_trip * 1e3,
        }
    base = results["sequential"]["wall_seconds"]
    loky = results[f"loky ({workers} workers)"]["wall_seconds"]
    for r in results.values():
        r["speedup"] = base / r["wall_seconds"]
    dask = results[f"dask LocalCluster ({workers} workers)"]
    dask["overhead_per_fit_vs_loky_ms"] = (dask["wall_seconds"] - loky) / n_fits * 1e3
    same = all(s == scores["sequential"] for s in scores.values())
    return {
        "machine": machine,
        "busy_warning": warning,
        "limit": limit,
        "epochs": epochs,
        "workers": workers,
        "candidates": config.n_total(),
        "folds": config.folds,
        "fits": n_fits,
        "sweep": doc,
        "identical_scores": same,
        "backends": results,
    }


def report(res: dict) -> str:
    lines = [f"{'backend':<32} {'wall (s)':>9} {'start (s)':>9} {'speed-up':>9} {'best':>7}"]
    for name, r in res["backends"].items():
        lines.append(
            f"{name:<32} {r['wall_seconds']:9.1f} {r['startup_seconds']:9.1f} "
            f"{r['speedup']:8.2f}x {r['best_score']:7.4f}"
        )
    dask = next(r for n, r in res["backends"].items() if n.startswith("dask"))
    lines.append(
        f"Dask overhead: {dask['task_round_trip_ms']:.1f} ms round trip per empty task; "
        f"{dask['overhead_per_fit_vs_loky_ms']:.0f} ms per fit over loky in this sweep "
        "(start-up included)"
    )
    lines.append(
        "identical fold scores on every backend: " + ("yes" if res["identical_scores"] else "NO")
    )
    if res["busy_warning"]:
        lines.append(f"note: {res['busy_warning']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.sweep", description=__doc__.split("\n")[0]
    )
    p.add_argument("--limit", type=int, default=20000, help="training images (default 20000)")
    p.add_argument("--epochs", type=int, default=5, help="epochs per fit (default 5)")
    p.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the results here")
    args = p.parse_args(argv)
    res = run(args.limit, args.epochs, args.workers)
    print(report(res))
    if args.json:
        write_json(args.json, res)
        print(f"results written to {args.json}")
    return 0 if res["identical_scores"] else 1


if __name__ == "__main__":  # the guard matters: Dask and loky start worker processes
    sys.exit(main())
