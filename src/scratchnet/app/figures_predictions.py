"""Figures of individual predictions on test images: a random sample, and the most confident
mistakes with the model's two likeliest classes and the probability it gave the true one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scratchnet.app.figures import RIGHT, WRONG, image_axes

if TYPE_CHECKING:  # matplotlib is imported inside the figure functions, when they run
    from matplotlib.figure import Figure


def predictions_figure(
    X: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    class_names: list[str],
    n: int = 32,
    columns: int = 8,
    rng: np.random.Generator | None = None,
) -> Figure:
    """Random test images with the predicted class and its probability: green right, red wrong.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 784)
    y_true : ndarray of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
    """
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0) if rng is None else rng
    picks = np.sort(rng.choice(X.shape[0], min(n, X.shape[0]), replace=False))
    rows = -(-picks.size // columns)
    fig = Figure(figsize=(1.45 * columns, 1.75 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel()[picks.size :]:
        ax.axis("off")
    for ax, i in zip(axes.ravel(), picks, strict=False):
        image_axes(ax, X[i])
        pred = int(proba[i].argmax())
        ok = pred == int(y_true[i])
        title = f"{class_names[pred]}\n{percent(proba[i, pred], 0)}"
        if not ok:
            title += f" (is {class_names[int(y_true[i])]})"
        ax.set_title(title, color=RIGHT if ok else WRONG, fontsize=8.5)
    right = int(np.sum(proba[picks].argmax(axis=1) == y_true[picks]))
    fig.suptitle(f"Predictions on random test images ({right} of {picks.size} right)", fontsize=13)
    return fig


def confident_mistakes(proba: np.ndarray, y_true: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` wrong predictions with the highest top-class probability, most
    confident first (ties in index order).

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
    y_true : ndarray of shape (n_samples,)

    Returns
    -------
    ndarray of shape (min(n, n_wrong),)
    """
    pred = proba.argmax(axis=1)  # (N,)
    wrong = np.flatnonzero(pred != y_true)
    return wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:n]


def percent(p: float, decimals: int = 1) -> str:
    """A probability as a percentage that never rounds to a false certainty: with one decimal,
    ``">99.9%"`` and ``"<0.1%"`` where ``.1%`` would print 100.0% or 0.0% for a probability
    below 1 or above 0."""
    step = 10.0 ** -(decimals + 2)  # the smallest step shown, as a fraction
    if 1.0 - step / 2 <= p < 1.0:
        return f">{1.0 - step:.{decimals}%}"
    if 0.0 < p < step / 2:
        return f"<{step:.{decimals}%}"
    return f"{p:.{decimals}%}"


def mistake_title(p: np.ndarray, true: int, class_names: list[str]) -> str:
    """Three lines for one mistake: the two likeliest classes and the true class, each with its
    probability (:func:`percent`), e.g. ``"1. Shirt 93.1%", "2. T-shirt/top 4.2%",
    "true: Coat 1.5%"`` on three lines."""
    first, second = np.argsort(-p, kind="stable")[:2]
    return (
        f"1. {class_names[first]} {percent(p[first])}\n"
        f"2. {class_names[second]} {percent(p[second])}\n"
        f"true: {class_names[true]} {percent(p[true])}"
    )


def mistakes_figure(
    X: np.ndarray,
    y_true: np.ndarray,
    proba: np.ndarray,
    class_names: list[str],
    n: int = 18,
    columns: int = 6,
) -> Figure:
    """The ``n`` wrong predictions the model was most sure of, each titled with its two
    likeliest classes and the probability of the true class (:func:`mistake_title`)."""
    from matplotlib.figure import Figure

    order = confident_mistakes(proba, y_true, n)
    rows = max(1, -(-order.size // columns))
    fig = Figure(figsize=(1.9 * columns, 2.35 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    if order.size == 0:
        axes[0, 0].text(
            0, 0.5, "no mistakes on the test set", fontsize=12, transform=axes[0, 0].transAxes
        )
    for ax, i in zip(axes.ravel(), order, strict=False):
        ax.axis("on")
        image_axes(ax, X[i])
        ax.set_title(
            mistake_title(proba[i], int(y_true[i]), class_names),
            color=WRONG,
            fontsize=9.5,
            loc="left",
        )
    fig.suptitle(
        "Most confident mistakes: the two likeliest classes, then the true class, "
        "with their probabilities",
        fontsize=12,
    )
    return fig
