"""Training a preset on Fashion-MNIST end to end: load, standardise, fit, evaluate, package.

This is what ``scratchnet train`` and ``make demo`` run; it is a function so tests and notebooks
can call it too. scikit-learn is imported only when training starts, so the CLI can read the
defaults here (``VALIDATION_FRACTION``, :func:`train_preset`'s signature) for ``--help``
without loading it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from scratchnet.app.datasets import CLASS_NAMES, load_fashion_mnist
from scratchnet.app.presets import get_preset
from scratchnet.estimator.params import validate_params
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.training_record import Metrics, TrainingRecord
from scratchnet.nn.callbacks import Callback, StopWhen
from scratchnet.nn.history import TrainingState

#: Share of the training file held out to pick the best epoch: 5,000 of the 60,000 images.
VALIDATION_FRACTION = 1 / 12


def split_validation(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Random train/validation index split of ``range(n)``."""
    order = rng.permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def limit_split(
    train_idx: np.ndarray, val_idx: np.ndarray, limit: int | None, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Keep ``limit`` training images and validation images in the same proportion.

    The training images are the first ``limit`` of ``train_idx``; the validation images, the
    first ``round(limit * fraction / (1 - fraction))`` (at least 1) of ``val_idx``, so they stay
    apart from the training ones, and ``limit`` equal to ``len(train_idx)`` is the full run.
    """
    if limit is None:
        return train_idx, val_idx
    n_total = train_idx.shape[0] + val_idx.shape[0]
    if limit > train_idx.shape[0]:
        raise ValueError(
            f"limit={limit:,} is more than the {train_idx.shape[0]:,} training images "
            f"left of {n_total:,} after holding out validation_fraction="
            f"{fraction:.4g}; give a smaller limit or validation fraction"
        )
    n_val = max(1, int(round(limit * fraction / (1 - fraction))))
    return train_idx[:limit], val_idx[:n_val]


def preset_params(preset: str, epochs: int | None = None, overrides: dict | None = None) -> dict:
    """The estimator parameters of ``preset`` with ``epochs`` and ``overrides`` applied,
    checked (``ValueError`` naming the first invalid one)."""
    params = {**get_preset(preset).with_epochs(epochs), **(overrides or {})}
    validate_params(params)
    return params


def train_preset(
    preset: str = "mlp",
    epochs: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    data_dir=None,
    verbose: bool = False,
    validation_fraction: float = VALIDATION_FRACTION,
    should_stop: Callable[[], bool] | None = None,
    overrides: dict | None = None,
    callbacks: Sequence[Callback] = (),
    resume: TrainingState | None = None,
) -> TrainedModel:
    """Train ``preset`` and return the packaged model with its :class:`TrainingRecord` (history,
    test metrics).

    The standardisation statistics are learned on the training part only (the tutorial scaled
    the test set with its own statistics; we don't). ``validation_fraction`` of the training
    images (5,000 of 60,000 by default) are held out to pick the best epoch; ``limit`` keeps
    that many *training* images (:func:`limit_split`). ``overrides`` are estimator parameters
    that replace the preset's (``{"learning_rate": 0.01}``), checked before any data is read;
    ``callbacks`` are passed to :meth:`NNClassifier.fit` (per-epoch logs, checkpoints), and
    ``resume`` continues an interrupted run of the same settings from its checkpoint
    (``training_seconds`` then counts the resumed part only).
    """
    from scratchnet.estimator.classifier import NNClassifier

    spec = get_preset(preset)
    params = preset_params(preset, epochs, overrides)
    validate_params({"validation_fraction": validation_fraction})
    X, y = load_fashion_mnist("train", data_dir)
    X_test, y_test = load_fashion_mnist("test", data_dir)
    rng = np.random.default_rng(seed)
    train_idx, val_idx = limit_split(
        *split_validation(X.shape[0], validation_fraction, rng), limit, validation_fraction
    )
    scaler = Standardizer.fit(X[train_idx], per_feature=spec.scaling == "per_pixel")
    clf = NNClassifier(random_state=seed, verbose=verbose, **params)
    stop = [StopWhen(should_stop)] if should_stop is not None else []
    start = time.perf_counter()
    clf.fit(
        scaler.transform(X[train_idx]),
        y[train_idx],
        validation_data=(scaler.transform(X[val_idx]), y[val_idx]),
        callbacks=[*stop, *callbacks],
        resume=resume,
    )
    seconds = time.perf_counter() - start
    test_acc = float(clf.score(scaler.transform(X_test), y_test))
    train_acc = float(clf.score(scaler.transform(X[train_idx]), y[train_idx]))
    record = TrainingRecord(
        preset=spec.name,
        params=params,
        seed=seed,
        labels=[int(c) for c in clf.classes_],
        n_train=int(train_idx.shape[0]),
        n_validation=int(val_idx.shape[0]),
        epochs_run=int(clf.n_iter_),
        history=clf.history_,
        metrics=Metrics(
            test_accuracy=test_acc,
            train_accuracy=train_acc,
            best_validation_accuracy=clf.best_validation_score_,
            training_seconds=seconds,
        ),
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    return TrainedModel(
        network=clf.network_,
        scaler=scaler,
        class_names=[CLASS_NAMES[int(c)] for c in clf.classes_],
        input_shape=(X.shape[1],),
        dtype=clf.dtype,
        meta=record.to_json(),
    )
