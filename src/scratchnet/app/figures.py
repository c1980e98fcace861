"""The report's figures, each a function returning a matplotlib ``Figure`` (built without
pyplot, no global style), for the report, notebooks and tests; and ``save_figure``, which writes
one to a temp file and renames it, so an interrupted save never leaves half a PNG.
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


def save_figure(fig, path: str | os.PathLike, dpi: int | None = None) -> Path:
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path


RIGHT, WRONG = "#1a7f37", "#c62828"  # title colours of right and wrong predictions
DPI = 100


# --- figures ----------------------------------------------------------------------------------
def _image_axes(ax, image) -> None:
    ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray", vmin=0, vmax=255,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def sample_images_figure(X: np.ndarray, y: np.ndarray, class_names: list[str],
                         per_class: int = 8, rng: np.random.Generator | None = None) -> Figure:
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
    ax.imshow(np.ma.masked_invalid(montage), cmap=cmap, vmin=0, vmax=255,
              interpolation="none")
    ax.set_yticks(np.arange(n_classes) * step + 13.5, class_names, fontsize=11)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Test images of each class", fontsize=13)
    return fig


def learning_curves_figure(history: dict) -> Figure:
    """Loss and accuracy per epoch, training against validation when it was recorded.

    ``history`` holds lists ``"loss"``, ``"accuracy"`` and, optionally, ``"val_loss"`` and
    ``"val_accuracy"``. The epoch with the best validation accuracy (whose weights the trainer
    keeps) is marked.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    train_loss = list(history.get("loss") or [])
    if not train_loss:
        for ax in (ax_loss, ax_acc):
            ax.text(0.5, 0.5, "no training history recorded", ha="center", va="center",
                    transform=ax.transAxes, fontsize=11)
            ax.set_axis_off()
        return fig
    val_acc = list(history.get("val_accuracy") or [])
    best = int(np.argmax(val_acc)) + 1 if val_acc else None
    for ax, key, label in ((ax_loss, "loss", "loss per image"),
                           (ax_acc, "accuracy", "accuracy")):
        for prefix, name, marker in (("", "training", "o"), ("val_", "validation", "s")):
            values = list(history.get(prefix + key) or [])
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, "-", marker=marker if len(values) <= 40 else None,
                        markersize=3.5, label=name)
        if best is not None:
            ax.axvline(best, color="0.5", linestyle="--", linewidth=1,
                       label=f"best validation (epoch {best})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=9)
    ax_loss.set_title("Loss")
    ax_acc.set_title("Accuracy")
    return fig


def predictions_figure(X: np.ndarray, y_true: np.ndarray, proba: np.ndarray,
                       class_names: list[str], n: int = 32, columns: int = 8,
                       rng: np.random.Generator | None = None) -> Figure:
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
    for ax in axes.ravel()[picks.size:]:
        ax.axis("off")
    for ax, i in zip(axes.ravel(), picks, strict=False):
        _image_axes(ax, X[i])
        pred = int(proba[i].argmax())
        ok = pred == int(y_true[i])
        title = f"{class_names[pred]}\n{proba[i, pred]:.0%}"
        if not ok:
            title += f" (is {class_names[int(y_true[i])]})"
        ax.set_title(title, color=RIGHT if ok else WRONG, fontsize=8.5)
    right = int(np.sum(proba[picks].argmax(axis=1) == y_true[picks]))
    fig.suptitle(f"Predictions on random test images ({right} of {picks.size} right)",
                 fontsize=13)
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
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8.5,
                        color="white" if rate[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), class_names, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix on the test set (counts)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the true class")
    return fig


def mistakes_figure(X: np.ndarray, y_true: np.ndarray, proba: np.ndarray,
                    class_names: list[str], n: int = 16, columns: int = 8) -> Figure:
    """The ``n`` wrong predictions the model was most sure of, with true and predicted class."""
    from matplotlib.figure import Figure

    pred = proba.argmax(axis=1)  # (N,)
    wrong = np.flatnonzero(pred != y_true)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:n]
    rows = max(1, -(-order.size // columns))
    fig = Figure(figsize=(1.45 * columns, 1.95 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    if order.size == 0:
        axes[0, 0].text(0, 0.5, "no mistakes on the test set", fontsize=12,
                        transform=axes[0, 0].transAxes)
    for ax, i in zip(axes.ravel(), order, strict=False):
        ax.axis("on")
        _image_axes(ax, X[i])
        ax.set_title(f"true: {class_names[int(y_true[i])]}\npred: {class_names[pred[i]]}\n"
                     f"{proba[i, pred[i]]:.1%}", color=WRONG, fontsize=8.5)
    fig.suptitle("Most confident mistakes", fontsize=13)
    return fig


def tsne_embeddings(features: dict[str, np.ndarray], seed: int = 0,
                    n_threads: int | None = 1) -> dict[str, np.ndarray]:
    """Two-dimensional t-SNE maps (PCA start, fixed ``random_state``) of each feature matrix.

    ``max_iter=500`` instead of scikit-learn's 1,000 halves the cost (the gradient iterations
    are almost all of it); on Fashion-MNIST the maps look the same after 500.

    The Barnes-Hut gradient runs in OpenMP threads that meet at a barrier every iteration; on a
    machine whose cores are busy with other work a waiting thread stalls all of them (measured:
    1,500 points on 2 shared cores took 28 s with 2 threads, 12 s with 1). Hence one thread by
    default; ``n_threads=None`` lets OpenMP use every core.

    Parameters
    ----------
    features : dict of str to ndarray of shape (n_samples, n_features)
    seed : int, default=0
        t-SNE's ``random_state``: the same seed gives the same map.
    n_threads : int or None, default=1

    Returns
    -------
    dict of str to ndarray of shape (n_samples, 2)
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    out = {}
    for name, F in features.items():
        F = np.asarray(F, dtype=np.float32)
        perplexity = float(min(30.0, max(2.0, (F.shape[0] - 1) / 3)))
        tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity,
                    learning_rate="auto", max_iter=500)
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            out[name] = tsne.fit_transform(F)  # (N, 2)
    return out


def tsne_figure(embeddings: dict[str, np.ndarray], y: np.ndarray, class_names: list[str]) -> Figure:
    """One scatter panel per embedding, points coloured by class, one legend for all panels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0 * len(embeddings), 6.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(embeddings)))
    colors = [f"C{i % 10}" for i in range(len(class_names))]
    for ax, (title, Z) in zip(axes, embeddings.items(), strict=True):
        for c, name in enumerate(class_names):
            sel = y == c
            ax.scatter(Z[sel, 0], Z[sel, 1], s=7, color=colors[c], alpha=0.8, linewidths=0,
                       label=name)
        ax.set_title(title, fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(5, len(class_names)),
               markerscale=2.5, fontsize=10, frameon=False)
    fig.suptitle(f"t-SNE maps of {len(y):,} test images, coloured by true class", fontsize=13)
    return fig
