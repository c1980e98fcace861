"""Training a preset on Fashion-MNIST end to end: load, standardise, fit, evaluate, package.

This is what ``scratchnet train`` and ``make demo`` run; it is a function so tests and notebooks
can call it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from scratchnet.app.datasets import CLASS_NAMES, load_fashion_mnist
from scratchnet.app.presets import get_preset
from scratchnet.estimator.classifier import NNClassifier
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.training_record import Metrics, TrainingRecord
from scratchnet.nn.callbacks import StopWhen


def split_validation(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Random train/validation index split of ``range(n)``."""
    order = rng.permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_preset(preset: str = "mlp", epochs: int | None = None, seed: int = 0,
                 limit: int | None = None, data_dir=None, verbose: bool = False,
                 validation_fraction: float = 1 / 12,
                 should_stop: Callable[[], bool] | None = None) -> TrainedModel:
    """Train ``preset`` and return the packaged model with its :class:`TrainingRecord` (history,
    test metrics).

    The standardisation statistics are learned on the training part only (the tutorial scaled
    the test set with its own statistics; we don't). ``validation_fraction`` of the training
    images (5,000 of 60,000 by default) are held out to pick the best epoch.
    """
    spec = get_preset(preset)
    X, y = load_fashion_mnist("train", data_dir)
    X_test, y_test = load_fashion_mnist("test", data_dir)
    if limit is not None:
        X, y = X[:limit], y[:limit]
    rng = np.random.default_rng(seed)
    train_idx, val_idx = split_validation(X.shape[0], validation_fraction, rng)
    scaler = Standardizer.fit(X[train_idx], per_feature=spec.scaling == "per_pixel")
    params = spec.with_epochs(epochs)
    clf = NNClassifier(random_seed=seed, verbose=verbose, **params)
    start = time.perf_counter()
    clf.fit(scaler.transform(X[train_idx]), y[train_idx],
            validation_data=(scaler.transform(X[val_idx]), y[val_idx]),
            callbacks=[StopWhen(should_stop)] if should_stop is not None else ())
    seconds = time.perf_counter() - start
    test_acc = float(clf.score(scaler.transform(X_test), y_test))
    train_acc = float(clf.score(scaler.transform(X[train_idx]), y[train_idx]))
    record = TrainingRecord(
        preset=spec.name, params=params, seed=seed, labels=[int(c) for c in clf.classes_],
        n_train=int(train_idx.shape[0]), n_validation=int(val_idx.shape[0]),
        epochs_run=int(clf.n_iter_), history=clf.history_,
        metrics=Metrics(test_accuracy=test_acc, train_accuracy=train_acc,
                        best_validation_accuracy=clf.best_validation_score_,
                        training_seconds=seconds),
        created=time.strftime("%Y-%m-%d %H:%M:%S"))
    return TrainedModel(network=clf.network_, scaler=scaler,
                        class_names=[CLASS_NAMES[int(c)] for c in clf.classes_],
                        input_shape=(X.shape[1],), dtype=clf.dtype, meta=record.to_json())
