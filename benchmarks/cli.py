"""The command line every benchmark shares: a config built from the options and ``--quick``,
and the end of ``main`` (run, print the report, write the JSON file).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

from benchmarks.machine import import_torch
from benchmarks.report import write_json


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
