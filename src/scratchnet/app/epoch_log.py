"""Per-epoch training logs of the CLI: a line of text on stderr, a JSON line in a file.

Both are :class:`scratchnet.nn.callbacks.Callback` s reading the
:class:`scratchnet.nn.training.History` after each epoch. The text line replaces the progress
bar when stderr is not a terminal (a log file, CI), where a bar's carriage returns would
be noise; the JSON lines (``--log run.jsonl``) are for plotting or comparing runs.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import IO

from scratchnet.nn.callbacks import Callback

#: The History lists written per epoch, in this order.
FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "cost")


def epoch_metrics(history) -> dict:
    """The last epoch of ``history`` as a dict: ``epoch`` then :data:`FIELDS` (those recorded);
    a non-finite value becomes ``None``, since JSON has no NaN."""
    row: dict = {"epoch": history.n_epochs}
    for name in FIELDS:
        values = getattr(history, name)
        if values:
            value = float(values[-1])
            row[name] = value if math.isfinite(value) else None
    return row


class EpochLines(Callback):
    """One line per epoch on ``stream`` (stderr by default)::

    epoch 3/20: loss 0.3521, accuracy 0.8712, val_loss 0.3310, val_accuracy 0.8801,
    lr 0.000976, 4.1 s
    """

    def __init__(self, epochs: int, stream: IO[str] | None = None) -> None:
        self.epochs = int(epochs)
        self.stream = stream

    def on_epoch_end(self, trainer, history) -> bool:
        row = epoch_metrics(history)
        parts = [f"{name} {_short(row[name])}" for name in FIELDS[:4] if name in row]
        parts.append(f"lr {row['lr']:.3g}" if row.get("lr") is not None else "lr n/a")
        parts.append(f"{row['seconds']:.2f} s")
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"epoch {row['epoch']}/{self.epochs}: " + ", ".join(parts), file=stream, flush=True)
        return False


class JsonLinesLog(Callback):
    """Appends one JSON object per epoch to an open text file and flushes it, so the file can
    be followed (``tail -f``) while training runs and holds every finished epoch if the run is
    killed. Each object carries ``run`` (the local start time of the run, which tells runs
    appended to the same file apart), ``epoch`` and the :data:`FIELDS` recorded."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self.run = time.strftime("%Y-%m-%dT%H:%M:%S")

    def on_epoch_end(self, trainer, history) -> bool:
        self.file.write(json.dumps({"run": self.run, **epoch_metrics(history)}) + "\n")
        self.file.flush()
        return False


def _short(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"
