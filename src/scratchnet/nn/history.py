"""What a training run records: one epoch's figures (:class:`EpochResult`), the per-epoch
:class:`History`, and the :class:`TrainingState` a checkpoint saves to resume a run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EpochResult:
    """What one epoch measured: the summed objective (the tutorial's ``error_`` entry), the mean
    loss per sample (scikit-learn's ``loss_curve_`` entry), and the running training accuracy
    over the epoch's batches (dropout on, weights moving, as Keras reports it)."""

    total_cost: float
    mean_loss: float
    accuracy: float
    n_batches: int
    stopped: bool = False


@dataclass
class History:
    """Per-epoch records of a training run, one entry per epoch in every list (the validation
    lists stay empty without validation data).

    ``loss`` is the mean cross-entropy per sample (scikit-learn's ``loss_curve_``), ``cost`` the
    tutorial's summed cost of the epoch's batches (its ``error_``), ``lr`` the learning rate the
    epoch used and ``seconds`` its wall time, validation included.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def n_epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in vars(self).items()}


@dataclass
class TrainingState:
    """Everything a run needs to go on bit for bit after an interruption: ``arrays`` (the
    network's parameters and buffers under ``net.``, the optimizer's moments under ``opt.``, the
    callbacks' arrays under ``cb<i>.``) and JSON-able ``info`` (the history, the optimizer's step
    count, the random generator's state, each callback's type and scalars). Made by
    :meth:`Trainer.state`, taken by ``Trainer.fit(resume=...)``."""

    arrays: dict[str, np.ndarray]
    info: dict
