"""The report on a trained model: PNG figures and one self-contained ``index.html``.

``write_report`` scores the model on the Fashion-MNIST test set and writes, into one directory,
a figure per question a reader asks (what do the classes look like, did training converge, what
does the model get right and wrong, which classes does it confuse, what has it learned) and an
HTML page that shows the numbers and the figures with a short explanation of each. The page
uses inline CSS and names its images by relative file name: the directory can be moved, zipped
or opened offline. Every file is written atomically, the page last, so an interrupted report
never leaves a page pointing at a missing figure.

The figures themselves are functions in :mod:`scratchnet.app.figures`.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.app.datasets import load_fashion_mnist
from scratchnet.app.evaluation import Evaluation, evaluate_model, model_labels
from scratchnet.app.figures import (
    DPI,
    confusion_matrix_figure,
    learning_curves_figure,
    mistakes_figure,
    predictions_figure,
    sample_images_figure,
    save_figure,
    tsne_embeddings,
    tsne_figure,
)
from scratchnet.estimator.atomic import atomic_write_text
from scratchnet.estimator.trained_model import TrainedModel


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
    record = model.record

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
        (lambda: learning_curves_figure(record.history),
         _Section("learning_curves.png", "Learning curves",
                  "Loss and accuracy after each epoch on the training images and on the held-out "
                  "validation images. The training values are averaged over each epoch while "
                  "the weights still change and dropout is on, so they can trail the validation "
                  "values. A validation curve that turns up while the training curve keeps "
                  "falling means overfitting. " + (
                      "The weights of the best validation epoch are the ones kept."
                      if record.restored_best_weights else
                      "The weights of the last epoch are the ones kept (the learning rate "
                      "anneals to the end, so they are the intended result)."))),
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
    record = model.record
    esc = html.escape
    train_s = record.metrics.training_seconds
    cards = [
        ("test accuracy", f"{ev.accuracy:.2%}"),
        ("preset", record.preset or "n/a"),
        ("epochs", str(record.epochs_run)),
        ("training time", f"{train_s:.1f} s" if train_s is not None else "n/a"),
        ("training images", f"{record.n_train:,}" if record.n_train is not None else "n/a"),
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
    param_text = ", ".join(f"{k}={v}" for k, v in record.params.items())
    created = record.created or ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scratchnet report: {esc(record.preset or "model")}</title>
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
