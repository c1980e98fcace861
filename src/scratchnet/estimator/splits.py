"""Holding out a validation set from the training data."""

from __future__ import annotations

import numpy as np


def stratified_split(X: np.ndarray, y: np.ndarray, fraction: float,
                     rng: np.random.Generator,
                     weights: np.ndarray | None = None) -> tuple[np.ndarray | None, ...]:
    """Hold out ``fraction`` of each class (at least one sample of it when it has two);
    returns ``X_train, y_train, X_val, y_val, weights_train`` (``None`` without weights)."""
    val_idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = int(round(fraction * members.shape[0]))
        k = min(max(k, 1 if members.shape[0] > 1 else 0), members.shape[0] - 1)
        val_idx.append(rng.choice(members, size=k, replace=False))
    val = np.concatenate(val_idx) if val_idx else np.array([], dtype=int)
    if val.shape[0] == 0:
        raise ValueError("early_stopping needs enough samples to hold out a validation set; "
                         "raise validation_fraction or pass more data")
    mask = np.ones(X.shape[0], dtype=bool)
    mask[val] = False
    return X[mask], y[mask], X[val], y[val], None if weights is None else weights[mask]
