"""``scratchnet sweep``: the same small sweep on one process, two loky workers and a real
two-worker Dask cluster gives identical scores; bad sweep files and an unreachable scheduler
fail fast with one line; Ctrl-C keeps the finished results."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scratchnet.app.cli import main
from scratchnet.app.sweep.backends import open_backend
from scratchnet.app.sweep.config import SweepConfigError, load_config, parse_config, seed_parameter
from scratchnet.app.sweep.run import build_search
from scratchnet.estimator.model_dir import load_model

# 2 x 2 = 4 candidates, 2 folds, 2,000 real images, 1 epoch, small hidden layers.
SMALL = """
[search]
kind = "grid"
folds = 2
seed = 3
[data]
limit = 2000
[fixed]
activation = "relu"
optimizer = "adam"
batch_size = 128
epochs = 1
[params]
learning_rate = [0.001, 0.003]
n_hidden_units = [[16], [24, 12]]
"""


@pytest.fixture(scope="module")
def cluster():
    """A real Dask LocalCluster: 2 worker processes with one thread each, on 127.0.0.1."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as c:
        yield c


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def comparable(out: Path) -> list:
    """What must agree between backends: every candidate's parameters and fold scores."""
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] is True
    return [
        (r["rank"], r["params"], r["split_scores"], r["mean_score"], r["std_score"])
        for r in doc["results"]
    ]


def what_the_model_says(model) -> tuple:
    """Dataset labels, recorded test accuracy and the sweep's best parameters of a model."""
    return model.record.labels, model.record.metrics.test_accuracy, model.meta["sweep"]["best"]


def test_sequential_loky_and_dask_agree(tmp_path, cluster, fashion_mnist_test, capsys):
    config = write(tmp_path, SMALL)
    runs = {
        "sequential": ["--workers", "1"],
        "loky": ["--workers", "2"],
        "dask": ["--scheduler", cluster.scheduler_address],
    }
    results = {}
    for name, how in runs.items():
        out = tmp_path / name
        assert main(["sweep", str(config), "--out", str(out), *how]) == 0, name
        results[name] = comparable(out)
        assert (out / "results.csv").read_text().count("\n") == 5  # header + 4 candidates
        assert (out / "sweep.png").read_bytes().startswith(b"\x89PNG")
    text = capsys.readouterr().out
    assert "1 process (sequential)" in text and "2 local process(es)" in text
    assert f"Dask at {cluster.scheduler_address}: 2 worker(s)" in text
    assert len(results["sequential"]) == 4
    assert len({r[2][0] for r in results["sequential"]}) > 1  # the candidates do differ
    assert results["loky"] == results["sequential"]
    assert results["dask"] == results["sequential"]

    # The best candidate, refit on all 2,000 images, is a normal model directory.
    X_test, y_test = fashion_mnist_test
    for name in runs:
        model = load_model(tmp_path / name / "best-model")
        labels, test_accuracy, best = what_the_model_says(model)
        assert best == results["sequential"][0][1]
        accuracy = float(np.mean(np.asarray(labels)[model.predict(X_test)] == y_test))
        assert accuracy == pytest.approx(test_accuracy, abs=1e-12)
        assert accuracy > 0.6  # one epoch on 2,000 images: far above chance (0.1)


def test_every_backend_limits_blas_threads_in_its_workers(cluster):
    # Two threads first (not what the workers would have anyway), then back to one, so the
    # module's cluster ends as the other tests expect it.
    for threads in (2, 1):
        with open_backend(workers=2, blas_threads=threads) as loky:
            assert set(loky.worker_blas_threads()) == {threads}
        with open_backend(scheduler=cluster.scheduler_address, blas_threads=threads) as dask:
            assert dask.slots == 2
            assert set(dask.worker_blas_threads()) == {threads}


