"""Standardising pixels with statistics learned on the training set only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Standardizer:
    """Per-feature standardisation ``(x - mean) / std`` with statistics from the training set.

    Features with zero spread (always-black corner pixels) get ``std = 1``, as
    ``sklearn.preprocessing.scale`` does, so they map to 0 instead of dividing by 0.
    """

    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)

    @classmethod
    def fit(cls, X: np.ndarray, per_feature: bool = True) -> Standardizer:
        """Learn the statistics of ``X`` (N, D): one mean and std per feature, or with
        ``per_feature=False`` one for all pixels (kept per feature, all equal), which leaves an
        image's background one constant value, as shifting and mirroring need."""
        X = np.asarray(X, dtype=np.float64)
        if per_feature:
            mean, std = X.mean(axis=0), X.std(axis=0)
        else:
            mean = np.full(X.shape[1], X.mean())
            std = np.full(X.shape[1], X.std())
        std[std == 0] = 1.0
        return cls(mean=mean, std=std)

    def transform(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        out = np.asarray(X, dtype=dtype) - self.mean.astype(dtype)  # (N, D), a new array
        out /= self.std.astype(dtype)
        return out
