"""Benchmark: training epochs on an idle machine and beside a busy neighbour, side by side.

OpenBLAS and PyTorch split every product across their threads, and each product waits for its
slowest thread; when another program keeps one of two cores busy, the second thread gets a
core only part of the time and the whole epoch slows down several times. scratchnet's answer
is :class:`scratchnet.nn.blas.ThreadChooser`, which picks the BLAS threads before each epoch
from the cores other programs leave free ("auto" below).

Contenders, each a fresh model trained ``--epochs`` epochs, taking turns epoch by epoch:
scratchnet with 1, 2 and "auto" BLAS threads, PyTorch with 1 and 2 threads. Phase 1 runs them
on the machine as it is ("idle"), phase 2 beside a Python busy loop in another process
("busy", stopped when the phase ends). The goal: scratchnet "auto" beside the neighbour no
slower than 1.5x its idle one-thread epoch.

    python -m benchmarks.busy                        # the MLP, 3 epochs each, all images
    python -m benchmarks.busy --model cnn --n-train 6000
    python -m benchmarks.busy --quick                # smoke test
    python -m benchmarks.busy --json docs/bench-busy.json
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from benchmarks.data import load_data
from benchmarks.machine import (
    BUSY_NOTE,
    busy_neighbour,
    busy_warning,
    import_torch,
    library_versions,
    machine_info,
)
from benchmarks.report import write_json
from benchmarks.timing import run_interleaved

PHASES = ("idle", "busy")
QUICK = {"epochs": 1, "n_train": 512}


class Threaded:
    """A benchmark runner trained under a thread policy: a fixed count, or "auto" (scratchnet
    only: :class:`ThreadChooser` before every epoch, inside the timed epoch)."""

    def __init__(self, runner, threads, torch=None) -> None:
        from scratchnet.nn import blas

        self.runner, self.threads, self.torch, self.blas = runner, threads, torch, blas
        self.name = f"{runner.name}, {threads} thread{'' if threads == 1 else 's'}"
        self.chooser = blas.ThreadChooser() if threads == "auto" else None
        self.chosen: list[int] = []

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.runner.name == "pytorch":
            self.torch.set_num_threads(self.threads)
        elif self.chooser is not None:
            self.chosen.append(self.chooser.choose())
        else:
            self.blas.set_threads(self.threads)
        self.runner.train_epoch(X, y)


def make_runners(model: str, seed: int, torch) -> list[Threaded]:
    if model == "mlp":
        from benchmarks.mlp_config import Config
        from benchmarks.mlp_contenders import ScratchnetMLP as Ours
        from benchmarks.mlp_contenders import TorchMLP as Theirs
    else:
        from benchmarks.cnn import Config
        from benchmarks.cnn import ScratchnetCNN as Ours
        from benchmarks.cnn import TorchCNN as Theirs
    cfg = Config(seed=seed)
    runners = [Threaded(Ours(cfg), t) for t in (1, 2, "auto")]
    if torch is not None:
        runners += [Threaded(Theirs(cfg, torch), t, torch) for t in (1, 2)]
    return runners


def run(
    model: str = "mlp",
    epochs: int = 3,
    n_train: int | None = None,
    seed: int = 0,
    torch=None,
    synthetic: bool = False,
    log=print,
) -> dict:
    """Both phases; returns the results (the JSON file's content)."""
    from scratchnet.nn import blas

    machine = machine_info(2)
    notes = [BUSY_NOTE.replace("while the libraries were timed", "in the busy phase")]
    warning = busy_warning(machine)
    if warning:
        log(f"warning: {warning}")
        notes.append(warning)
    data = load_data(n_train, 1, synthetic, seed, None)
    log(f"{model}: {data.source}, {data.X_train.shape[0]:,} training images")
    before_blas = blas.get_threads()
    before_torch = torch.get_num_threads() if torch is not None else None
    seconds, chosen = {}, {}
    try:
        for phase in PHASES:
            log(f"{phase}:")
            with busy_neighbour(phase == "busy"):
                runners = make_runners(model, seed, torch)
                seconds[phase] = run_interleaved(runners, data.X_train, data.y_train, epochs, log)
            chosen[phase] = next(r.chosen for r in runners if r.chooser is not None)
    finally:
        if before_blas is not None:
            blas.set_threads(before_blas)
        if torch is not None:
            torch.set_num_threads(before_torch)
    medians = {p: {k: statistics.median(v) for k, v in seconds[p].items()} for p in PHASES}
    base = medians["idle"]["scratchnet, 1 thread"]
    return {
        "benchmark": "busy",
        "config": {
            "model": model,
            "epochs": epochs,
            "n_train": int(data.X_train.shape[0]),
            "seed": seed,
            "data": data.source.split(" (")[0],
        },
        "machine": machine,
        "versions": library_versions(torch),
        "epoch_seconds": seconds,
        "median_epoch_seconds": medians,
        "auto_threads_chosen": chosen,
        "goal": {
            "auto_busy_over_idle_one_thread": medians["busy"]["scratchnet, auto threads"] / base,
            "target": 1.5,
        },
        "notes": notes
        + [
            "Each contender is a fresh model per phase; epoch time is the median over its "
            "epochs; 'auto' includes choosing the threads (one 50 ms look at /proc/stat before "
            "the first epoch)."
        ],
    }


def report(results: dict) -> str:
    med = results["median_epoch_seconds"]
    base = med["idle"]["scratchnet, 1 thread"]
    lines = [
        "| contender | idle epoch (s) | busy epoch (s) | busy ÷ idle "
        "| busy ÷ scratchnet idle 1 thread |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in med["idle"]:
        idle, busy = med["idle"][name], med["busy"][name]
        lines.append(
            f"| {name} | {idle:.2f} | {busy:.2f} | ×{busy / idle:.2f} | ×{busy / base:.2f} |"
        )
    chosen = results["auto_threads_chosen"]
    m, v = results["machine"], results["versions"]
    lines += [
        "",
        f"auto chose {chosen['idle']} thread(s) per epoch idle, {chosen['busy']} busy. "
        f"{results['config']['model']}, {results['config']['n_train']:,} images, "
        f"{results['config']['epochs']} epoch(s) per contender and phase; {m['cpu']} "
        f"({m['usable_cpus']} CPUs), {m['date'][:10]}, load average before "
        f"{m['load_average'][0]:.1f}; NumPy {v['numpy']}"
        + (f", PyTorch {v['torch']}" if "torch" in v else "")
        + ".",
    ]
    lines += [f"- {note}" for note in results["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.busy", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--epochs", type=int, help="epochs per contender and phase (default 3)")
    p.add_argument("--n-train", type=int, help="first N training images (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    p.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = p.parse_args(argv)
    epochs = args.epochs or (QUICK["epochs"] if args.quick else 3)
    n_train = args.n_train or (QUICK["n_train"] if args.quick else None)
    torch, note = import_torch(disabled=args.no_torch)
    if note:
        print(note)
    results = run(args.model, epochs, n_train, args.seed, torch, args.synthetic)
    print()
    print(report(results))
    if args.json:
        write_json(args.json, results)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
