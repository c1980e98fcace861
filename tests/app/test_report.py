"""The report: a real (small) model, a real report directory, the figure functions, the
calibration numbers and the wording of the page."""

from __future__ import annotations

import base64
import dataclasses
import os
import platform
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

from scratchnet.app.architecture_table import architecture_table
from scratchnet.app.calibration import reliability
from scratchnet.app.cli import main
from scratchnet.app.datasets import CLASS_NAMES, DatasetError
from scratchnet.app.environment import environment_rows
from scratchnet.app.evaluation import evaluate_model
from scratchnet.app.figures import confusion_matrix_figure, sample_images_figure
from scratchnet.app.figures_calibration import reliability_figure
from scratchnet.app.figures_predictions import (
    confident_mistakes,
    mistake_title,
    mistakes_figure,
    percent,
    predictions_figure,
)
from scratchnet.app.figures_training import learning_curves_figure, schedule_figure
from scratchnet.app.figures_tsne import tsne_embeddings, tsne_figure
from scratchnet.app.report import write_report
from scratchnet.app.report_text import kept_weights_text
from scratchnet.estimator.model_dir import load_model, save_model
from scratchnet.estimator.training_record import TrainingRecord

SECTIONS = [
    "metrics",
    "architecture",
    "samples",
    "learning_curves",
    "schedule",
    "predictions",
    "calibration",
    "confusion_matrix",
    "mistakes",
    "tsne",
    "environment",
]
FIGURES = [s for s in SECTIONS if s not in ("metrics", "architecture", "environment")]
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}
PNG = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def model():
    from scratchnet.app.experiment import train_preset

    try:
        return train_preset("mlp", epochs=2, limit=4000, seed=0)  # ~1 s, about 80% accurate
    except DatasetError as exc:
        pytest.skip(f"Fashion-MNIST not available: {exc}")


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    """The model through its model directory, so its record carries the training environment."""
    directory = tmp_path_factory.mktemp("model") / "mlp"
    save_model(model, directory)
    return directory


@pytest.fixture(scope="module")
def report(saved, tmp_path_factory):
    import matplotlib

    style = dict(matplotlib.rcParams)
    out = tmp_path_factory.mktemp("report")
    index = write_report(load_model(saved), out, tsne_samples=120, seed=0)
    assert dict(matplotlib.rcParams) == style  # no global style was set
    return index


class _Page(HTMLParser):
    """Collects what the tests check, and fails on tags closed out of order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.ids, self.links, self.text = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("link", "script") or "href" in attrs:
            self.links.append(attrs.get("href") or attrs.get("src"))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(index):
    page = _Page()
    page.feed(index.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == []
    return page


def test_index_is_a_well_formed_page_with_its_figures_beside_it(report):
    assert report.name == "index.html" and report.is_file()
    page = _parse(report)
    assert page.links == []  # no stylesheet, script or link to fetch: inline CSS only
    assert page.images == [f"{name}.png" for name in FIGURES]
    for src in page.images:
        assert (report.parent / src).read_bytes()[:8] == PNG
    assert not list(report.parent.glob(".*.tmp"))  # atomic writes left no temp files


def test_page_shows_the_metrics_and_every_section(report, model):
    page = _parse(report)
    assert page.ids == SECTIONS
    text = " ".join(page.text)
    ev = evaluate_model(model)
    assert f"{ev.accuracy:.2%}" in text
    for name in CLASS_NAMES:
        assert name in text
    for words in (
        "precision",
        "recall",
        "F1",
        "training time",
        "preset",
        "epochs",
        "macro average",
        "Confusion matrix",
        "t-SNE",
        "weights kept",
        "expected calibration error",
        "Learning rate and time per epoch",
        "Architecture",
        "Library versions and machine",
    ):
        assert words in text
    record = model.record
    assert record.preset in text and f"{record.metrics.training_seconds:.1f} s" in text
    # calibration: the ECE of the same probabilities, computed here
    assert f"{reliability(ev.proba, ev.y_true).ece:.2%} here" in text
    # architecture: every Dense row and the total count of trained values
    n_params = sum(p.size for layer in model.network.layers for p in layer.params.values())
    assert n_params == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert f"{n_params:,}" in text and "784 -> 256" in text and "128 -> 10" in text
    # the weights sentence for this record (best validation epoch restored)
    assert kept_weights_text(record) in text


def test_page_names_versions_at_training_and_now(report, saved):
    import sklearn

    recorded = load_model(saved).record.environment
    assert recorded and recorded["numpy"] == np.__version__
    text = " ".join(_parse(report).text)
    for value in (
        np.__version__,
        platform.python_version(),
        sklearn.__version__,
        platform.platform(),
        "CPU count",
        "at training",
        "this report",
    ):
        assert value in text
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert re.search(rf"CPU count (not recorded|\S+) {cpus}\b", " ".join(text.split()))


def test_self_contained_report_is_one_file_that_opens_anywhere(saved, tmp_path):
    """Through the CLI; a record that keeps the last epoch shows the other weights sentence."""
    doc_model = load_model(saved)
    params = dict(doc_model.meta["params"], restore_best_weights=False)
    last = dataclasses.replace(doc_model, meta=dict(doc_model.meta, params=params))
    directory = tmp_path / "model"
    save_model(last, directory)
    out = tmp_path / "single"
    assert (
        main(
            [
                "report",
                str(directory),
                "--out",
                str(out),
                "--self-contained",
                "--tsne-samples",
                "40",
            ]
        )
        == 0
    )
    assert [p.name for p in out.iterdir()] == ["index.html"]  # no PNG beside it
    moved = tmp_path / "elsewhere" / "report.html"
    moved.parent.mkdir()
    shutil.move(out / "index.html", moved)
    page = _parse(moved)
    assert page.ids == SECTIONS and page.links == []
    assert len(page.images) == len(FIGURES)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")  # never a relative path
        assert base64.b64decode(src.split(",", 1)[1], validate=True)[:8] == PNG
    text = " ".join(page.text)
    assert "The weights kept are those of the last epoch (2)" in text
    assert "The cosine learning-rate schedule anneals to the last epoch" in text
    assert "epoch 2 (last)" in text
    _open_in_browser(moved)


def _open_in_browser(path):
    """Every image of the page decodes in Debian's headless Chromium (skip without it)."""
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI must run the browser tests")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(path.as_uri())
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : -1)"
            )
        finally:
            browser.close()
    assert len(widths) == len(FIGURES) and min(widths) > 100