BAD = [
    ("[params]\nlearning_rat = [0.1]\n", ["'learning_rat'", "learning_rate", "n_hidden_units"]),
    ("[params]\nlearning_rate = [0.01, -1.0]\n", ["learning_rate", "-1.0", "(0"]),
    ("[params]\nactivation = ['relu', 'swish']\n", ["activation", "'swish'", "'tanh'"]),
    ("[params]\nn_hidden_units = [[0]]\n", ["n_hidden_units", "positive int"]),
    ("[fixed]\noptimizer = 'adamw'\n[params]\nepochs = [1]\n", ["[fixed] optimizer", "'sgd'"]),
    ("[search]\nfold = 2\n[params]\nepochs = [1]\n", ["'fold'", "folds, validation_fraction"]),
    ("[serach]\n[params]\nepochs = [1]\n", ["[serach]", "[search]"]),
    ("[search]\nscoring = 'r2'\n[params]\nepochs = [1]\n", ["scoring", "accuracy"]),
    ("[search]\nfolds = 1\n[params]\nepochs = [1]\n", ["folds", ">= 2"]),
    (
        "[params]\nlearning_rate = { distribution = 'loguniform', low = 1e-4, high = 1e-2 }\n",
        ["learning_rate", 'kind = "random"'],
    ),
    (
        "[search]\nkind = 'random'\n[params]\nlearning_rate = { distribution = 'normal', "
        "low = 0.1, high = 1.0 }\n",
        ["'normal'", "loguniform, uniform, randint"],
    ),
    ("[params]\n", ["[params] is empty"]),
    ("[params\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_sweep_file_is_one_line_before_any_work(tmp_path, capsys, text, expected):
    out = tmp_path / "out"
    start = time.perf_counter()
    assert main(["sweep", str(write(tmp_path, text)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scratchnet sweep: error: ")
    for part in expected:
        assert part in err
    assert not out.exists()  # nothing was started or written
    assert time.perf_counter() - start < 5


def test_a_diverging_candidate_fails_alone(tmp_path, fashion_mnist_test, capsys):
    text = SMALL.replace("learning_rate = [0.001, 0.003]", "learning_rate = [0.003, 1e9]")
    out = tmp_path / "out"
    assert main(["sweep", str(write(tmp_path, text)), "--out", str(out), "--workers", "1"]) == 0
    table = capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())["results"]
    assert [r["params"]["learning_rate"] for r in rows[2:]] == [1e9, 1e9]
    assert all(r["mean_score"] is None and "diverged" in r["error"] for r in rows[2:])
    assert "rank 3 failed:" in table and "rank 4 failed:" in table
    assert load_model(out / "best-model").record.metrics.test_accuracy > 0.6


def test_missing_sweep_file(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unreachable_scheduler_fails_fast_with_one_line(tmp_path, capsys):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    code = main(
        [
            "sweep",
            str(write(tmp_path, SMALL)),
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            "--connect-timeout",
            "1",
        ]
    )
    assert code != 0
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    )
    assert not (tmp_path / "out").exists()


def test_random_search_candidates_are_reproducible():
    doc = {
        "search": {"kind": "random", "n_candidates": 5, "seed": 7},
        "fixed": {"epochs": 2},
        "params": {
            "learning_rate": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2},
            "n_hidden_units": [[32], [64, 32]],
            "batch_size": {"distribution": "randint", "low": 16, "high": 64},
        },
    }
    config = parse_config(doc)
    assert config.n_total() == 5
    assert config.estimator_params() == {seed_parameter(): 7, "epochs": 2}
    first, again = (build_search(config)._candidates() for _ in range(2))
    assert len(first) == 5 and repr(first) == repr(again)
    assert all(
        1e-4 <= c["clf__learning_rate"] <= 1e-2 and 16 <= c["clf__batch_size"] <= 64 for c in first
    )


def test_random_search_on_a_validation_split(tmp_path, fashion_mnist_test, capsys):
    text = (
        "[search]\nkind = 'random'\nn_candidates = 3\nvalidation_fraction = 0.25\nseed = 1\n"
        "[data]\nlimit = 1500\n[fixed]\nepochs = 1\noptimizer = 'adam'\n[params]\n"
        "learning_rate = { distribution = 'loguniform', low = 1e-4, high = 1e-2 }\n"
        "batch_size = { distribution = 'randint', low = 32, high = 128 }\n"
    )
    out = tmp_path / "out"
    assert main(["sweep", str(write(tmp_path, text)), "--out", str(out), "--workers", "1"]) == 0
    rows = json.loads((out / "results.json").read_text())["results"]
    assert len(rows) == 3 and all(len(r["split_scores"]) == 1 for r in rows)
    assert all(32 <= r["params"]["batch_size"] <= 128 for r in rows)
    assert (
        load_model(out / "best-model").record.params["batch_size"]
        == rows[0]["params"]["batch_size"]
    )


def test_shipped_example_is_valid():
    config = load_config(Path(__file__).parents[2] / "sweeps" / "mlp.toml")
    assert config.kind == "grid" and config.n_total() == 12
    with pytest.raises(SweepConfigError, match="n_candidates applies to kind"):
        parse_config({"search": {"n_candidates": 3}, "params": {"epochs": [1]}})


def test_ctrl_c_keeps_the_finished_candidates(tmp_path, fashion_mnist_test):
    """A real Ctrl-C (SIGINT to the process group) after the first candidate: exit 130, the
    finished results on disk, no model."""
    slow = SMALL.replace("epochs = 1", "epochs = 6").replace("limit = 2000", "limit = 4000")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scratchnet",
            "sweep",
            str(write(tmp_path, slow)),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for line in proc.stdout:
            if "best so far" in line:  # written to disk before this line is printed
                os.killpg(proc.pid, signal.SIGINT)
                break
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted: kept the results of" in err and "Traceback" not in err
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] is False and 1 <= len(doc["results"]) < 4
    assert (out / "sweep.png").exists() and not (out / "best-model").exists()
