"""ONNX export, checked by running the file with ONNX Runtime against scratchnet's predict_proba.

Real models (the ``mlp`` preset and the ``cnn`` preset, each trained for one epoch on a few
thousand images) are verified on the 10,000 real test images; small hand-built networks cover
every layer option the presets do not use (sigmoid, tanh, Conv2D bias/stride/uneven padding,
overlapping pooling, BatchNorm on dense features, float64).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from scratchnet import __version__
from scratchnet.app.cli import main
from scratchnet.app.datasets import CLASS_NAMES
from scratchnet.app.experiment import train_preset
from scratchnet.app.export import (
    CONVERTERS,
    INPUT,
    LABEL,
    OPSET,
    PROBABILITIES,
    TOLERANCE,
    ExportError,
    save_onnx,
    to_onnx,
    verify,
)
from scratchnet.app.export.verify import session
from scratchnet.estimator.model_dir import save_model
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.layers import (
    LAYER_TYPES,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from scratchnet.nn.network import Sequential


@pytest.fixture(scope="module")
def trained(fashion_mnist_test):
    """The two presets, trained once for this module: 1 epoch on the first 3,000 images."""
    return {name: train_preset(name, epochs=1, limit=3000, seed=0) for name in ("mlp", "cnn")}


@pytest.mark.parametrize("preset", ["mlp", "cnn"])
def test_export_matches_scratchnet_on_the_10000_test_images(trained, fashion_mnist_test, preset):
    model = trained[preset]
    X, y = fashion_mnist_test
    result = verify(model, to_onnx(model), X, y)
    assert result.n_images == 10_000
    assert result.argmax_agreement == 10_000, f"labels differ on {result.disagreements}"
    assert result.max_abs_diff <= TOLERANCE
    assert result.passed
    assert result.onnx_images_per_s > 0 and result.scratchnet_images_per_s > 0
    # A real, trained model (far better than chance), so the agreement is not trivial.
    assert result.onnx_accuracy > 0.6


def test_the_graph_says_what_it_takes_and_gives(trained):
    model = trained["cnn"]
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == OPSET
    (inp,) = proto.graph.input
    assert inp.name == INPUT
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 784
    assert [o.name for o in proto.graph.output] == [PROBABILITIES, LABEL]
    assert proto.graph.output[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["class_names"]) == list(CLASS_NAMES) == model.class_names
    assert meta["scratchnet_version"] == __version__
    assert meta["preset"] == "cnn"
    ops = {node.op_type for node in proto.graph.node}
    assert {"Conv", "MaxPool", "Relu", "Flatten", "MatMul", "Softmax", "ArgMax"} <= ops
    assert "Dropout" not in ops  # identity at inference


@pytest.mark.parametrize("batch", [1, 37])
def test_the_batch_size_is_dynamic(trained, fashion_mnist_test, batch):
    X, _ = fashion_mnist_test
    for model in trained.values():
        rows = X[100 : 100 + batch]
        sess = session(to_onnx(model))
        proba, label = sess.run([PROBABILITIES, LABEL], {INPUT: rows.astype(np.float32)})
        assert proba.shape == (batch, 10) and label.shape == (batch,)
        expected = model.predict_proba(rows)
        np.testing.assert_allclose(proba, expected, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(label, expected.argmax(axis=1))


def _hand_built(layers: list[Layer], input_shape, X: np.ndarray, dtype="float32") -> TrainedModel:
    """A model from ``layers`` with standardisation learned on ``X``; BatchNorm gets random
    parameters and running statistics, so that its folding is really tested."""
    rng = np.random.default_rng(1)
    for layer in layers:
        if isinstance(layer, BatchNorm):
            c = layer.num_features
            layer.params["weight"][...] = rng.uniform(0.5, 2.0, c)
            layer.params["bias"][...] = rng.normal(0, 0.5, c)
            layer.buffers["running_mean"][...] = rng.normal(0, 0.5, c)
            layer.buffers["running_var"][...] = rng.uniform(0.2, 3.0, c)
        if "bias" in layer.params and not isinstance(layer, BatchNorm):
            layer.params["bias"][...] = rng.normal(0, 0.1, layer.params["bias"].shape)
    return TrainedModel(
        network=Sequential(layers),
        scaler=Standardizer.fit(X),
        class_names=list(CLASS_NAMES),
        input_shape=tuple(input_shape),
        dtype=dtype,
    )


def _mlp_layers(rng, dtype):
    return [
        Dense(784, 32, bias=False, rng=rng, dtype=dtype),
        BatchNorm(32, dtype=dtype),
        Sigmoid(),
        Dropout(0.5, rng=rng),
        Dense(32, 16, rng=rng, dtype=dtype),
        Tanh(),
        Dense(16, 10, rng=rng, dtype=dtype),
    ]


def _cnn_layers(rng, dtype):
    # (1, 28, 28) -> (4, 14, 13) -> (4, 6, 6) -> (6, 6, 7) -> 252 -> 10: uneven padding and
    # stride tell ONNX's pads order (begin H, begin W, end H, end W) apart from a wrong one.
    return [
        Conv2D(1, 4, 3, stride=2, padding=(1, 0), rng=rng, dtype=dtype),
        MaxPool2D(3, stride=2),
        BatchNorm(4, dtype=dtype),
        Tanh(),
        Conv2D(4, 6, (3, 2), padding=1, bias=False, rng=rng, dtype=dtype),
        Sigmoid(),
        Flatten(),
        Dropout(0.3, rng=rng),
        Dense(252, 10, rng=rng, dtype=dtype),
        ReLU(),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_every_layer_option_exports(fashion_mnist_test, kind, dtype):
    X = fashion_mnist_test[0][:500]
    rng = np.random.default_rng(0)
    if kind == "mlp":
        model = _hand_built(_mlp_layers(rng, dtype), (784,), X, dtype)
    else:  # no Reshape layer: the graph reshapes to input_shape itself
        model = _hand_built(_cnn_layers(rng, dtype), (1, 28, 28), X, dtype)
    result = verify(model, to_onnx(model), X)
    assert result.passed, "\n".join(result.lines())
    assert np.ptp(model.predict_proba(X), axis=0).max() > 0.01  # not a constant output


def test_verification_can_fail(trained, fashion_mnist_test):
    X = fashion_mnist_test[0][:300]
    result = verify(trained["mlp"], to_onnx(trained["cnn"]), X)
    assert not result.passed
    assert result.max_abs_diff > TOLERANCE
    assert "verification FAILED" in result.lines()[-1]


def test_every_layer_type_of_scratchnet_has_a_converter():
    # A layer added to scratchnet.nn.layers fails here until the exporter learns it.
    assert set(CONVERTERS) == set(LAYER_TYPES)


class Swish(Layer):
    def forward(self, x, training=False):
        return x / (1.0 + np.exp(-x))


def test_an_unknown_layer_is_a_one_line_error_naming_it(fashion_mnist_test):
    X = fashion_mnist_test[0][:100]
    model = _hand_built([Dense(784, 10), Swish()], (784,), X)
    with pytest.raises(ExportError, match=r"layer 1 \(Swish\)") as info:
        to_onnx(model)
    assert "\n" not in str(info.value) and "Dense" in str(info.value)


def test_a_network_without_one_output_per_class_is_refused(fashion_mnist_test):
    model = _hand_built([Dense(784, 5)], (784,), fashion_mnist_test[0][:100])
    with pytest.raises(ExportError, match="10 classes"):
        to_onnx(model)


def test_save_onnx_writes_the_whole_file_and_no_temporary(trained, tmp_path):
    path = save_onnx(trained["mlp"], tmp_path / "mlp.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.onnx"]
    assert onnx.load(path) == to_onnx(trained["mlp"])


def test_cli_exports_and_verifies(trained, tmp_path, capsys):
    model_dir = save_model(trained["mlp"], tmp_path / "model")
    out = tmp_path / "mlp.onnx"
    assert main(["export", str(model_dir), str(out), "--verify"]) == 0
    printed = capsys.readouterr().out
    assert f"{out.stat().st_size:,} bytes" in printed
    assert "10,000/10,000" in printed and "verification passed" in printed
    assert "images/s" in printed


@pytest.mark.parametrize(
    "out, message", [("model.json", "must end in .onnx"), ("missing/m.onnx", "no such directory")]
)
def test_cli_bad_output_is_a_one_line_error(trained, tmp_path, capsys, out, message):
    model_dir = save_model(trained["mlp"], tmp_path / "model")
    assert main(["export", str(model_dir), str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize("preset", ["mlp", "cnn"])
def test_a_test_time_flip_model_exports_with_its_mirror_images(fashion_mnist_test, preset):
    """Per-pixel (mlp) and global (cnn) scaling: the graph mirrors the raw pixels, as
    TrainedModel.predict_proba does, and averages the two halves' probabilities."""
    model = train_preset(preset, epochs=1, limit=1500, seed=0,
                         overrides={"test_time_flip": True})
    assert model.test_time_flip
    X = fashion_mnist_test[0][:1000]
    proto = to_onnx(model)
    assert json.loads(json.dumps(dict((p.key, p.value) for p in proto.metadata_props)))[
        "test_time_flip"].startswith("true")
    result = verify(model, proto, X)
    assert result.passed, "\n".join(result.lines())
    plain = TrainedModel(**{**vars(model), "meta": {**model.meta, "params": {
        **model.meta["params"], "test_time_flip": False}}})
    assert not np.allclose(plain.predict_proba(X), model.predict_proba(X))