def test_report_without_history_or_metadata(model, tmp_path):
    bare = dataclasses.replace(model, meta={})
    out = tmp_path / "old"
    out.mkdir()
    (out / "index.html").write_text("an older report")
    index = write_report(bare, out, tsne_samples=40, seed=1)
    text = " ".join(_parse(index).text)  # the old page was replaced
    assert "n/a" in text
    assert "which epoch's weights were kept is unknown" in text
    assert "carries no record of its training environment" in text
    assert (out / "learning_curves.png").is_file() and (out / "schedule.png").is_file()


# --- the weight-selection sentence ------------------------------------------------------------
def _record(restore=None, schedule="cosine", val=(0.80, 0.85, 0.84), epochs=3, **params):
    n = len(val) if val else 3
    history = {
        "loss": [1.0, 0.6, 0.5][:n],
        "accuracy": [0.7, 0.8, 0.85][:n],
        "val_accuracy": list(val or []),
    }
    if restore is not None:
        params["restore_best_weights"] = restore
    if schedule:
        params["lr_schedule"] = schedule
    return TrainingRecord(params=dict(params, epochs=epochs), history=history, epochs_run=n)


@pytest.mark.parametrize(
    "record, expected",
    [
        (
            _record(),
            "those of epoch 2 of 3, the best validation accuracy (85.00%); the weights "
            "of the later epochs were discarded.",
        ),
        (
            _record(restore=True, val=(0.8, 0.84, 0.85)),
            "those of the last epoch (3), which also had the best validation accuracy (85.00%).",
        ),
        (
            _record(restore=False),
            "those of the last epoch (3), not of epoch 2, which had the best "
            "validation accuracy (85.00%). The cosine learning-rate schedule",
        ),
        (_record(restore=False, schedule=None), "(restore_best_weights=False)"),
        (
            _record(val=()),
            "No validation images were held out, so the weights kept are those of "
            "the last epoch (3).",
        ),
        (
            _record(epochs=10, early_stopping=True),
            "Training stopped after 3 of the 10 epochs asked for (early stopping).",
        ),
        (TrainingRecord(), "which epoch's weights were kept is unknown"),
    ],
)
def test_kept_weights_sentence_is_true_for_each_mode(record, expected):
    assert expected in kept_weights_text(record)


