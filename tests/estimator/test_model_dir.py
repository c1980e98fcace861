"""The model directory: round trip, atomic saves, and every way a model file can be wrong."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from scratchnet.estimator.atomic import LOCK_FILE
from scratchnet.estimator.model_dir import MODEL_JSON, ModelFileError, load_model, save_model
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.layers import Dense, Dropout, ReLU
from scratchnet.nn.network import Sequential


def _model(seed: int = 0) -> TrainedModel:
    rng = np.random.default_rng(seed)
    net = Sequential(
        [Dense(784, 16, init="he", rng=rng), ReLU(), Dropout(0.2, rng=rng), Dense(16, 10, rng=rng)]
    ).flatten()
    X = rng.integers(0, 256, size=(50, 784)).astype(np.uint8)
    return TrainedModel(
        network=net,
        scaler=Standardizer.fit(X),
        class_names=[f"c{i}" for i in range(10)],
        meta={
            "history": {"loss": [1.0, 0.5]},
            "metrics": {"test_accuracy": 0.5},
            "labels": list(range(10)),
        },
    )


@pytest.fixture
def saved(tmp_path):
    model = _model()
    save_model(model, tmp_path / "m")
    return model, tmp_path / "m"


def _weights_file(directory):
    return directory / json.loads((directory / MODEL_JSON).read_text())["weights"]["file"]


def test_round_trip_gives_identical_predictions(saved):
    model, directory = saved
    X = np.random.default_rng(1).integers(0, 256, size=(20, 784)).astype(np.uint8)
    loaded = load_model(directory)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.class_names == model.class_names
    assert loaded.meta["history"] == {"loss": [1.0, 0.5]}
    assert loaded.meta["labels"] == list(range(10))


def test_directory_holds_json_and_safetensors_only(saved):
    _, directory = saved
    names = sorted(p.name for p in directory.iterdir())
    assert names[:2] == [LOCK_FILE, MODEL_JSON] and len(names) == 3
    assert names[2].startswith("weights-") and names[2].endswith(".safetensors")
    doc = json.loads((directory / MODEL_JSON).read_text())
    assert doc["format_version"] == 1
    assert len(doc["preprocessing"]["mean"]) == 784
    assert [layer["type"] for layer in doc["architecture"]] == ["Dense", "ReLU", "Dropout", "Dense"]


def test_resave_replaces_weights_and_leaves_no_temp_files(saved):
    _, directory = saved
    other = _model(seed=5)
    save_model(other, directory)
    files = sorted(p.name for p in directory.iterdir())
    assert len(files) == 3 and files[0] == LOCK_FILE
    assert not any(f.endswith(".tmp") for f in files)
    X = np.zeros((3, 784), dtype=np.uint8)
    np.testing.assert_array_equal(load_model(directory).predict_proba(X), other.predict_proba(X))


def test_interrupted_save_keeps_the_previous_model(saved, monkeypatch):
    model, directory = saved
    import scratchnet.estimator.model_dir as mf

    def crash(path, text):
        raise KeyboardInterrupt  # as if Ctrl-C arrived between the weights and model.json

    monkeypatch.setattr(mf, "atomic_write_text", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(_model(seed=9), directory)
    monkeypatch.undo()
    X = np.zeros((2, 784), dtype=np.uint8)
    np.testing.assert_array_equal(load_model(directory).predict_proba(X), model.predict_proba(X))


def test_missing_directory_and_json(tmp_path):
    with pytest.raises(ModelFileError, match="not a model directory"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="model.json: missing"):
        load_model(tmp_path / "empty")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t[: len(t) // 2], "corrupt or truncated JSON"),
        (lambda t: "\x00\xff garbage", "corrupt or truncated JSON"),
        (lambda t: json.dumps({"format": "other"}), "not a scratchnet model"),
        (lambda t: t.replace('"format_version": 1', '"format_version": 99'), "format_version.*99"),
        (lambda t: t.replace('"class_names"', '"klass_names"'), "'class_names': missing"),
        (lambda t: t.replace('"Dense"', '"Bogus"', 1), "unknown layer type 'Bogus'"),
        (lambda t: t.replace('"out_features": 16', '"out_features": 17'), "shape"),
    ],
)
def test_bad_model_json_is_named(saved, mutate, message):
    _, directory = saved
    path = directory / MODEL_JSON
    path.write_text(mutate(path.read_text()))
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(directory)
    assert str(path.name) in str(info.value) or "weights-" in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_weights_are_named(saved, damage):
    _, directory = saved
    weights = _weights_file(directory)
    blob = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(blob[: len(blob) // 3])
    elif damage == "flip":
        blob = bytearray(blob)
        blob[-5] ^= 0xFF  # one flipped bit in a weight: tampering, caught by the hash
        weights.write_bytes(bytes(blob))
    else:
        weights.unlink()
    with pytest.raises(ModelFileError) as info:
        load_model(directory)
    assert weights.name in str(info.value)


def test_tampered_weights_with_matching_hash_but_wrong_shapes(saved, tmp_path):
    """A consistent but wrong pair (weights of another architecture) is refused by shape."""
    _, directory = saved
    other = tmp_path / "other"
    rng = np.random.default_rng(0)
    net = Sequential([Dense(784, 8, rng=rng), ReLU(), Dense(8, 10, rng=rng)])
    save_model(
        TrainedModel(net, Standardizer.fit(np.zeros((2, 784))), [str(i) for i in range(10)]), other
    )
    doc = json.loads((directory / MODEL_JSON).read_text())
    other_doc = json.loads((other / MODEL_JSON).read_text())
    shutil.copy(_weights_file(other), directory / other_doc["weights"]["file"])
    doc["weights"] = other_doc["weights"]
    (directory / MODEL_JSON).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="missing|shape"):
        load_model(directory)


def test_weights_path_cannot_escape_the_directory(saved):
    _, directory = saved
    doc = json.loads((directory / MODEL_JSON).read_text())
    doc["weights"]["file"] = "../../etc/passwd"
    (directory / MODEL_JSON).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="plain file name"):
        load_model(directory)


def test_standardizer_matches_sklearn_scale():
    from sklearn.preprocessing import scale

    X = np.random.default_rng(0).integers(0, 256, size=(100, 784)).astype(np.float64)
    X[:, 0] = 0  # a constant pixel, as the dataset's corners are
    got = Standardizer.fit(X).transform(X, dtype=np.float64)
    np.testing.assert_allclose(got, scale(X), atol=1e-10)


def test_preprocess_rejects_wrong_pixel_count(saved):
    model, _ = saved
    with pytest.raises(ValueError, match="784 pixels"):
        model.predict_proba(np.zeros((2, 100)))


def test_hidden_representation_is_last_hidden_layer(saved):
    model, _ = saved
    X = np.zeros((4, 784), dtype=np.uint8)
    assert model.hidden_representation(X).shape == (4, 16)
