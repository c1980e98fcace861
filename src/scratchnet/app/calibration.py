"""Calibration: does a predicted probability of 80% come true 80% of the time?

The top-class probability ``conf_i = max_k proba[i, k]`` of each image is put into one of
``n_bins`` equal-width bins of ``[0, 1]`` (bin ``b`` holds ``(b / B, (b + 1) / B]``; the first
bin also holds 0). Per non-empty bin, ``acc_b`` is the fraction of its images predicted right
and ``conf_b`` their mean confidence; the expected calibration error is the gap between the two,
weighted by how many images fall in the bin::

    ECE = sum_b |acc_b - conf_b| * n_b / N

A perfectly calibrated model has ``acc_b == conf_b`` in every bin (the diagonal of the
reliability diagram); an over-confident one has bins below the diagonal.
Reference: Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, section 2
(https://arxiv.org/abs/1706.04599), whose 15 bins are the default here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Reliability:
    """Per-bin figures of a reliability diagram, and the expected calibration error."""

    edges: np.ndarray  # (B + 1,) bin edges, 0 .. 1
    count: np.ndarray  # (B,) images per bin
    accuracy: np.ndarray  # (B,) fraction right per bin, NaN where empty
    confidence: np.ndarray  # (B,) mean top-class probability per bin, NaN where empty
    ece: float


def reliability(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> Reliability:
    """Bin the top-class probabilities and compute ``ECE = sum_b |acc_b - conf_b| * n_b / N``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities; each row's maximum is the confidence, its argmax the prediction.
    y_true : ndarray of shape (n_samples,)
        True class indices (columns of ``proba``).
    n_bins : int, default=15
        Equal-width confidence bins over ``[0, 1]``.

    Returns
    -------
    Reliability
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true)
    if proba.ndim != 2 or proba.shape[0] != y_true.shape[0] or proba.shape[0] == 0:
        raise ValueError(
            f"need proba (N, C) and y_true (N,) with N > 0, got {proba.shape} and {y_true.shape}"
        )
    conf = proba.max(axis=1)  # (N,)
    right = (proba.argmax(axis=1) == y_true).astype(np.float64)  # (N,)
    edges = np.linspace(0.0, 1.0, n_bins + 1)  # (B + 1,)
    # Right-closed bins (a, b]: a confidence of exactly 1/B belongs to the first bin, 1.0 to
    # the last; clip keeps 0.0 (impossible for a softmax, possible for a hand-made array) in.
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)  # (N,)
    count = np.bincount(bins, minlength=n_bins)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(bins, weights=right, minlength=n_bins) / count  # (B,)
        confidence = np.bincount(bins, weights=conf, minlength=n_bins) / count  # (B,)
    filled = count > 0
    ece = float(np.sum(np.abs(accuracy[filled] - confidence[filled]) * count[filled]) / conf.size)
    return Reliability(edges=edges, count=count, accuracy=accuracy, confidence=confidence, ece=ece)
