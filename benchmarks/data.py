"""The data every benchmark trains on: Fashion-MNIST, or learnable synthetic look-alikes when
the files are absent (``--synthetic``), standardised with the training set's statistics.

Shapes: ``X`` is ``(n_samples, n_features)`` float32, standardised; ``y`` is ``(n_samples,)``
int64 labels ``0..n_classes-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Data:
    """Standardised float32 training and test sets and where they came from."""

    X_train: np.ndarray  # (N, D) float32
    y_train: np.ndarray  # (N,) int64
    X_test: np.ndarray  # (M, D) float32
    y_test: np.ndarray  # (M,) int64
    source: str


def standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``(X - mean) / std`` with the training set's statistics, as float32.

    A feature that never varies in the training set keeps ``std = 1`` (no division by 0).
    """
    mean = X_train.mean(axis=0, dtype=np.float64)  # (D,)
    std = X_train.std(axis=0, dtype=np.float64)  # (D,)
    std[std == 0] = 1.0
    out = []
    for X in (X_train, X_test):
        Z = X.astype(np.float32)  # (N, D), one float32 copy, then in place
        Z -= mean.astype(np.float32)
        Z /= std.astype(np.float32)
        out.append(Z)
    return out[0], out[1]


def synthetic_images(
    n: int, rng: np.random.Generator, n_features: int = 784, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images drawn around one random prototype per class (learnable, unlike noise).

    The prototypes come from a fixed seed so training and test sets share them.
    """
    prototypes = np.random.default_rng(12345).integers(0, 256, (n_classes, n_features))
    y = rng.integers(0, n_classes, n)  # (n,)
    X = prototypes[y] + rng.normal(0.0, 60.0, (n, n_features))  # (n, D)
    return np.clip(X, 0, 255).astype(np.uint8), y.astype(np.int64)


def load_data(
    n_train: int | None = None,
    n_test: int | None = None,
    synthetic: bool = False,
    seed: int = 0,
    data_dir=None,
) -> Data:
    """Fashion-MNIST (or synthetic look-alikes), the first ``n_train``/``n_test`` samples,
    standardised with the training set's per-pixel mean and standard deviation."""
    if synthetic:
        rng = np.random.default_rng(seed)
        Xtr, ytr = synthetic_images(n_train or 60_000, rng)
        Xte, yte = synthetic_images(n_test or 10_000, rng)
        source = "synthetic"
    else:
        from scratchnet.app.datasets import find_data_dir, load_fashion_mnist

        Xtr, ytr = load_fashion_mnist("train", data_dir)
        Xte, yte = load_fashion_mnist("test", data_dir)
        source = f"Fashion-MNIST ({find_data_dir('train', data_dir)})"
    Xtr, ytr, Xte, yte = Xtr[:n_train], ytr[:n_train], Xte[:n_test], yte[:n_test]
    Xtr_std, Xte_std = standardise(Xtr, Xte)
    return Data(Xtr_std, np.ascontiguousarray(ytr), Xte_std, np.ascontiguousarray(yte), source)