@pytest.mark.parametrize(
    "kept_best, val, label",
    [
        (True, (0.80, 0.85, 0.84), "best validation, weights kept (epoch 2)"),
        (False, (0.80, 0.85, 0.84), "best validation (epoch 2; last epoch kept)"),
        (False, (0.80, 0.84, 0.85), "best validation = last epoch, weights kept (epoch 3)"),
    ],
)
def test_learning_curves_say_which_weights_were_kept(kept_best, val, label):
    fig = learning_curves_figure(_record(val=val).history, kept_best=kept_best)
    legends = {t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()}
    assert legends == {"training", "validation", label}


# --- calibration ------------------------------------------------------------------------------
def test_expected_calibration_error_of_a_hand_example():
    """Confidences 0.9 (right), 0.95 (wrong), 0.5 (right) and 0.52 (wrong), 0.35 (right) fall
    in bins 13, 14, 7, 7 and 5 of 15; |acc - conf| * n per bin: 0.1, 0.95, |0.5 - 0.51| * 2,
    0.65, so ECE = (0.1 + 0.95 + 0.02 + 0.65) / 5 = 0.344."""
    proba = np.array(
        [
            [0.90, 0.05, 0.05],
            [0.95, 0.03, 0.02],
            [0.20, 0.50, 0.30],
            [0.10, 0.52, 0.38],
            [0.35, 0.33, 0.32],
        ]
    )
    y = np.array([0, 1, 1, 2, 0])
    rel = reliability(proba, y, n_bins=15)
    assert rel.ece == pytest.approx(0.344, abs=1e-12)
    assert np.flatnonzero(rel.count).tolist() == [5, 7, 13, 14]
    assert rel.count[7] == 2 and rel.accuracy[7] == 0.5 and rel.confidence[7] == pytest.approx(0.51)
    assert np.isnan(rel.accuracy[0]) and rel.count.sum() == 5


def test_expected_calibration_error_matches_its_definition():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 3
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # (N, C)
    y = rng.integers(0, 4, size=500)
    conf, right = proba.max(axis=1), proba.argmax(axis=1) == y
    ece = 0.0
    for lo, hi in zip(np.arange(10) / 10, np.arange(1, 11) / 10, strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += abs(right[inside].mean() - conf[inside].mean()) * inside.sum() / conf.size
    assert reliability(proba, y, n_bins=10).ece == pytest.approx(ece, abs=1e-12)
    one_hot = np.eye(4)[y]  # certain and right: perfectly calibrated, all in the top bin
    assert reliability(one_hot, y).ece == 0.0 and reliability(one_hot, y).count[-1] == 500
    assert reliability(one_hot, (y + 1) % 4).ece == 1.0  # certain and always wrong
    with pytest.raises(ValueError, match="proba"):
        reliability(proba[:0], y[:0])


# --- the figure functions ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_test_set(fashion_mnist_test):
    X, y = fashion_mnist_test
    return X[:300], y[:300]


def _is_figure(fig):
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    fig.canvas.draw()  # lays it out and renders it: errors in the drawing code show here
    return True


def test_figure_functions_return_figures(small_test_set, model):
    X, y = small_test_set
    proba = model.predict_proba(X)  # (N, C)
    names = list(model.class_names)
    rng = np.random.default_rng(0)
    assert _is_figure(sample_images_figure(X, y, names, per_class=3, rng=rng))
    assert _is_figure(learning_curves_figure(model.record.history))
    assert _is_figure(schedule_figure(model.record.history))
    assert _is_figure(predictions_figure(X, y, proba, names, n=10, columns=5, rng=rng))
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (y, proba.argmax(axis=1)), 1)
    assert _is_figure(confusion_matrix_figure(cm, names))
    assert _is_figure(mistakes_figure(X, y, proba, names, n=5, columns=5))
    assert _is_figure(reliability_figure(reliability(proba, y)))
    maps = tsne_embeddings({"pixels": X[:50] / 255.0}, seed=0)
    assert maps["pixels"].shape == (50, 2)
    assert _is_figure(tsne_figure(maps, y[:50], names))


