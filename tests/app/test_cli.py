"""The command line, through ``main([...])`` and once per command through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchnet.app.cli import main
from scratchnet.estimator.model_dir import load_model

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m scratchnet ARGS`` as a user would, capturing its output."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "scratchnet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small real model trained through the CLI in a subprocess (1 epoch, 3000 images)."""
    out = tmp_path_factory.mktemp("cli") / "model"
    proc = run_cli(
        "train", "--model", "mlp", "--epochs", "1", "--limit", "3000", "--out", str(out), "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    return out


def test_train_writes_a_loadable_model(trained):
    model = load_model(trained)
    assert model.meta["preset"] == "mlp" and model.meta["epochs_run"] == 1
    # --limit counts training images; the validation images (1/12 of all) come on top.
    assert model.meta["n_train"] == 3000 and model.meta["n_validation"] == 273
    assert 0.6 < model.meta["metrics"]["test_accuracy"] <= 1.0


def test_evaluate_prints_metrics_and_confusion_matrix(trained, capsys):
    assert main(["evaluate", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "(10000 images)" in out
    assert "Ankle boot" in out and "confusion matrix" in out
    rows = [line for line in out.splitlines() if line.startswith("Trouser ")]
    assert len(rows) == 2  # one row in the per-class table, one in the confusion matrix


def test_evaluate_subprocess(trained):
    proc = run_cli("evaluate", str(trained))
    assert proc.returncode == 0 and "precision" in proc.stdout


def test_xor_gets_all_four_right(capsys):
    assert main(["xor"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok") == 4 and "all four right" in out


def test_xor_subprocess():
    proc = run_cli("xor", "--hidden", "2", "--seed", "3", "--epochs", "8000")
    assert "squared error" in proc.stdout
    assert proc.returncode in (0, 1)  # 2 units can get stuck; the exit status says so


def test_data_fetch_reports_where_the_data_is(capsys):
    assert main(["data", "fetch"]) == 0
    assert "Fashion-MNIST ready in" in capsys.readouterr().out


def test_tutorial_runs_both_variants(tmp_path, capsys):
    assert (
        main(["tutorial", "--epochs", "3", "--limit", "2000", "--out", str(tmp_path), "--quiet"])
        == 0
    )
    out = capsys.readouterr().out
    assert "raw" in out and "scaled" in out and "49.83%" in out and "87.03%" in out
    assert (tmp_path / "tutorial_error.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "/nonexistent/model"], "not a model directory"),
        (["train", "--model", "nope", "--out", "x"], "invalid choice"),
        (["train", "--epochs", "0", "--out", "x"], "expected 1..10000, got 0"),
        (["train", "--epochs", "many", "--out", "x"], "expected an integer, got 'many'"),
        (["train"], "--out"),
        (["predict", "/nonexistent/model", "a.png"], "not a model directory"),
        (["evaluate", "."], "model.json: missing"),
    ],
)
def test_bad_input_is_one_line_on_stderr(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_train_refuses_a_file_as_out(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["train", "--out", str(target), "--limit", "100", "--quiet"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_missing_data_error_names_the_fetch_command(tmp_path):
    env_dir = tmp_path / "empty"
    env_dir.mkdir()
    proc = run_cli("train", "--out", str(tmp_path / "m"), "--data-dir", str(env_dir), "--quiet")
    assert proc.returncode == 2
    assert "scratchnet data fetch" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_help_on_every_command(capsys):
    for command in [
        "train",
        "evaluate",
        "predict",
        "report",
        "tutorial",
        "xor",
        "demo",
        "data",
        "summary",
    ]:
        assert main([command, "--help"]) == 0
        assert "usage: scratchnet " + command in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("scratchnet ")


def test_interrupted_training_keeps_best_model(tmp_path, monkeypatch, capsys):
    """Ctrl-C (simulated by the stop flag turning true) ends training after the batch and still
    saves a model that loads and predicts."""
    import scratchnet.app.commands.train as train_command

    calls = {"n": 0}

    class FlagAfter(train_command.StopFlag):
        def __call__(self):
            calls["n"] += 1
            self.requested = calls["n"] > 30
            return self.requested

    monkeypatch.setattr(train_command, "StopFlag", FlagAfter)
    out = tmp_path / "m"
    assert main(["train", "--epochs", "5", "--limit", "6000", "--out", str(out), "--quiet"]) == 0
    model = load_model(out)
    assert model.meta["epochs_run"] == 1
    assert "interrupted: kept the best model of 1 epoch(s)" in capsys.readouterr().out
    assert model.predict(np.zeros((1, 784), dtype=np.uint8)).shape == (1,)
    assert json.loads((out / "model.json").read_text())["metrics"]["test_accuracy"] > 0.3


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    """Three test images saved as a user's files: a dark-on-light PNG, an upscaled colour JPEG
    and a plain gray PNG."""
    from PIL import Image

    from scratchnet.app.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("test")
    d = tmp_path_factory.mktemp("photos")
    paths = []
    img = X[0].reshape(28, 28)
    Image.fromarray(255 - img).save(d / "inverted.png")
    paths.append(d / "inverted.png")
    rgb = np.stack([X[1].reshape(28, 28)] * 3, axis=-1) * np.array([1.0, 0.6, 0.3])
    Image.fromarray(rgb.astype(np.uint8)).resize((224, 224), Image.BICUBIC).save(d / "big.jpg")
    paths.append(d / "big.jpg")
    Image.fromarray(X[2].reshape(28, 28)).save(d / "plain.png")
    paths.append(d / "plain.png")
    return paths


def test_predict_prints_top3(trained, photo_files, capsys):
    assert main(["predict", str(trained), *map(str, photo_files)]) == 0
    out = capsys.readouterr().out
    assert out.count("%") == 3 * len(photo_files)
    assert str(photo_files[0]) + ":" in out


def test_predict_json_subprocess(trained, photo_files):
    proc = run_cli("predict", str(trained), *map(str, photo_files), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["file"] for r in rows] == [str(p) for p in photo_files]
    for row in rows:
        assert len(row["probabilities"]) == 10
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-4
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)


def test_predict_bad_image_is_one_line(trained, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["predict", str(trained), str(bad)]) == 1  # a file failed; not a usage error
    err = capsys.readouterr().err
    assert "notes.png" in err and err.count("\n") == 1


def test_report_writes_index(trained, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(trained), "--out", str(out), "--tsne-samples", "60"]) == 0
    assert (out / "index.html").is_file() and "index.html" in capsys.readouterr().out
    assert len(list(out.glob("*.png"))) >= 5


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", str(10**20), "--out", "x"],
        ["xor", "--epochs", "0"],
        ["xor", "--learning-rate", "nan"],
    ],
)
def test_counts_and_rates_out_of_range_are_usage_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err


def test_a_diverging_run_is_one_line(tmp_path, capsys):
    from scratchnet.app.commands.train import cmd_train  # noqa: F401  (the command under test)

    code = main(["xor", "--learning-rate", "1e30", "--epochs", "50"])
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err
