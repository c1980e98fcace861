"""The command line every benchmark shares: a config built from the options and ``--quick``,
and the end of ``main`` (run, print the report, write the JSON file).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable

from benchmarks.machine import import_torch
from benchmarks.report import write_json


def build_parser(prog: str, description: str, defaults, quick: dict,
                 json_default: str) -> argparse.ArgumentParser:
    """The options the side-by-side benchmarks share, named like their ``Config`` fields and
    documented with ``defaults`` (``None`` where ``--quick`` may set them); each benchmark adds
    its own."""
    d = defaults
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--epochs", type=int, help=f"epochs per library (default {d.epochs})")
    p.add_argument("--threads", type=int, help=f"BLAS/OpenMP/PyTorch threads (default {d.threads})")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--n-train", type=int, help="use the first N training images (default all)")
    p.add_argument("--n-test", type=int, help="use the first N test images (default all)")
    p.add_argument("--repeats", type=int, help=f"timed inference batches (default {d.repeats})")
    p.add_argument("--latency-calls", type=int,
                   help=f"single-image calls per library (default {d.latency_calls})")
    p.add_argument("--gemm-size", type=int,
                   help=f"side of the GEMM-peak product (default {d.gemm_size})")
    p.add_argument("--data-dir", help="directory holding the Fashion-MNIST files")
    p.add_argument("--synthetic", action="store_true",
                   help="learnable random images instead of Fashion-MNIST")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--busy", action="store_true",
                   help="run beside another process that keeps one core busy (a bounded busy loop)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: " + ", ".join(f"{k}={v}" for k, v in quick.items()))
    p.add_argument("--json", default=json_default, metavar="PATH",
                   help="where to write the results (default %(default)s)")
    p.add_argument("--table", metavar="PATH",
                   help="print the markdown results table of a JSON file and exit")
    return p


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
    beside a busy neighbour process with ``--busy``, print ``report(results)``, write ``--json``.
    Exit status 2 with one line when the data is missing."""
    from scratchnet.app.datasets import DatasetError

    if getattr(args, "busy", False):
        run = _beside_busy_neighbour(run)

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


def _beside_busy_neighbour(run: Callable[..., dict]) -> Callable[..., dict]:
    """``run`` with another process keeping one core busy throughout, said in its notes."""
    from benchmarks.machine import BUSY_NOTE, busy_neighbour

    def wrapped(cfg, torch=None, notes=None, **kwargs) -> dict:
        with busy_neighbour():
            results = run(cfg, torch, notes=list(notes or []) + [BUSY_NOTE], **kwargs)
        results["config"]["busy_neighbour"] = True
        return results

    return wrapped
