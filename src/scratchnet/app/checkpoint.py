"""Checkpoints of a training run, so ``scratchnet train --resume DIR`` can finish it.

After every epoch :class:`Checkpoint` writes ``DIR/checkpoint.safetensors`` atomically: the
arrays of :meth:`scratchnet.nn.training.Trainer.state` (weights, optimizer moments, best
weights) as tensors, and in the file's metadata the rest of the state (history, step count,
generator state, callbacks) with the run's settings (preset, epochs, seed, limit, overrides), so
a resumed run rebuilds the same data split and network and continues where the file left off,
ending with the same weights as an uninterrupted run (same machine, same BLAS thread count).
The model directory's code treats the file as its own; ``train`` removes it once the model is
saved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes
from scratchnet.estimator.model_dir import CHECKPOINT_FILE
from scratchnet.estimator.safe_read import UnsafeFileError, parse_json, read_capped
from scratchnet.nn.callbacks import Callback
from scratchnet.nn.history import TrainingState

MAX_CHECKPOINT = 1 << 30  # four copies of a 100M-parameter float32 network
_KEY = "scratchnet-checkpoint"


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or does not fit the run; one line."""


class Checkpoint(Callback):
    """Save the run's state into ``directory`` after every complete epoch (an epoch a Ctrl-C
    cut short is not one to continue from: the previous checkpoint stays)."""

    def __init__(self, directory: str | os.PathLike, run: dict) -> None:
        self.path = Path(directory) / CHECKPOINT_FILE
        self.run = dict(run)

    def on_epoch_end(self, trainer, history) -> bool:
        if trainer.epoch_complete:
            write_checkpoint(self.path, trainer.state(), self.run)
        return False


def write_checkpoint(path: Path, state: TrainingState, run: dict) -> None:
    from safetensors.numpy import save

    meta = json.dumps({"run": run, "info": state.info})
    blob = save({k: np.ascontiguousarray(v) for k, v in state.arrays.items()},
                metadata={_KEY: meta})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, blob)


def read_checkpoint(directory: str | os.PathLike) -> tuple[TrainingState, dict]:
    """The saved state and the run's settings; :class:`CheckpointError` on any problem."""
    path = Path(directory) / CHECKPOINT_FILE
    try:
        blob = read_capped(path, MAX_CHECKPOINT)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint; `scratchnet train --out {directory}` "
                              "writes one after every epoch") from None
    except (OSError, UnsafeFileError) as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from None
    try:
        from safetensors.numpy import load

        arrays = load(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = parse_json(blob[8:8 + header_len])
        meta = parse_json(header["__metadata__"][_KEY].encode())
        run, info = meta["run"], meta["info"]
        if not isinstance(run, dict) or not isinstance(info, dict):
            raise TypeError("run and info must be objects")
    except Exception as exc:  # a damaged file can fail in many ways; all mean the same
        raise CheckpointError(f"{path}: not a scratchnet checkpoint ({type(exc).__name__}: "
                              f"{str(exc)[:100]})") from None
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise CheckpointError(f"{path}: holds non-finite values")
    return TrainingState(arrays=arrays, info=info), run
