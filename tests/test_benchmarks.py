"""Smoke tests of ``benchmarks/``: the quick run writes every figure, with and without PyTorch.

No timing is asserted; figures only have to exist and be positive. The benchmarks live beside
``src/`` rather than in the package, so the repository root is put on ``sys.path`` here.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec("torch") is not None
LIBRARY_KEYS = {
    "epoch_seconds",
    "median_epoch_seconds",
    "test_accuracy",
    "inference_images_per_second",
    "latency_ms",
    "latency_raw_ms",
    "memory",
    "gflops",
    "share_of_gemm_peak",
    "gemm_time_share",
}
POSITIVE = (
    "median_epoch_seconds",
    "inference_images_per_second",
    "latency_ms",
    "gflops",
    "share_of_gemm_peak",
    "gemm_time_share",
)


@pytest.fixture
def mlp(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.mlp")


def _has_fashion_mnist() -> bool:
    from scratchnet.app.datasets import DatasetError, find_data_dir

    try:
        find_data_dir("train") and find_data_dir("test")
    except DatasetError:
        return False
    return True


def check_results(results: dict, libraries: list[str], memory: bool) -> None:
    assert {
        "config",
        "machine",
        "versions",
        "gemm",
        "flops",
        "libraries",
        "ratios",
        "notes",
    } <= set(results)
    assert results["machine"]["cpu"] and results["machine"]["threads"] >= 1
    assert results["versions"]["blas"]["internal_api"]
    assert results["gemm"]["peak_gflops"] > 0 and results["gemm"]["train_step_gflops"] > 0
    assert results["flops"]["per_epoch"] > 0
    assert list(results["libraries"]) == libraries
    for lib in results["libraries"].values():
        assert LIBRARY_KEYS <= set(lib)
        assert len(lib["epoch_seconds"]) == 1 and lib["epoch_seconds"][0] > 0
        assert all(lib[key] > 0 for key in POSITIVE)
        assert 0.0 <= lib["test_accuracy"] <= 1.0
        if memory:
            assert lib["memory"]["peak_mib"] > 0 and lib["memory"]["growth_mib"] >= 0
        else:
            assert lib["memory"] is None
    assert set(results["ratios"]) == {f"scratchnet/{name}" for name in libraries[1:]}
    for ratio in results["ratios"].values():
        assert all(value > 0 for value in ratio.values())


@pytest.mark.skipif(not _has_fashion_mnist(), reason="Fashion-MNIST files not installed")
def test_quick_run_as_a_module_on_the_real_data(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.mlp", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    expected = ["scratchnet", "sklearn"] + (["pytorch"] if HAS_TORCH else [])
    check_results(results, expected, memory=True)
    assert results["config"]["data"] == "Fashion-MNIST"
    assert "| scratchnet |" in proc.stdout


@pytest.mark.parametrize("torch_case", ["installed", "--no-torch", "import fails"])
def test_quick_run_in_process(mlp, tmp_path, monkeypatch, capsys, torch_case):
    if torch_case == "installed" and not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    argv = ["--quick", "--synthetic", "--no-memory", "--json", str(tmp_path / "b.json")]
    if torch_case == "--no-torch":
        argv.append("--no-torch")
    if torch_case == "import fails":
        monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert mlp.main(argv) == 0
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "b.json").read_text())
    with_torch = torch_case == "installed"
    check_results(results, ["scratchnet", "sklearn"] + ["pytorch"] * with_torch, memory=False)
    assert ("PyTorch skipped" in printed) is not with_torch

    assert mlp.main(["--table", str(tmp_path / "b.json")]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| library |")
    assert "| scratchnet |" in table and "| scikit-learn |" in table
    assert ("| PyTorch |" in table) is with_torch


def test_epoch_flops_formula_matches_the_products_of_a_step(mlp):
    from benchmarks.flops import epoch_flops, train_step_products
    from benchmarks.mlp_config import SIZES

    sizes = (3, 4, 2)
    # forward 2*(12+8), weight gradients 2*(12+8), input gradient of the second layer 2*8
    assert epoch_flops(sizes, 5) == 5 * (40 + 40 + 16)
    pairs = train_step_products(SIZES, batch=7)
    assert sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs) == epoch_flops(SIZES, 7)
    assert epoch_flops(SIZES, 1) == 1_007_104


def test_scratchnet_epochs_by_partial_fit_equal_fit(mlp):
    """Interleaving relies on partial_fit resuming where it stopped, Adam's moments and step
    count included: two calls must give the weights of one two-epoch fit."""
    from benchmarks.data import standardise, synthetic_images
    from benchmarks.mlp_config import Config
    from benchmarks.mlp_contenders import ScratchnetMLP
    from scratchnet.estimator.canonical_rows import canonical_rows

    rng = np.random.default_rng(0)
    X, y = synthetic_images(300, rng)
    X, _ = standardise(X, X[:1])
    X, y, _ = canonical_rows(X, y, None, shuffle=True)  # fit's order; partial_fit keeps any
    runner = ScratchnetMLP(Config(batch_size=64))
    runner.train_epoch(X, y)
    runner.train_epoch(X, y)
    reference = runner.model.__class__(**{**runner.model.get_params(), "epochs": 2}).fit(X, y)
    got, want = runner.model.network_.state_dict(), reference.network_.state_dict()
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("no_torch", [True, False] if HAS_TORCH else [True])
def test_cnn_quick_run_writes_json_and_table(monkeypatch, tmp_path, capsys, no_torch):
    monkeypatch.syspath_prepend(str(ROOT))
    cnn = importlib.import_module("benchmarks.cnn")
    out = tmp_path / "cnn.json"
    argv = ["--quick", "--synthetic", "--json", str(out)] + (["--no-torch"] if no_torch else [])
    assert cnn.main(argv) == 0
    results = json.loads(out.read_text())
    assert results["benchmark"] == "cnn"
    names = set(results["libraries"])
    assert names == ({"scratchnet"} if no_torch else {"scratchnet", "pytorch"})
    for lib in results["libraries"].values():
        assert lib["median_epoch_seconds"] > 0 and lib["inference_images_per_second"] > 0
        assert 0.0 <= lib["test_accuracy"] <= 1.0
        assert lib["share_of_gemm_peak"] > 0
    assert ("scratchnet/pytorch" in results["ratios"]) == (not no_torch)
    capsys.readouterr()
    assert cnn.main(["--table", str(out)]) == 0
    assert "| scratchnet |" in capsys.readouterr().out


def test_epoch_profile_accounts_for_the_whole_epoch(tmp_path, capsys):
    """``benchmarks.profile_mlp`` times every layer, the loss and the optimizer; with the rest
    they add up to the epoch's wall clock."""
    from benchmarks import profile_mlp
    from benchmarks.report import read_json

    out = tmp_path / "profile.json"
    assert (
        profile_mlp.main(
            [
                "--synthetic",
                "--n-train",
                "512",
                "--epochs",
                "2",
                "--threads",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    seconds = read_json(out)["seconds"]
    assert {
        "Dense 784→256 forward",
        "Dense 784→256 backward",
        "ReLU 256 backward",
        "Dense 128→10 backward",
        "loss forward",
        "optimizer step (Adam)",
    } <= set(seconds)
    parts = [name for name in seconds if name != "epoch"]
    for k, epoch in enumerate(seconds["epoch"]):
        assert all(seconds[name][k] >= 0 for name in parts if not name.startswith("rest"))
        assert sum(seconds[name][k] for name in parts) == pytest.approx(epoch)
    table = capsys.readouterr().out
    assert "| optimizer step (Adam) |" in table and "2 epoch(s) of 512 images" in table


def test_busy_quick_run_reports_idle_and_busy_side_by_side(monkeypatch, tmp_path, capsys):
    """``benchmarks.busy``: every contender in both phases, the neighbour process gone after."""
    monkeypatch.syspath_prepend(str(ROOT))
    busy = importlib.import_module("benchmarks.busy")
    out = tmp_path / "busy.json"
    argv = ["--quick", "--synthetic", "--no-torch", "--json", str(out)]
    assert busy.main(argv) == 0
    results = json.loads(out.read_text())
    names = {"scratchnet, 1 thread", "scratchnet, 2 threads", "scratchnet, auto threads"}
    for phase in ("idle", "busy"):
        assert set(results["median_epoch_seconds"][phase]) == names
        assert all(s > 0 for s in results["median_epoch_seconds"][phase].values())
        assert all(t >= 1 for t in results["auto_threads_chosen"][phase])
    assert results["goal"]["auto_busy_over_idle_one_thread"] > 0
    assert "| scratchnet, auto threads |" in capsys.readouterr().out


def test_busy_neighbour_spins_only_inside_its_block():
    import os

    from benchmarks.machine import busy_neighbour

    def children() -> set[str]:
        proc = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(os.getpid())],
            capture_output=True,
            text=True,
            check=False,
        )
        return set(proc.stdout.split())

    before = children()
    with busy_neighbour(limit_s=30):
        inside = children() - before
        assert inside  # the busy loop is running
    assert not (children() & inside)


def test_busy_flag_runs_beside_the_neighbour_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    cnn = importlib.import_module("benchmarks.cnn")
    from benchmarks.machine import BUSY_NOTE

    out = tmp_path / "cnn.json"
    assert cnn.main(["--quick", "--synthetic", "--no-torch", "--busy", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["config"]["busy_neighbour"] is True
    assert BUSY_NOTE in results["notes"]
    assert BUSY_NOTE in capsys.readouterr().out


def test_cnn_epoch_flops_counts_im2col_products(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.flops import cnn_epoch_flops

    # One 3x3 conv 1->2 on 4x4 (2*16*9*1*2 = 576 forward, + 576 for dW, no dX), then
    # Dense 8->3 (forward, dW and dX: 6 * 24).
    assert cnn_epoch_flops(1, (1, 4, 4), (2,), 3, 0, 3) == 2 * 576 + 6 * 24
    # A second conv gets its input gradient too; 60,000 images of the cnn preset: ~1.5 TFLOP.
    assert cnn_epoch_flops(60_000) == pytest.approx(1.5e12, rel=0.01)


def test_cnn_epoch_profile_accounts_for_the_whole_epoch(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import profile_cnn
    from benchmarks.report import read_json

    out = tmp_path / "profile-cnn.json"
    argv = ["--synthetic", "--n-train", "256", "--epochs", "1", "--threads", "1"]
    assert profile_cnn.main(argv + ["--json", str(out)]) == 0
    seconds = read_json(out)["seconds"]
    assert "13 Dense 128→10 backward" in seconds and "optimizer step (Adam)" in seconds
    parts = sum(v[0] for k, v in seconds.items() if k != "epoch")
    assert parts == pytest.approx(seconds["epoch"][0])
    assert "5 Conv2D 32→64 backward |" in capsys.readouterr().out


@pytest.mark.skipif(not _has_fashion_mnist(), reason="Fashion-MNIST not installed")
@pytest.mark.parametrize("no_torch", [True, False] if HAS_TORCH else [True])
def test_recipe_quick_run_writes_curves_table_and_plot(monkeypatch, tmp_path, capsys, no_torch):
    monkeypatch.syspath_prepend(str(ROOT))
    cnn = importlib.import_module("benchmarks.cnn")
    out, plot = tmp_path / "tta.json", tmp_path / "tta.png"
    argv = ["--recipe", "--quick", "--json", str(out), "--plot", str(plot)]
    assert cnn.main(argv + (["--no-torch"] if no_torch else [])) == 0
    results = json.loads(out.read_text())
    assert results["benchmark"] == "time-to-accuracy"
    assert results["config"]["recipe"]["lr_schedule"] == "onecycle"
    assert set(results["curves"]) == ({"scratchnet"} if no_torch else {"scratchnet", "pytorch"})
    for curve in results["curves"].values():
        assert [p["epoch"] for p in curve] == [1, 2]
        assert 0 < curve[0]["seconds"] < curve[1]["seconds"]
        assert 0.0 <= curve[-1]["test_accuracy"] <= 1.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| scratchnet |" in capsys.readouterr().out


def test_recipe_epochs_by_partial_fit_equal_fit(monkeypatch):
    """The recipe's per-batch one-cycle schedule spans the partial_fit calls as one fit."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.time_to_accuracy import ScratchnetRecipe, recipe
    from scratchnet.estimator.canonical_rows import canonical_rows

    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=96)
    X, y, _ = canonical_rows(X, y, None, shuffle=True)  # fit's order; partial_fit keeps any
    params = {**recipe(), "epochs": 2, "batch_size": 32}
    runner = ScratchnetRecipe(params, seed=0)
    runner.train_epoch(X, y)
    runner.train_epoch(X, y)
    reference = runner.model.__class__(**runner.model.get_params()).fit(X, y)
    got, want = runner.model.network_.state_dict(), reference.network_.state_dict()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
