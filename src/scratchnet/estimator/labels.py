"""Class labels: checking them and turning them into the indices the network's loss takes."""

from __future__ import annotations

import numpy as np


def check_classes(classes: np.ndarray, n_classes: int | None) -> None:
    """``ValueError`` unless there are at least 2 classes, and ``n_classes`` when given."""
    if classes.shape[0] < 2:
        raise ValueError(f"NNClassifier needs samples of at least 2 classes in the data, got "
                         f"1 class: {classes[0]!r}")
    if n_classes is not None and classes.shape[0] != n_classes:
        raise ValueError(f"y has {classes.shape[0]} classes, but n_classes={n_classes};"
                         " pass matching labels or leave n_classes=None")


def encode_labels(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of each label of ``y`` in the sorted ``classes``, shape (n_samples,), int64."""
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, classes.shape[0] - 1)
    if not np.array_equal(classes[idx], y):
        unknown = np.setdiff1d(y, classes)
        raise ValueError(f"y contains labels not in classes_: {unknown[:5]!r}")
    return idx.astype(np.int64)
