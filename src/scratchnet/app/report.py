"""The report on a trained model: PNG figures and one ``index.html``.

``write_report`` scores the model on the Fashion-MNIST test set and writes, into one directory,
a figure per question a reader asks (what do the classes look like, did training converge, how
fast and with which learning rate, what does the model get right and wrong, are its
probabilities honest, which classes does it confuse, what has it learned), the layers with their
parameter counts, the library versions and machine, and an HTML page that explains each.

The page uses inline CSS and names its images by relative file name: the directory can be moved,
zipped or opened offline. With ``self_contained=True`` the images are inlined as base64 ``data:``
URLs instead and ``index.html`` is the only file written, to mail or attach on its own. Every
file is written atomically, the page last, so an interrupted report never leaves a page pointing
at a missing figure.

The figures are functions in the ``figures*`` modules, the page layout in
:mod:`scratchnet.app.report_page`; this module decides what the page says.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from scratchnet.app.architecture_table import architecture_table
from scratchnet.app.calibration import reliability
from scratchnet.app.datasets import load_fashion_mnist
from scratchnet.app.evaluation import Evaluation, evaluate_model, model_labels
from scratchnet.app.figures import DPI, confusion_matrix_figure, figure_bytes, sample_images_figure
from scratchnet.app.figures_calibration import reliability_figure
from scratchnet.app.figures_predictions import mistakes_figure, predictions_figure
from scratchnet.app.figures_training import (
    best_validation_epoch,
    learning_curves_figure,
    schedule_figure,
)
from scratchnet.app.figures_tsne import tsne_embeddings, tsne_figure
from scratchnet.app.report_page import (
    Section,
    architecture_html,
    data_url,
    metrics_table,
    render_page,
)
from scratchnet.app.report_text import (
    calibration_text,
    environment_section,
    kept_weights_text,
    schedule_text,
    top_confusions,
)
from scratchnet.estimator.atomic import atomic_write_bytes, atomic_write_text
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.training_record import TrainingRecord

CALIBRATION_BINS = 15  # as Guo et al. (2017), whose ECE this is


def write_report(
    model: TrainedModel,
    out_dir: str | os.PathLike,
    data_dir=None,
    tsne_samples: int = 1500,
    seed: int = 0,
    self_contained: bool = False,
) -> Path:
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
    self_contained : bool, default=False
        Inline every image in ``index.html`` as a base64 ``data:`` URL and write no PNG files:
        the page alone is the report (about a third larger than the PNGs it carries).

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
    rel = reliability(ev.proba, ev.y_true, n_bins=CALIBRATION_BINS)
    kept_best = record.restored_best_weights and best_validation_epoch(record.history) is not None
    layers = architecture_table(model.network, model.input_shape)

    sub = np.sort(rng.choice(X.shape[0], min(tsne_samples, X.shape[0]), replace=False))
    hidden = model.hidden_representation(X[sub])  # (n, H)
    maps = tsne_embeddings(
        {
            "raw pixels (784 values)": X[sub] / 255.0,
            f"last hidden layer ({hidden.shape[1]} units)": hidden,
        },
        seed=seed,
    )
    # (figure builder or None, section): each figure is built, encoded and dropped in turn.
    sections = [
        (
            None,
            Section(
                "architecture",
                "Architecture",
                "The layers in order, with the shape of one image's output and the "
                "number of trained values of each.",
                table_html=architecture_html(layers),
            ),
        ),
        (
            lambda: sample_images_figure(X, ev.y_true, names, rng=rng),
            Section(
                "samples",
                "The classes",
                "Random test images of each class, 28 x 28 gray pixels with the item light on "
                "a black background: this is all the network sees.",
            ),
        ),
        (
            lambda: learning_curves_figure(record.history, kept_best=kept_best),
            Section(
                "learning_curves",
                "Learning curves",
                "Loss and accuracy after each epoch on the training images and on the held-out "
                "validation images. The training values are averaged over each epoch while "
                "the weights still change and dropout is on, so they can trail the validation "
                "values. A validation curve that turns up while the training curve keeps "
                "falling means overfitting. " + kept_weights_text(record),
            ),
        ),
        (
            lambda: schedule_figure(record.history),
            Section("schedule", "Learning rate and time per epoch", schedule_text(record)),
        ),
        (
            lambda: predictions_figure(X, ev.y_true, ev.proba, names, rng=rng),
            Section(
                "predictions",
                "Predictions",
                "Random test images with the predicted class and its probability: green when "
                "right, red (with the true class) when wrong.",
            ),
        ),
        (
            lambda: reliability_figure(rel),
            Section("calibration", "Calibration", calibration_text(rel, ev)),
        ),
        (
            lambda: confusion_matrix_figure(ev.confusion, names),
            Section(
                "confusion_matrix",
                "Confusion matrix",
                "How often each true class (row) was predicted as each class (column). The "
                "diagonal holds the right answers; dark cells off it are the classes the "
                f"network mixes up. {top_confusions(ev.confusion, names)}",
            ),
        ),
        (
            lambda: mistakes_figure(X, ev.y_true, ev.proba, names),
            Section(
                "mistakes",
                "Most confident mistakes",
                "The wrong predictions made with the highest probability, each with the two "
                "classes the network found likeliest and the probability it gave the true "
                "class. A true class in second place is a near miss; one near 0% is a "
                "confident error, or an ambiguous or mislabelled image.",
            ),
        ),
        (
            lambda: tsne_figure(maps, ev.y_true[sub], names),
            Section(
                "tsne",
                "What the network has learned (t-SNE)",
                f"t-SNE places {sub.size} random test images in the plane so that images "
                "with similar features stay close. Left: the features are the raw pixels, "
                "where classes of similar shape overlap. Right: they are the activations of "
                f"the network's last hidden layer ({hidden.shape[1]} units), where training "
                "has pulled each class together and pushed the classes apart.",
            ),
        ),
    ]
    for build, section in sections:
        if build is None:
            continue
        png = figure_bytes(build(), "png", dpi=DPI)
        if self_contained:
            section.image = data_url(png)
        else:
            section.image = f"{section.id}.png"
            atomic_write_bytes(out / section.image, png)
    pages = [s for _, s in sections] + [environment_section(record)]
    page = _page(record, ev, names, layers.total_params, pages, time.perf_counter() - start, seed)
    index = out / "index.html"
    atomic_write_text(index, page)
    return index


def _page(
    record: TrainingRecord,
    ev: Evaluation,
    names: list[str],
    n_params: int,
    sections: list[Section],
    seconds: float,
    seed: int,
) -> str:
    train_s = record.metrics.training_seconds
    best = best_validation_epoch(record.history)
    n_epochs = len(record.history.get("loss") or [])
    kept = (
        "n/a"
        if n_epochs == 0
        else f"epoch {best} (best validation)"
        if record.restored_best_weights and best
        else f"epoch {n_epochs} (last)"
    )
    cards = [
        ("test accuracy", f"{ev.accuracy:.2%}"),
        ("preset", record.preset or "n/a"),
        ("epochs", str(record.epochs_run)),
        ("weights kept", kept),
        ("parameters", f"{n_params:,}"),
        ("training time", f"{train_s:.1f} s" if train_s is not None else "n/a"),
        ("training images", f"{record.n_train:,}" if record.n_train is not None else "n/a"),
        ("test images", f"{int(ev.support.sum()):,}"),
    ]
    created = record.created or ""
    return render_page(
        title=f"scratchnet report: {record.preset or 'model'}",
        subtitle="A neural network written from scratch in NumPy, scored on the 10,000 "
        f"Fashion-MNIST test images{f' (trained {created})' if created else ''}.",
        cards=cards,
        metrics_text="Precision: of the images predicted as a class, the fraction that are. "
        "Recall: of the images of a class, the fraction found. F1: their harmonic "
        "mean.",
        metrics_table_html=metrics_table(ev, names),
        params_text=", ".join(f"{k}={v}" for k, v in record.params.items()) or "n/a",
        sections=sections,
        footer=f"Written by scratchnet in {seconds:.1f} s (seed {seed}).",
    )
