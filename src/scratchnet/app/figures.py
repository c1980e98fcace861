"""The report's figures, each a function returning a matplotlib ``Figure`` (built without
pyplot, no global style), for the report, notebooks and tests.

This module holds what they share (``save_figure``, which writes a figure to a temp file and
renames it, so an interrupted save never leaves half a PNG; the colours; ``image_axes``) and the
figures of the data and the scores (sample images, confusion matrix). The others live by
concept: :mod:`~scratchnet.app.figures_training` (learning curves, learning rate and time per
epoch), :mod:`~scratchnet.app.figures_predictions` (predictions, mistakes),
:mod:`~scratchnet.app.figures_calibration` (reliability diagram) and
:mod:`~scratchnet.app.figures_tsne` (t-SNE maps).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes

if TYPE_CHECKING:  # matplotlib is imported inside the figure functions, when they run
    from matplotlib.figure import Figure


def figure_bytes(fig, format: str = "png", dpi: int | None = None) -> bytes:
    """The figure encoded as a ``format`` file (PNG by default), in memory."""
    buf = io.BytesIO()
    fig.savefig(buf, format=format, dpi=dpi)
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (PNG without one)."""
    path = Path(path)
    atomic_write_bytes(path, figure_bytes(fig, path.suffix.lstrip(".") or "png", dpi))
    return path


RIGHT, WRONG = "#1a7f37", "#c62828"  # title colours of right and wrong predictions
DPI = 100


def image_axes(ax, image) -> None:
    """Show one 28x28 image of raw pixels 0..255 in ``ax``, without ticks or frame."""
    ax.imshow(
        np.asarray(image).reshape(28, 28), cmap="gray", vmin=0, vmax=255, interpolation="nearest"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def sample_images_figure(
    X: np.ndarray,
    y: np.ndarray,
    class_names: list[str],
    per_class: int = 8,
    rng: np.random.Generator | None = None,
) -> Figure:
    """A grid with one row of ``per_class`` random images per class, as the model sees them.

    The grid is one image (a montage with white gaps) in one axes: 80 small axes would cost
    seconds of layout for nothing.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 784)
        Raw pixels 0..255.
    y : ndarray of shape (n_samples,)
        Class indices into ``class_names``.
    """
    import matplotlib
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0) if rng is None else rng
    n_classes, gap = len(class_names), 3
    step = 28 + gap
    montage = np.full((n_classes * step - gap, per_class * step - gap), np.nan)  # (H, W)
    for c in range(n_classes):
        members = np.flatnonzero(y == c)
        picks = rng.choice(members, min(per_class, members.size), replace=False)
        for j, i in enumerate(picks):
            montage[c * step : c * step + 28, j * step : j * step + 28] = X[i].reshape(28, 28)
    fig = Figure(figsize=(0.95 * per_class + 1.6, 0.95 * n_classes + 0.5), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(montage), cmap=cmap, vmin=0, vmax=255, interpolation="none")
    ax.set_yticks(np.arange(n_classes) * step + 13.5, class_names, fontsize=11)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Test images of each class", fontsize=13)
    return fig


def confusion_matrix_figure(confusion: np.ndarray, class_names: list[str]) -> Figure:
    """Heat map of the confusion matrix with the counts written in each cell.

    Rows are true classes and columns predicted ones; the colour is the row's fraction (the
    class's recall on the diagonal) so that small classes and large ones read alike.
    """
    from matplotlib.figure import Figure

    cm = np.asarray(confusion)
    rate = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)  # (C, C)
    n = len(class_names)
    fig = Figure(figsize=(0.75 * n + 2.6, 0.7 * n + 1.8), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color="white" if rate[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(n), class_names, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix on the test set (counts)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig
