"""Scoring a trained model on the Fashion-MNIST test set: accuracy, per-class precision, recall
and F1, and the confusion matrix, as numbers and as text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from scratchnet.app.datasets import load_fashion_mnist
from scratchnet.estimator.trained_model import TrainedModel


@dataclass
class Evaluation:
    accuracy: float
    precision: np.ndarray  # (C,)
    recall: np.ndarray  # (C,)
    f1: np.ndarray  # (C,)
    support: np.ndarray  # (C,)
    confusion: np.ndarray  # (C, C), rows true, columns predicted
    y_true: np.ndarray  # (N,) output indices
    y_pred: np.ndarray  # (N,)
    proba: np.ndarray  # (N, C)


def model_labels(model: TrainedModel) -> np.ndarray:
    """The dataset label (0..9) of each model output."""
    labels = model.record.labels
    return np.asarray(labels if labels is not None else range(len(model.class_names)))


def evaluate_model(model: TrainedModel, X=None, y=None, data_dir=None) -> Evaluation:
    """Score ``model`` on ``(X, y)`` (raw pixels, dataset labels), by default the test set."""
    if X is None:
        X, y = load_fashion_mnist("test", data_dir)
    labels = model_labels(model)
    known = np.isin(y, labels)
    X, y = X[known], y[known]
    y_true = np.searchsorted(labels, y)
    proba = model.predict_proba(X)  # (N, C)
    y_pred = proba.argmax(axis=1)
    idx = np.arange(len(labels))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=idx)
    return Evaluation(accuracy=float(np.mean(y_true == y_pred)), precision=p, recall=r, f1=f,
                      support=s, confusion=cm, y_true=y_true, y_pred=y_pred, proba=proba)


def format_evaluation(ev: Evaluation, class_names: list[str]) -> str:
    width = max(len(n) for n in class_names)
    lines = [f"test accuracy: {ev.accuracy:.4f} ({int(ev.support.sum())} images)", "",
             f"{'class':<{width}}  precision  recall  f1-score  support"]
    for i, name in enumerate(class_names):
        lines.append(f"{name:<{width}}  {ev.precision[i]:9.4f}  {ev.recall[i]:6.4f}  "
                     f"{ev.f1[i]:8.4f}  {ev.support[i]:7d}")
    lines.append(f"{'macro avg':<{width}}  {ev.precision.mean():9.4f}  {ev.recall.mean():6.4f}  "
                 f"{ev.f1.mean():8.4f}  {int(ev.support.sum()):7d}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)"]
    short = [n[:7] for n in class_names]
    lines.append(" " * (width + 2) + " ".join(f"{s:>7}" for s in short))
    for i, name in enumerate(class_names):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:7d}" for v in ev.confusion[i]))
    return "\n".join(lines)
