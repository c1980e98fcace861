"""The model directory: round trip, atomic saves, and every way a model file can be wrong."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from scratchnet.estimator.atomic import LOCK_FILE, directory_lock
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


# --- no run destroys a model -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["", " "])
def test_an_empty_output_path_is_refused(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    user_file = tmp_path / "weights-0123456789abcdef.safetensors"
    user_file.write_bytes(b"the user's own file")
    with pytest.raises(ModelFileError, match="empty path"):
        save_model(_model(), path)
    assert user_file.read_bytes() == b"the user's own file"


def test_train_with_an_empty_out_keeps_the_users_files(tmp_path, monkeypatch, capsys):
    """`scratchnet train --out ""` used to save into the current directory and delete every
    weights-*.safetensors there."""
    from scratchnet.app.cli import main

    monkeypatch.chdir(tmp_path)
    user_file = tmp_path / "weights-0123456789abcdef.safetensors"
    user_file.write_bytes(b"the user's own file")
    (tmp_path / "notes.txt").write_text("mine")
    argv = ["train", "--model", "tutorial", "--limit", "300", "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", ""]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert user_file.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", user_file.name]


def test_a_non_empty_directory_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not a scratchnet model directory.*notes.txt"):
        save_model(_model(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_foreign_model_json_is_not_replaced(tmp_path):
    (tmp_path / MODEL_JSON).write_text('{"format": "someone else\'s"}')
    with pytest.raises(ModelFileError, match="refusing to replace it"):
        save_model(_model(), tmp_path)
    assert (tmp_path / MODEL_JSON).read_text() == '{"format": "someone else\'s"}'


def test_a_directory_of_scratchnet_files_only_is_accepted(tmp_path):
    """A save killed between the weights and model.json leaves only scratchnet's own files."""
    (tmp_path / "weights-0123456789abcdef.safetensors").write_bytes(b"orphan")
    (tmp_path / ".model.json.abc123.tmp").write_bytes(b"half")
    save_model(_model(), tmp_path)
    load_model(tmp_path)
    assert (tmp_path / "weights-0123456789abcdef.safetensors").exists()  # not ours to judge
    assert not (tmp_path / ".model.json.abc123.tmp").exists()  # a temp file of a killed save


def test_a_directory_holding_an_interrupted_runs_checkpoint_is_accepted(tmp_path):
    """`train --resume DIR` saves into the directory its checkpoint is in."""
    from scratchnet.app.checkpoint import CHECKPOINT_FILE
    from scratchnet.estimator.model_dir import CHECKPOINT_FILE as KNOWN_AS_OWN

    assert KNOWN_AS_OWN == CHECKPOINT_FILE  # one name, kept in two wings
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"state")
    (tmp_path / f".{CHECKPOINT_FILE}.abc123.tmp").write_bytes(b"half")
    save_model(_model(), tmp_path)
    load_model(tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == b"state"  # train removes it, not save


def test_only_the_previous_models_weights_are_removed(saved):
    """A weights file the previous model.json does not name (the user's, or another run's) is
    kept; the old code removed every weights-*.safetensors but the new one."""
    _, directory = saved
    previous = _weights_file(directory)
    other = directory / "weights-fedcba9876543210.safetensors"
    other.write_bytes(b"not this model's history")
    save_model(_model(seed=3), directory)
    assert not previous.exists()
    assert other.read_bytes() == b"not this model's history"
    load_model(directory)


def _hold_lock(directory, seconds: float) -> subprocess.Popen:
    """Another process holding the directory's lock for ``seconds``."""
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(directory / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_writer_waits_for_the_lock_then_refuses_in_one_line(saved, monkeypatch):
    model, directory = saved
    import scratchnet.estimator.model_dir as md

    monkeypatch.setattr(md, "LOCK_WAIT", 0.3)
    holder = _hold_lock(directory, 30)
    try:
        start = time.monotonic()
        with pytest.raises(ModelFileError, match="another scratchnet process") as info:
            save_model(_model(seed=4), directory)
        assert 0.3 <= time.monotonic() - start < 5 and "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    X = np.zeros((2, 784), dtype=np.uint8)  # the model in place is untouched
    np.testing.assert_array_equal(load_model(directory).predict_proba(X), model.predict_proba(X))


def test_a_second_writer_saves_once_the_first_is_done(saved, monkeypatch):
    _, directory = saved
    holder = _hold_lock(directory, 0.5)
    try:
        newer = _model(seed=6)
        save_model(newer, directory)  # waits about 0.5 s, then writes
    finally:
        holder.wait()
    X = np.zeros((2, 784), dtype=np.uint8)
    np.testing.assert_array_equal(load_model(directory).predict_proba(X), newer.predict_proba(X))


def test_the_lock_is_reentrant_within_a_process(saved):
    """A caller may hold the lock around a whole run and still save inside it."""
    _, directory = saved
    with directory_lock(directory, wait=0.1):
        save_model(_model(seed=7), directory)
    load_model(directory)


def test_the_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    import scratchnet.estimator.atomic as atomic

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        atomic.os,
        "fsync",
        lambda fd: (
            events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file"),
            real_fsync(fd),
        )[1],
    )
    monkeypatch.setattr(
        atomic.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1]
    )
    atomic.atomic_write_text(tmp_path / "f.txt", "x")
    assert events == ["fsync file", "rename", "fsync dir"]


def test_concurrent_trains_on_one_out_never_leave_an_unloadable_directory(tmp_path):
    """Two real `scratchnet train` processes on one --out, three rounds: the directory always
    loads, and holds exactly the weights its model.json names (the old code lost them in 1 of 6
    rounds: one run removed the other's weights as stale)."""
    out = tmp_path / "shared"
    cmd = [
        sys.executable,
        "-m",
        "scratchnet.app.cli",
        "train",
        "--model",
        "tutorial",
        "--limit",
        "500",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # Replacing a model takes --force where the CLI asks for it: both runs must then save.
    usage = subprocess.run([*cmd[:4], "--help"], capture_output=True, text=True, env=env).stdout
    cmd += ["--force"] if "--force" in usage else []
    for round_ in range(3):
        runs = [
            subprocess.Popen(
                [*cmd, "--seed", str(2 * round_ + k)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(2)
        ]
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
        load_model(out)
        weights = sorted(p.name for p in out.glob("weights-*.safetensors"))
        assert weights == [_weights_file(out).name]


# --- the environment the model was trained in ---------------------------------------------------
def test_model_json_records_blas_threads_and_library_versions(saved):
    import platform

    from threadpoolctl import threadpool_info

    import scratchnet

    _, directory = saved
    env = json.loads((directory / MODEL_JSON).read_text())["environment"]
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert env["blas_threads"] == blas[0]["num_threads"]  # 1: the tests run on one thread
    assert env["numpy"] == np.__version__ and env["scratchnet"] == scratchnet.__version__
    assert env["python"] == platform.python_version()
    assert load_model(directory).meta["environment"] == env


def test_an_environment_recorded_at_training_time_is_kept(tmp_path):
    model = _model()
    model.meta["environment"] = {"blas_threads": 2, "numpy": "1.0"}
    save_model(model, tmp_path / "m")
    assert load_model(tmp_path / "m").meta["environment"] == {"blas_threads": 2, "numpy": "1.0"}


def test_non_finite_values_in_the_record_are_saved_as_null(tmp_path):
    """NaN is not JSON: model.json must stay readable by any JSON parser."""
    model = _model()
    model.meta["history"] = {"loss": [1.0, float("nan")]}
    save_model(model, tmp_path / "m")
    text = (tmp_path / "m" / MODEL_JSON).read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in model.json"))
    assert load_model(tmp_path / "m").meta["history"] == {"loss": [1.0, None]}
