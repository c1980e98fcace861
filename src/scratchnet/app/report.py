"""The report on a trained model: PNG figures and one self-contained ``index.html``.

``write_report`` scores the model on the Fashion-MNIST test set and writes, into one directory,
a figure per question a reader asks (what do the classes look like, did training converge, what
does the model get right and wrong, which classes does it confuse, what has it learned) and an
HTML page that shows the numbers and the figures with a short explanation of each. The page
uses inline CSS and names its images by relative file name: the directory can be moved, zipped
or opened offline. Every file is written atomically, the page last, so an interrupted report
never leaves a page pointing at a missing figure.

Each figure is also a function returning a matplotlib ``Figure`` (built without pyplot, no
global style), for notebooks and tests.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scratchnet.app.datasets import load_fashion_mnist
from scratchnet.app.evaluation import Evaluation, evaluate_model, model_labels
from scratchnet.app.figures import save_figure
from scratchnet.estimator.atomic import atomic_write_text
from scratchnet.estimator.trained_model import TrainedModel

if TYPE_CHECKING:  # matplotlib is imported inside the figure functions, when they run
    from matplotlib.figure import Figure

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


# --- the report -------------------------------------------------------------------------------
@dataclass
class _Section:
    file: str
    title: str
    text: str


def write_report(model: TrainedModel, out_dir: str | os.PathLike, data_dir=None,
                 tsne_samples: int = 1500, seed: int = 0) -> Path:
    """Score ``model`` on the test set and write the figures and ``index.html`` to ``out_dir``.

    Parameters
    ----------
    model : TrainedModel
    out_dir : str or path-like
        Created if needed; existing files of the same names are replaced.
    data_dir : str or path-like, optional
        Where the Fashion-MNIST files are (default: the usual search, see ``datasets``).
    tsne_samples : int, default=1500
        Random test images in the t-SNE maps (t-SNE costs about N log N; 1,500 take some
        seconds per map).
    seed : int, default=0
        Seed of the image sampling and of t-SNE.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_fashion_mnist("test", data_dir)
    known = np.isin(y, model_labels(model))
    X = X[known]  # (N, 784), aligned with ev.y_true
    ev = evaluate_model(model, X, y[known])
    names = list(model.class_names)
    rng = np.random.default_rng(seed)
    history = model.meta.get("history") or {}

    sub = np.sort(rng.choice(X.shape[0], min(tsne_samples, X.shape[0]), replace=False))
    hidden = model.hidden_representation(X[sub])  # (n, H)
    maps = tsne_embeddings({"raw pixels (784 values)": X[sub] / 255.0,
                            f"last hidden layer ({hidden.shape[1]} units)": hidden}, seed=seed)
    # (figure builder, section): each figure is built, saved and dropped in turn.
    sections = [
        (lambda: sample_images_figure(X, ev.y_true, names, rng=rng),
         _Section("samples.png", "The classes",
                  "Random test images of each class, 28 x 28 gray pixels with the item light on "
                  "a black background: this is all the network sees.")),
        (lambda: learning_curves_figure(history),
         _Section("learning_curves.png", "Learning curves",
                  "Loss and accuracy after each epoch on the training images and on the held-out "
                  "validation images. The training values are averaged over each epoch while "
                  "the weights still change and dropout is on, so they can trail the validation "
                  "values. A validation curve that turns up while the training curve keeps "
                  "falling means overfitting; the weights of the best validation epoch are the "
                  "ones kept.")),
        (lambda: predictions_figure(X, ev.y_true, ev.proba, names, rng=rng),
         _Section("predictions.png", "Predictions",
                  "Random test images with the predicted class and its probability: green when "
                  "right, red (with the true class) when wrong.")),
        (lambda: confusion_matrix_figure(ev.confusion, names),
         _Section("confusion_matrix.png", "Confusion matrix",
                  "How often each true class (row) was predicted as each class (column). The "
                  "diagonal holds the right answers; dark cells off it are the classes the "
                  f"network mixes up. {_top_confusions(ev.confusion, names)}")),
        (lambda: mistakes_figure(X, ev.y_true, ev.proba, names),
         _Section("mistakes.png", "Most confident mistakes",
                  "The wrong predictions made with the highest probability. Some are the "
                  "network's errors; others are ambiguous or mislabelled images.")),
        (lambda: tsne_figure(maps, ev.y_true[sub], names),
         _Section("tsne.png", "What the network has learned (t-SNE)",
                  f"t-SNE places {sub.size} random test images in the plane so that images "
                  "with similar features stay close. Left: the features are the raw pixels, "
                  "where classes of similar shape overlap. Right: they are the activations of "
                  f"the network's last hidden layer ({hidden.shape[1]} units), where training "
                  "has pulled each class together and pushed the classes apart.")),
    ]
    for build, section in sections:
        save_figure(build(), out / section.file, dpi=DPI)
    page = _html(model, ev, names, [s for _, s in sections], time.perf_counter() - start, seed)
    index = out / "index.html"
    atomic_write_text(index, page)
    return index


