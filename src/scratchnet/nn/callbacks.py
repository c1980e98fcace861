"""Callbacks: what the epoch loop of :meth:`scratchnet.nn.training.Trainer.fit` asks after each
batch and each epoch.

A callback answers ``True`` to stop: ``on_batch_end`` stops after the current batch (Ctrl-C),
``on_epoch_end`` after the current epoch (early stopping). ``on_train_end`` runs however training
ended, also after an exception, so a callback can put weights back. The loop itself only trains,
records the :class:`~scratchnet.nn.training.History` and calls these, in the order given.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


class Callback:
    """Base class: every hook does nothing and never stops.

    A callback with state that a resumed run needs (the best score so far, the best weights)
    returns it from ``state()`` as ``(arrays, info)`` and takes it back in ``load_state``.
    """

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {}, {}

    def load_state(self, arrays: dict[str, np.ndarray], info: dict) -> None:
        pass

    def on_train_begin(self, trainer, history) -> None:
        pass

    def on_batch_end(self, trainer) -> bool:
        return False

    def on_epoch_end(self, trainer, history) -> bool:
        return False

    def on_train_end(self, trainer, history) -> None:
        pass


class StopWhen(Callback):
    """Stop after the batch during which ``should_stop()`` turned true (the CLI's Ctrl-C)."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop

    def on_batch_end(self, trainer) -> bool:
        return bool(self.should_stop())


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite or exploded; the message says which weights were kept."""


class DivergenceGuard(Callback):
    """Stop with :class:`TrainingDiverged` when an epoch's mean loss is not finite or exceeds
    ``factor * log(n_classes)``, the loss of guessing uniformly, and put back the weights of the
    last good epoch.

    Why that bound: a freshly initialised classifier starts near ``log(n_classes)`` nats per
    sample; 100 times that means confident, wrong predictions on almost every sample (a learning
    rate of 1e6 ends near 3e7), so the run is broken whatever its first epoch looked like.
    Keeping the last good weights costs one copy of the parameters per epoch.
    """

    def __init__(self, n_classes: int, factor: float = 100.0) -> None:
        self.limit = factor * math.log(max(int(n_classes), 2))
        self.good: dict[str, np.ndarray] | None = None
        self.good_epoch = 0

    def on_train_begin(self, trainer, history) -> None:
        if history.n_epochs and self.good is None:  # a continued run: its weights are good
            self.good, self.good_epoch = trainer.net.state_dict(), history.n_epochs

    def on_epoch_end(self, trainer, history) -> bool:
        loss = history.loss[-1]
        if math.isfinite(loss) and loss <= self.limit:
            self.good, self.good_epoch = trainer.net.state_dict(), history.n_epochs
            return False
        why = f"the loss is {loss:.4g}" if math.isfinite(loss) else f"the loss is {loss}"
        if math.isfinite(loss):
            why += f", over {self.limit:.4g} (100x the loss of a uniform guess)"
        if self.good is None:
            kept = "no epoch ended with a sound loss, so there are no weights to keep"
        else:
            trainer.net.load_state_dict(self.good)
            kept = f"kept the weights of epoch {self.good_epoch}"
        raise TrainingDiverged(f"training diverged at epoch {history.n_epochs} ({why}); {kept};"
                               " lower learning_rate or set clip_norm")


class BestWeights(Callback):
    """Track the best validation accuracy; at the end, put back the weights it was reached with
    when ``restore`` (Keras's ``restore_best_weights``)."""

    def __init__(self, restore: bool = True) -> None:
        self.restore = restore
        self.best_score = -np.inf
        self.best_state: dict[str, np.ndarray] | None = None

    def state(self):
        return dict(self.best_state or {}), {"best_score": float(self.best_score)}

    def load_state(self, arrays, info):
        self.best_score = float(info["best_score"])
        self.best_state = dict(arrays) if arrays else None

    def on_epoch_end(self, trainer, history) -> bool:
        score = history.val_accuracy[-1]
        if score > self.best_score:
            self.best_score = score
            if self.restore:  # a copy of every weight, made only when it will be used
                self.best_state = trainer.net.state_dict()
        return False

    def on_train_end(self, trainer, history) -> None:
        if self.best_state is not None:
            trainer.net.load_state_dict(self.best_state)


class EarlyStopping(Callback):
    """Stop when the validation accuracy has not improved for ``patience`` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = int(patience)
        self.best_score = -np.inf
        self.stale = 0

    def state(self):
        return {}, {"best_score": float(self.best_score), "stale": self.stale}

    def load_state(self, arrays, info):
        self.best_score, self.stale = float(info["best_score"]), int(info["stale"])

    def on_epoch_end(self, trainer, history) -> bool:
        score = history.val_accuracy[-1]
        if score > self.best_score:
            self.best_score, self.stale = score, 0
        else:
            self.stale += 1
        return self.stale >= self.patience
