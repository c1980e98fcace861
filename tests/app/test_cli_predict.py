"""``scratchnet predict``: --json with --top, folders, a bad file among good ones, --save-input,
and (once, in a real subprocess) a closed pipe and the exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchnet.app.cli import main
from scratchnet.app.photos import load_photo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from scratchnet.app.experiment import train_preset
    from scratchnet.estimator.model_dir import save_model

    directory = tmp_path_factory.mktemp("predict") / "model"
    save_model(train_preset("mlp", epochs=1, limit=1000, seed=0), directory)
    return directory


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of three test images (PNG, an upscaled JPEG, a dark-on-light PNG), a text file
    and a file that claims to be a PNG but is not."""
    from scratchnet.app.datasets import load_fashion_mnist

    X, _ = load_fashion_mnist("test")
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(X[0].reshape(28, 28)).save(d / "a.png")
    Image.fromarray(X[1].reshape(28, 28)).resize((112, 112)).save(d / "b.jpg")
    Image.fromarray(255 - X[2].reshape(28, 28)).save(d / "c.png")
    (d / "notes.txt").write_text("not an image, and not named like one")
    (d / "broken.png").write_text("not an image either")
    return d


def good(photos) -> list[Path]:
    return [photos / "a.png", photos / "b.jpg", photos / "c.png"]


def test_json_honours_top_and_keeps_all_probabilities(model_dir, photos, capsys):
    assert main(["predict", str(model_dir), *map(str, good(photos)), "--json", "--top", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in rows] == [str(p) for p in good(photos)]
    for row in rows:
        top, probs = row["top"], row["probabilities"]
        assert len(top) == 2 and len(probs) == 10
        assert top[0]["probability"] >= top[1]["probability"]
        assert top[0]["class"] == row["label"] == max(probs, key=probs.get)
        assert all(probs[t["class"]] == t["probability"] for t in top)
        assert sorted(probs.values(), reverse=True)[:2] == [t["probability"] for t in top]
        assert abs(sum(probs.values()) - 1) < 1e-4


def test_a_directory_means_every_image_in_it_and_a_bad_file_fails_alone(model_dir, photos, capsys):
    code = main(["predict", str(model_dir), str(photos), "--json"])
    captured = capsys.readouterr()
    assert code == 1  # something failed; the rest was classified
    rows = json.loads(captured.out)
    assert [Path(r["file"]).name for r in rows] == ["a.png", "b.jpg", "c.png"]  # sorted
    errors = captured.err.splitlines()
    assert len(errors) == 1 and "broken.png" in errors[0] and "notes.txt" not in captured.err
    # The same files named one by one give the same probabilities.
    assert main(["predict", str(model_dir), *map(str, good(photos)), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == rows


def test_missing_file_and_empty_folder_each_get_a_line(model_dir, photos, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        [
            "predict",
            str(model_dir),
            str(empty),
            str(photos / "a.png"),
            str(tmp_path / "gone.png"),
            "--top",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.count("%") == 1 and "a.png:" in captured.out
    errors = captured.err.splitlines()
    assert len(errors) == 2 and "no image files" in errors[0] and "gone.png" in errors[1]


def test_save_input_writes_what_the_network_saw(model_dir, photos, tmp_path, capsys):
    out = tmp_path / "seen"
    assert (
        main(
            ["predict", str(model_dir), *map(str, good(photos)), "--json", "--save-input", str(out)]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["a-28x28.png", "b-28x28.png", "c-28x28.png"]
    for row, path in zip(rows, good(photos), strict=True):
        saved = np.asarray(Image.open(row["input_png"]))
        assert saved.shape == (28, 28)
        assert np.array_equal(saved.reshape(-1), load_photo(path))


def test_save_input_onto_a_file_is_a_usage_error(model_dir, photos, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert (
        main(["predict", str(model_dir), str(photos / "a.png"), "--save-input", str(target)]) == 2
    )
    assert "--save-input" in capsys.readouterr().err


def test_subprocess_closed_pipe_and_exit_statuses(model_dir, photos):
    """As a user runs it: ``scratchnet predict DIR | head -1`` (a pipe closed before the output
    is written) ends quietly with 141; a bad file among good ones is 1; a usage error is 2."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", "scratchnet", "predict", str(model_dir)]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [*command, *map(str, good(photos))],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""

    proc = subprocess.run(
        [*command, str(photos)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 1 and proc.stdout.count("%") == 9
    assert proc.stderr.count("\n") == 1 and "broken.png" in proc.stderr

    proc = subprocess.run(
        [*command, str(photos), "--top", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--top" in proc.stderr