def _top_confusions(confusion: np.ndarray, names: list[str], k: int = 3) -> str:
    """A sentence naming the ``k`` most frequent mistakes, e.g. "Shirt taken for T-shirt/top
    (127 times)"."""
    off = np.array(confusion, dtype=np.int64)  # (C, C)
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:k]
    pairs = [np.unravel_index(i, off.shape) for i in order]
    parts = [f"{names[t]} taken for {names[p]} ({off[t, p]:,} times)" for t, p in pairs
             if off[t, p] > 0]
    return f"The most frequent: {'; '.join(parts)}." if parts else "There are no mistakes."


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2.2rem; }
.subtitle { color: #57606a; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem 1rem; min-width: 9rem; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .label { color: #57606a; font-size: 0.85rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.9rem; border-bottom: 1px solid #d8dee4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #8c959f; }
figure { margin: 0.5rem 0 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
footer { color: #57606a; font-size: 0.85rem; margin-top: 2.5rem; }
"""


def _html(model: TrainedModel, ev: Evaluation, names: list[str], sections: list[_Section],
          seconds: float, seed: int) -> str:
    meta = model.meta
    metrics = meta.get("metrics") or {}
    esc = html.escape
    train_s = metrics.get("training_seconds")
    cards = [
        ("test accuracy", f"{ev.accuracy:.2%}"),
        ("preset", str(meta.get("preset", "n/a"))),
        ("epochs", str(meta.get("epochs_run", (meta.get("params") or {}).get("epochs", "n/a")))),
        ("training time", f"{train_s:.1f} s" if isinstance(train_s, (int, float)) else "n/a"),
        ("training images", f"{meta['n_train']:,}" if "n_train" in meta else "n/a"),
        ("test images", f"{int(ev.support.sum()):,}"),
    ]
    card_html = "\n".join(f'<div class="card"><div class="value">{esc(v)}</div>'
                          f'<div class="label">{esc(k)}</div></div>' for k, v in cards)
    rows = "\n".join(
        f"<tr><td>{esc(name)}</td><td>{ev.precision[i]:.3f}</td><td>{ev.recall[i]:.3f}</td>"
        f"<td>{ev.f1[i]:.3f}</td><td>{int(ev.support[i]):,}</td></tr>"
        for i, name in enumerate(names))
    rows += (f'\n<tr class="total"><td>macro average</td><td>{ev.precision.mean():.3f}</td>'
             f"<td>{ev.recall.mean():.3f}</td><td>{ev.f1.mean():.3f}</td>"
             f"<td>{int(ev.support.sum()):,}</td></tr>")
    figures = "\n".join(
        f'<section id="{esc(s.file.removesuffix(".png"))}">\n<h2>{esc(s.title)}</h2>\n'
        f"<p>{esc(s.text)}</p>\n<figure><img src=\"{esc(s.file)}\" alt=\"{esc(s.title)}\">"
        "</figure>\n</section>" for s in sections)
    params = meta.get("params") or {}
    param_text = ", ".join(f"{k}={v}" for k, v in params.items())
    created = meta.get("created", "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scratchnet report: {esc(str(meta.get("preset", "model")))}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>scratchnet model report</h1>
<p class="subtitle">A neural network written from scratch in NumPy, scored on the 10,000
Fashion-MNIST test images{esc(f" (trained {created})" if created else "")}.</p>
<section id="metrics">
<h2>Metrics</h2>
<div class="cards">
{card_html}
</div>
<p>Precision: of the images predicted as a class, the fraction that are. Recall: of the images
of a class, the fraction found. F1: their harmonic mean.</p>
<table>
<thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="subtitle">Training parameters: {esc(param_text) or "n/a"}</p>
</section>
{figures}
<footer>Written by scratchnet in {seconds:.1f} s (seed {seed}).</footer>
</main>
</body>
</html>
"""