def test_tsne_is_reproducible(small_test_set):
    X, _ = small_test_set
    a = tsne_embeddings({"x": X[:40] / 255.0}, seed=3)["x"]
    b = tsne_embeddings({"x": X[:40] / 255.0}, seed=3)["x"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "history",
    [
        {},
        {"loss": [], "accuracy": []},
        {"loss": [0.9, 0.5, 0.4], "accuracy": [0.7, 0.8, 0.85], "seconds": [1, 1, 1]},
        {"loss": [0.9, 0.5], "accuracy": [0.7, 0.8], "val_loss": [], "val_accuracy": []},
    ],
)
def test_learning_curves_without_validation(history):
    fig = learning_curves_figure(history)
    assert _is_figure(fig)
    legends = [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    assert not any("validation" in t for t in legends)


@pytest.mark.parametrize(
    "history, missing",
    [
        ({"loss": [0.9, 0.5]}, ["learning rate not recorded", "time per epoch not recorded"]),
        ({"lr": [1e-3, 5e-4]}, ["time per epoch not recorded"]),
        ({"lr": [1e-3, 1e-6], "seconds": [2.0, 1.5]}, []),
    ],
)
def test_schedule_figure_with_and_without_lr_and_seconds(history, missing):
    fig = schedule_figure(history)
    assert _is_figure(fig)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert [
        m
        for m in ("learning rate not recorded", "time per epoch not recorded")
        if any(t.startswith(m) for t in texts)
    ] == missing
    ax_lr = fig.axes[0]
    if "lr" in history:
        np.testing.assert_allclose(ax_lr.lines[0].get_ydata(), history["lr"])
        # a factor 1,000 is drawn on a log axis, a factor 2 on a linear one
        assert ax_lr.get_yscale() == ("log" if min(history["lr"]) < 1e-5 else "linear")
    if "seconds" in history:
        heights = [bar.get_height() for bar in fig.axes[1].patches]
        assert heights == history["seconds"]
        assert fig.axes[1].get_title() == "Time per epoch (total 3.5 s)"


def test_mistakes_figure_with_no_mistakes(small_test_set):
    X, y = small_test_set
    proba = np.eye(10)[y]  # (N, C), always right
    fig = mistakes_figure(X, y, proba, list(CLASS_NAMES))
    assert _is_figure(fig)
    assert any("no mistakes" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_mistakes_show_the_top_two_classes_and_the_true_class_probability(small_test_set, model):
    names = ["a", "b", "c"]
    assert (
        mistake_title(np.array([0.1, 0.6, 0.3]), 2, names)
        == "1. b 60.0%\n2. c 30.0%\ntrue: c 30.0%"
    )
    assert (
        mistake_title(np.array([0.99996, 0.00003, 0.00001]), 2, names)
        == "1. a >99.9%\n2. b <0.1%\ntrue: c <0.1%"
    )
    assert (percent(1.0), percent(0.0), percent(0.12345)) == ("100.0%", "0.0%", "12.3%")
    assert (percent(0.996, 0), percent(0.004, 0), percent(0.994, 0)) == (">99%", "<1%", "99%")
    X, y = small_test_set
    proba = model.predict_proba(X)  # (N, C)
    order = confident_mistakes(proba, y, 6)
    assert (proba[order].argmax(axis=1) != y[order]).all()
    assert np.all(np.diff(proba[order].max(axis=1)) <= 0)  # most confident first
    fig = mistakes_figure(X, y, proba, list(model.class_names), n=6, columns=3)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == [mistake_title(proba[i], int(y[i]), list(model.class_names)) for i in order]


# --- architecture and versions tables ---------------------------------------------------------
def test_architecture_table_of_the_cnn():
    from scratchnet.nn.architectures import cnn
    from scratchnet.nn.network import Sequential

    net = Sequential(cnn(rng=np.random.default_rng(0)))
    table = architecture_table(net, (784,))
    shapes = [r.output_shape for r in table.rows]
    assert shapes[0] == (1, 28, 28) and (32, 14, 14) in shapes and (64, 7, 7) in shapes
    assert (3136,) in shapes and shapes[-1] == (10,)
    assert table.total_params == sum(p.size for layer in net.layers for p in layer.params.values())
    assert table.total_buffers == 2 * (32 + 64)  # batch norms' running mean and variance
    conv = [r for r in table.rows if r.layer == "Conv2D"]
    assert [r.details for r in conv] == ["1 -> 32, 3x3", "32 -> 64, 3x3"]
    assert conv[0].params == 3 * 3 * 1 * 32  # no bias: batch norm follows


def test_environment_rows_without_a_record():
    rows = environment_rows(None, {"numpy": "2.0", "cpu_count": 4, "extra": "x"})
    assert rows == [("NumPy", "not recorded", "2.0"), ("CPU count", "not recorded", "4")]
    rows = environment_rows({"numpy": "1.0", "gpu": "none"}, {"numpy": "2.0"})
    assert rows == [("NumPy", "1.0", "2.0"), ("gpu", "none", "n/a")]
