"""``scratchnet train``, ``demo``, ``summary`` and ``data fetch`` through ``main([...])``: the
options on top of a preset, ``--limit``, ``--force``, the per-epoch logs, ``--help`` defaults."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from scratchnet.app.cli import build_parser, main
from scratchnet.estimator.model_dir import load_model


def run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr (usable in module-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    """One small run with every training option changed from the preset's (1 epoch)."""
    d = tmp_path_factory.mktemp("train")
    argv = [
        "train",
        "--out",
        str(d / "model"),
        "--limit",
        "1000",
        "--epochs",
        "2",
        "--learning-rate",
        "0.002",
        "--batch-size",
        "64",
        "--hidden",
        "32,16",
        "--seed",
        "3",
        "--validation-fraction",
        "0.2",
        "--log",
        str(d / "run.jsonl"),
    ]
    code, out, err = run(argv)
    assert code == 0, err
    return d, out, err


def test_options_override_the_preset(custom):
    d, out, _ = custom
    model = load_model(d / "model")
    record = model.record
    assert record.preset == "mlp" and record.seed == 3 and record.epochs_run == 2
    assert record.params["learning_rate"] == 0.002 and record.params["batch_size"] == 64
    assert list(record.params["n_hidden_units"]) == [32, 16]
    assert record.params["dropout"] == 0.2  # untouched preset parameters stay
    dense = [
        layer.params["weight"].shape
        for layer in model.network.layers
        if type(layer).__name__ == "Dense"
    ]
    assert dense == [(784, 32), (32, 16), (16, 10)]
    assert "learning_rate=0.002" in out and "n_hidden_units=(32, 16)" in out


def test_limit_counts_training_images_and_says_so(custom):
    d, out, _ = custom
    record = load_model(d / "model").record
    # 1,000 training images; validation 0.2 / 0.8 of that on top, from other images.
    assert record.n_train == 1000 and record.n_validation == 250
    assert "on 1,000 training images (250 more held out for validation)" in out


def test_limit_beyond_the_training_part_is_one_line(tmp_path):
    code, _, err = run(["train", "--out", str(tmp_path / "m"), "--limit", "60000", "--quiet"])
    assert code == 2 and err.count("\n") == 1
    assert "55,000 training images" in err
    assert not (tmp_path / "m").exists()


def test_one_log_line_per_epoch_on_stderr_when_not_a_terminal(custom):
    _, _, err = custom
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("val_accuracy" in line and " lr " in line for line in lines)


def test_log_file_has_one_json_line_per_epoch(custom):
    d, _, _ = custom
    rows = [json.loads(line) for line in (d / "run.jsonl").read_text().splitlines()]
    history = load_model(d / "model").record.history
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        assert [r[key] for r in rows] == pytest.approx(history[key]), key
    assert rows[0]["lr"] == 0.002 and rows[1]["lr"] < rows[0]["lr"]  # the cosine schedule


def test_quiet_prints_no_epoch_lines(tmp_path):
    code, _, err = run(
        ["train", "--out", str(tmp_path / "m"), "--limit", "500", "--epochs", "1", "--quiet"]
    )
    assert code == 0 and err == ""


def test_an_existing_model_is_kept_without_force(custom, tmp_path):
    d, _, _ = custom
    target = tmp_path / "model"
    shutil.copytree(d / "model", target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    code, _, err = run(
        ["train", "--out", str(target), "--limit", "500", "--epochs", "1", "--seed", "9", "--quiet"]
    )
    assert code == 2 and err.count("\n") == 1 and "--force" in err
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    code, _, err = run(
        [
            "train",
            "--out",
            str(target),
            "--limit",
            "500",
            "--epochs",
            "1",
            "--seed",
            "9",
            "--quiet",
            "--force",
        ]
    )
    assert code == 0, err
    assert load_model(target).record.seed == 9


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--learning-rate", "0", "--learning-rate 0.0: invalid; use a finite number in (0, inf)"),
        ("--learning-rate", "nan", "--learning-rate nan: invalid"),
        ("--batch-size", "0", "--batch-size 0: invalid; use an int >= 1"),
        ("--hidden", "64,0", "--hidden 64,0: invalid; use positive widths like 256,128"),
        ("--hidden", "wide", "expected widths like 256,128 or 'none'"),
        ("--seed", "-1", "--seed -1: invalid; use an integer >= 0"),
        ("--validation-fraction", "1.5", "--validation-fraction 1.5: invalid; use a finite number"),
        ("--log", "{tmp}/file/run.jsonl", "--log {tmp}/file/run.jsonl: cannot be opened"),
    ],
)
def test_bad_values_are_one_line_before_any_data_is_read(option, value, message, tmp_path):
    empty = tmp_path / "no-data"  # reading data would fail with another message
    empty.mkdir()
    (tmp_path / "file").write_text("a file: no folder can be made under it")
    value, message = value.format(tmp=tmp_path), message.format(tmp=tmp_path)
    code, _, err = run(
        ["train", "--out", str(tmp_path / "m"), option, value, "--data-dir", str(empty)]
    )
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "m").exists()


