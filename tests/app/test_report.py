"""The report: a real (small) model, a real report directory, and the figure functions."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

import numpy as np
import pytest

from scratchnet.app.datasets import CLASS_NAMES, DatasetError
from scratchnet.app.evaluation import evaluate_model
from scratchnet.app.figures import (
    confusion_matrix_figure,
    learning_curves_figure,
    mistakes_figure,
    predictions_figure,
    sample_images_figure,
    tsne_embeddings,
    tsne_figure,
)
from scratchnet.app.report import write_report

SECTIONS = ["metrics", "samples", "learning_curves", "predictions", "confusion_matrix",
            "mistakes", "tsne"]
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


@pytest.fixture(scope="module")
def model():
    from scratchnet.app.experiment import train_preset

    try:
        return train_preset("mlp", epochs=2, limit=4000, seed=0)  # ~1 s, about 80% accurate
    except DatasetError as exc:
        pytest.skip(f"Fashion-MNIST not available: {exc}")


@pytest.fixture(scope="module")
def report(model, tmp_path_factory):
    import matplotlib

    style = dict(matplotlib.rcParams)
    out = tmp_path_factory.mktemp("report")
    index = write_report(model, out, tsne_samples=120, seed=0)
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


def test_index_is_a_well_formed_self_contained_page(report):
    assert report.name == "index.html" and report.is_file()
    page = _parse(report)
    assert page.links == []  # no stylesheet, script or link to fetch: inline CSS only
    assert len(page.images) == len(SECTIONS) - 1
    for src in page.images:
        assert "/" not in src and ":" not in src  # a file name beside index.html
        assert (report.parent / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(report.parent.glob(".*.tmp"))  # atomic writes left no temp files


def test_page_shows_the_metrics_and_every_section(report, model):
    page = _parse(report)
    assert page.ids == SECTIONS
    text = " ".join(page.text)
    accuracy = evaluate_model(model).accuracy
    assert f"{accuracy:.2%}" in text
    for name in CLASS_NAMES:
        assert name in text
    for words in ("precision", "recall", "F1", "training time", "preset", "epochs",
                  "macro average", "Confusion matrix", "t-SNE"):
        assert words in text
    assert model.meta["preset"] in text and f"{model.meta['metrics']['training_seconds']:.1f} s" \
        in text


def test_report_without_history_or_metadata(model, tmp_path):
    bare = dataclasses.replace(model, meta={})
    out = tmp_path / "old"
    out.mkdir()
    (out / "index.html").write_text("an older report")
    index = write_report(bare, out, tsne_samples=40, seed=1)
    text = " ".join(_parse(index).text)  # the old page was replaced
    assert "n/a" in text
    assert (out / "learning_curves.png").is_file()


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
    assert _is_figure(learning_curves_figure(model.meta["history"]))
    assert _is_figure(predictions_figure(X, y, proba, names, n=10, columns=5, rng=rng))
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (y, proba.argmax(axis=1)), 1)
    assert _is_figure(confusion_matrix_figure(cm, names))
    assert _is_figure(mistakes_figure(X, y, proba, names, n=5, columns=5))
    maps = tsne_embeddings({"pixels": X[:50] / 255.0}, seed=0)
    assert maps["pixels"].shape == (50, 2)
    assert _is_figure(tsne_figure(maps, y[:50], names))


def test_tsne_is_reproducible(small_test_set):
    X, _ = small_test_set
    a = tsne_embeddings({"x": X[:40] / 255.0}, seed=3)["x"]
    b = tsne_embeddings({"x": X[:40] / 255.0}, seed=3)["x"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("history", [
    {},
    {"loss": [], "accuracy": []},
    {"loss": [0.9, 0.5, 0.4], "accuracy": [0.7, 0.8, 0.85], "seconds": [1, 1, 1]},
    {"loss": [0.9, 0.5], "accuracy": [0.7, 0.8], "val_loss": [], "val_accuracy": []},
])
def test_learning_curves_without_validation(history):
    fig = learning_curves_figure(history)
    assert _is_figure(fig)
    legends = [t.get_text() for ax in fig.axes if ax.get_legend()
               for t in ax.get_legend().get_texts()]
    assert not any("validation" in t for t in legends)


def test_mistakes_figure_with_no_mistakes(small_test_set):
    X, y = small_test_set
    proba = np.eye(10)[y]  # (N, C), always right
    fig = mistakes_figure(X, y, proba, list(CLASS_NAMES))
    assert _is_figure(fig)
    assert any("no mistakes" in t.get_text() for ax in fig.axes for t in ax.texts)
