"""Class labels: checking them and turning them into the indices the network's loss takes."""

from __future__ import annotations

import numpy as np


def check_classes(classes: np.ndarray, n_classes: int | None) -> None:
    """``ValueError`` unless there are at least 2 classes, and ``n_classes`` when given."""
    if classes.shape[0] < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise ValueError(f"NNClassifier needs samples of at least 2 classes in the data, got "
                         f"1 class: {only!r}")
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


def sample_weights(sample_weight, class_weight, y_enc: np.ndarray,
                   n_classes: int) -> np.ndarray | None:
    """Per-sample loss weights ``(n_samples,)`` from ``sample_weight`` times the weight of each
    sample's class (``class_weight``: ``"balanced"``, ``n / (n_classes * count)`` as
    scikit-learn defines it, or a dict from class index to weight); ``None`` when neither is
    given, which trains exactly as without weights."""
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != y_enc.shape:
            raise ValueError(f"sample_weight has shape {weights.shape}, expected "
                             f"{y_enc.shape} (one weight per sample)")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("sample_weight must be finite and >= 0")
        if not weights.any():  # scikit-learn's wording, which its estimator checks expect
            raise ValueError("Sample weights must contain at least one non-zero number")
    if class_weight is not None:
        if class_weight == "balanced":
            counts = np.bincount(y_enc, minlength=n_classes)
            per_class = y_enc.shape[0] / (n_classes * np.maximum(counts, 1))
        else:
            per_class = np.ones(n_classes)
            for index, w in class_weight.items():
                per_class[index] = w
        weights = per_class[y_enc] * (1.0 if weights is None else weights)
    return weights