def test_hidden_widths_are_refused_for_the_cnn(tmp_path):
    code, _, err = run(["train", "--model", "cnn", "--hidden", "64", "--out", str(tmp_path)])
    assert code == 2 and "--hidden: the cnn preset's layers are fixed" in err


def _subparsers():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices


def test_every_help_shows_the_defaults():
    """Every option with a default (not None or False) shows it in its command's --help."""
    checked = 0
    for name, parser in _subparsers().items():
        if name == "data":
            parser = parser._subparsers._group_actions[0].choices["fetch"]
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if not action.option_strings or action.default is None or action.default is False:
                continue
            if action.help == "==SUPPRESS==" or action.default == "==SUPPRESS==":
                continue
            if "default" in (action.help or "").lower():  # worded by hand, e.g. "1/12"
                continue
            assert f"(default: {action.default})" in text, (name, action.option_strings)
            checked += 1
    assert checked >= 12  # seed, top, tsne-samples, xor's four, serve's...


def test_train_help_names_the_presets_values(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for part in [
        "(default: mlp)",
        "cnn 17, cnn-fast 10, mlp 20, tutorial 300",
        "mlp 256,128, tutorial 50",
        "mlp 0.001",
        "mlp 128, tutorial 25 batches per epoch",
        "(default: 0)",
        "(default: 1/12, 5,000 of the 60,000)",
    ]:
        assert part in text, part


def test_demo_writes_the_report_by_default(tmp_path):
    code, out, err = run(
        [
            "demo",
            "--out",
            str(tmp_path / "m"),
            "--report",
            str(tmp_path / "r"),
            "--limit",
            "1000",
            "--epochs",
            "1",
            "--tsne-samples",
            "60",
        ]
    )
    assert code == 0, err
    assert (tmp_path / "r" / "index.html").is_file() and "report:" in out
    assert "confusion matrix" in out
    # Again without --force: the model is kept; --no-report then writes no report.
    code, _, err = run(["demo", "--out", str(tmp_path / "m"), "--no-report", "--quiet"])
    assert code == 2 and "--force" in err
    code, out, _ = run(
        [
            "demo",
            "--out",
            str(tmp_path / "m2"),
            "--report",
            str(tmp_path / "r2"),
            "--no-report",
            "--limit",
            "500",
            "--epochs",
            "1",
            "--quiet",
        ]
    )
    assert code == 0 and not (tmp_path / "r2").exists() and "report:" not in out


def test_summary_lists_layers_shapes_and_parameters(custom, capsys):
    d, _, _ = custom
    assert main(["summary", str(d / "model")]) == 0
    out = capsys.readouterr().out
    assert "(N, 32)" in out and "(N, 16)" in out and "(N, 10)" in out
    # 784*32+32 + 32*16+16 + 16*10+10 weights and biases
    assert "Total params: 25,818" in out and "Non-trainable params: 0" in out


def test_summary_counts_batch_norm_statistics_as_non_trainable():
    from scratchnet.app.architecture_table import architecture_table
    from scratchnet.app.summary import format_summary
    from scratchnet.nn.architectures import cnn
    from scratchnet.nn.network import Sequential

    net = Sequential(
        cnn(
            10, rng=np.random.default_rng(0), dtype=np.float32, image_shape=(1, 28, 28), dropout=0.3
        )
    )
    text = format_summary(architecture_table(net, (784,)))
    # conv 32x1x3x3, BN 2x32, conv 64x32x3x3, BN 2x64, dense 3136x128+128, dense 128x10+10
    trainable = 32 * 9 + 64 + 64 * 32 * 9 + 128 + 3136 * 128 + 128 + 1290
    assert f"Trainable params: {trainable:,}" in text
    assert "Non-trainable params: 192 (batch-norm running statistics)" in text
    assert "(N, 64, 7, 7)" in text and "(N, 3136)" in text


def test_data_fetch_takes_data_dir_and_the_old_dir(tmp_path, capsys):
    """Parsed only: the Debian files are re-compressed (other MD5s than the official ones), so
    a real fetch into a new directory would download."""
    parser = build_parser()
    args = parser.parse_args(["data", "fetch", "--data-dir", str(tmp_path)])
    assert args.data_dir == str(tmp_path) and capsys.readouterr().err == ""
    args = parser.parse_args(["data", "fetch", "--dir", str(tmp_path)])
    assert args.data_dir == str(tmp_path)
    assert "--dir is deprecated; use --data-dir" in capsys.readouterr().err
    assert main(["data", "fetch", "--help"]) == 0
    assert "--dir" not in capsys.readouterr().out.replace("--data-dir", "")
