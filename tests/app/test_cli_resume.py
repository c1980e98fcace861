"""``scratchnet train`` checkpoints after every epoch, and ``train --resume DIR`` finishes an
interrupted run with the weights an uninterrupted run ends with."""

import numpy as np
import pytest

import scratchnet.app.commands.train as train_command
from scratchnet.app.checkpoint import read_checkpoint
from scratchnet.app.cli import main
from scratchnet.estimator.model_dir import CHECKPOINT_FILE, load_model

RUN = ["--epochs", "3", "--limit", "1200", "--seed", "3", "--quiet"]
BATCHES_PER_EPOCH = 10  # 1,200 images in batches of 128


def _stop_after(monkeypatch, batches):
    """Ctrl-C, as the stop flag sees it, after ``batches`` batches."""
    calls = {"n": 0}

    class FlagAfter(train_command.StopFlag):
        def __call__(self):
            calls["n"] += 1
            self.requested = self.requested or calls["n"] >= batches
            return self.requested

    monkeypatch.setattr(train_command, "StopFlag", FlagAfter)


def test_resume_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["train", *RUN, "--out", str(whole)]) == 0
    assert not (whole / CHECKPOINT_FILE).exists()  # a completed run leaves no checkpoint

    _stop_after(monkeypatch, BATCHES_PER_EPOCH + 4)  # in the second epoch
    assert main(["train", *RUN, "--out", str(cut)]) == 0
    assert "resume with `scratchnet train --resume" in capsys.readouterr().out
    state, run = read_checkpoint(cut)
    assert len(state.info["history"]["loss"]) == 1 and run["epochs"] == 3
    monkeypatch.undo()

    assert main(["train", "--resume", str(cut), "--quiet"]) == 0
    a, b = load_model(whole), load_model(cut)
    for name, value in a.network.state_dict().items():
        np.testing.assert_array_equal(b.network.state_dict()[name], value)
    assert b.record.history["loss"] == a.record.history["loss"]
    assert not (cut / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "5"], "drop --epochs"),
    ([], "no checkpoint"),
])
def test_resume_errors_are_one_line(tmp_path, extra, message, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--resume", str(tmp_path / "empty"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_damaged_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / CHECKPOINT_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    assert main(["train", "--resume", str(tmp_path / "d")]) == 2
    assert "not a scratchnet checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "demo"])
def test_an_empty_out_path_is_refused_before_anything_runs(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights-0123456789abcdef.safetensors").write_bytes(b"the user's file")
    assert main([command, "--out", ""]) == 2
    assert "an empty path" in capsys.readouterr().err
    assert (tmp_path / "weights-0123456789abcdef.safetensors").exists()


def test_an_exploding_run_is_one_line_and_saves_nothing(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(["train", "--learning-rate", "1e6", "--epochs", "3", "--limit", "1000",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "training diverged at epoch 1" in err
    assert not (out / "model.json").exists()


def test_one_training_image_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--limit", "1", "--epochs", "1", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "at least 2 classes" in err and "np.int64" not in err and err.count("\n") == 1
