"""Benchmark: one multi-layer perceptron trained by scratchnet, scikit-learn and PyTorch.

The model is the same in all three: 784-256-128-10 with ReLU, softmax cross-entropy, Adam
(lr 1e-3, betas 0.9/0.999, eps 1e-8), mini-batches of 128 reshuffled every epoch, float32, on
Fashion-MNIST standardised with the training set's per-pixel mean and standard deviation. The
libraries train in turns, epoch by epoch, in one process, under one thread limit (threadpoolctl
for every BLAS/OpenMP pool, ``torch.set_num_threads`` for PyTorch).

The contenders are in :mod:`benchmarks.mlp_contenders` (with why ``lr=1e-3`` takes the same
steps in all three), the settings and options in :mod:`benchmarks.mlp_config`.

Run from the repository root::

    python -m benchmarks.mlp                            # 5 epochs, 2 threads
    python -m benchmarks.mlp --quick                    # smoke test: 512 images, 1 epoch
    python -m benchmarks.mlp --json docs/bench-mlp.json
    python -m benchmarks.mlp --table bench-results-mlp.json   # the README's markdown table

FLOPs of a training epoch (matrix products only, ``n (6 S - 2 d_0 d_1)``, derived in
:mod:`benchmarks.flops`): 1,007,104 per image here, 60.4 GFLOP per epoch of 60,000
images.
"""

from __future__ import annotations

import dataclasses
import importlib
import statistics
from collections.abc import Callable

import numpy as np

from benchmarks.cli import run_and_report
from benchmarks.data import Data, load_data
from benchmarks.flops import epoch_flops, matmul_gflops, square_gemm_gflops, train_step_products
from benchmarks.machine import (
    busy_warning,
    import_torch,
    library_versions,
    limit_threads,
    machine_info,
)
from benchmarks.memory import in_fresh_process, measure_peak_rss
from benchmarks.mlp_config import SIZES, Config, build_parser, config_from_args
from benchmarks.mlp_contenders import make_runner
from benchmarks.report import LABELS, read_json, render_table
from benchmarks.timing import interleaved_latencies, interleaved_medians, run_interleaved


def _memory_child(name: str, cfg_fields: dict) -> dict:
    """In a fresh process: load the data, then measure one epoch plus the test-set inference."""
    cfg = Config(**cfg_fields)
    torch, _ = import_torch(disabled=name != "pytorch")
    data = load_data(cfg.n_train, cfg.n_test, cfg.synthetic, cfg.seed, cfg.data_dir)
    # Imports belong to the baseline, lazy ones too: building PyTorch's first optimizer imports
    # torch._dynamo (about 70 MiB), which is no part of what training needs to hold.
    if name == "pytorch":
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    else:
        importlib.import_module(
            {"scratchnet": "scratchnet.estimator.classifier", "sklearn": "sklearn.neural_network"}[
                name
            ]
        )
    with limit_threads(cfg.threads, torch):

        def work() -> None:
            runner = make_runner(name, cfg, torch)
            runner.train_epoch(data.X_train, data.y_train)
            runner.predict_proba(data.X_test)

        return measure_peak_rss(work)


def run(
    cfg: Config, torch=None, log: Callable[[str], None] = print, notes: list[str] | None = None
) -> dict:
    """Run the whole benchmark and return the results (the JSON file's content)."""
    notes = list(notes or [])
    machine = machine_info(cfg.threads)
    warning = busy_warning(machine)
    if warning:
        log(f"warning: {warning}")
        notes.append(warning)
    data: Data = load_data(cfg.n_train, cfg.n_test, cfg.synthetic, cfg.seed, cfg.data_dir)
    n_train, n_test = data.X_train.shape[0], data.X_test.shape[0]
    log(f"data: {data.source}, {n_train:,} train / {n_test:,} test images")
    names = ["scratchnet", "sklearn"] + (["pytorch"] if torch is not None else [])
    flops = epoch_flops(SIZES, n_train)

    with limit_threads(cfg.threads, torch):
        peak = square_gemm_gflops(cfg.gemm_size, repeats=3 * cfg.repeats)
        step = matmul_gflops(
            train_step_products(SIZES, cfg.batch_size, cfg.seed),
            repeats=3 * cfg.repeats,
            number=3 * cfg.repeats,
        )
        log(
            f"float32 GEMM: {peak:.1f} GFLOP/s at {cfg.gemm_size}^3 (peak), {step:.1f} GFLOP/s "
            f"on one training step's products (batch {cfg.batch_size})"
        )
        seconds: dict[str, list[float]] = {name: [] for name in names}
        runners: list = []
        accuracies: dict[str, list[float]] = {name: [] for name in names}
        for k in range(max(1, cfg.seeds)):
            seeded = dataclasses.replace(cfg, seed=cfg.seed + k)
            if cfg.seeds > 1:
                log(f"seed {seeded.seed}:")
            # The first seed's trained models serve the inference measurements below.
            trained = [make_runner(name, seeded, torch) for name in names]
            if k == 0:
                runners = trained
            for name, secs in run_interleaved(
                trained, data.X_train, data.y_train, cfg.epochs, log=log
            ).items():
                seconds[name] += secs
            for r in trained:
                proba = r.predict_proba(data.X_test)  # (M, C)
                accuracies[r.name].append(float(np.mean(proba.argmax(axis=1) == data.y_test)))
        batch_s = interleaved_medians(
            {r.name: (lambda r=r: r.predict_proba(data.X_test)) for r in runners}, cfg.repeats
        )
        latency = interleaved_latencies(
            {r.name: r.predict_proba for r in runners}, data.X_test, cfg.latency_calls
        )
        raw = interleaved_latencies(
            {r.name: r.forward_raw for r in runners if r.forward_raw},
            data.X_test,
            cfg.latency_calls,
        )

    memory = {}
    if cfg.memory:
        for name in names:
            log(f"memory: {LABELS[name]} in a fresh process ...")
            memory[name] = in_fresh_process(_memory_child, name, dataclasses.asdict(cfg))

    libraries = {}
    for r in runners:
        median = statistics.median(seconds[r.name])
        gflops = flops / median / 1e9
        libraries[r.name] = {
            "epoch_seconds": seconds[r.name],
            "median_epoch_seconds": median,
            "test_accuracy": statistics.mean(accuracies[r.name]),
            "test_accuracy_per_seed": accuracies[r.name],
            "inference_images_per_second": n_test / batch_s[r.name],
            "latency_ms": latency[r.name] * 1e3,
            "latency_raw_ms": raw[r.name] * 1e3 if r.name in raw else None,
            "memory": memory.get(r.name),
            "gflops": gflops,
            "share_of_gemm_peak": gflops / peak,
            # The part of an epoch its products alone would take at the training-step rate.
            "gemm_time_share": flops / (step * 1e9) / median,
            **r.extras(),
        }
    ratios = {}
    base = libraries["scratchnet"]
    for other in names[1:]:
        lib = libraries[other]
        ratios[f"scratchnet/{other}"] = {
            "epoch_time": base["median_epoch_seconds"] / lib["median_epoch_seconds"],
            "epoch_time_paired": statistics.median(
                a / b for a, b in zip(seconds["scratchnet"], seconds[other], strict=True)
            ),
            "inference_throughput": base["inference_images_per_second"]
            / lib["inference_images_per_second"],
        }
    notes += [
        f"Test accuracy: mean over {max(1, cfg.seeds)} seed(s) from {cfg.seed} (each library "
        "trained once per seed); epoch times pool the epochs of all seeds.",
        "Epoch time: wall clock of one partial_fit call (scratchnet, scikit-learn, input checks "
        "included) or of one loop over the shuffled index (PyTorch); median over the epochs.",
        "Ratios: epoch time ×<1 means scratchnet is faster; throughput ×>1 means scratchnet is "
        "faster. 'Paired' is the median of per-epoch ratios of epochs run back to back.",
        "Inference: predict_proba on all test images at once (PyTorch: softmax(model(x)) under "
        "inference_mode), median of the repeats. Latency: predict_proba on one NumPy row. Bare "
        "forward: scratchnet's network_.predict, PyTorch's model(x) under no_grad.",
        "Memory: each library in its own spawned process; growth = peak RSS during one epoch "
        "plus the test-set inference above the RSS before it (library imported, lazy imports "
        "included, data loaded); process peak includes the interpreter, the imports and the "
        "data.",
        "Share of GEMM peak: the epoch's matrix-product FLOPs n(6S - 2·d0·d1) per second, over "
        f"the float32 GEMM rate of a {cfg.gemm_size}^3 product with the same threads.",
    ]
    return {
        "benchmark": "mlp",
        "config": {
            **dataclasses.asdict(cfg),
            "model": f"784-256-128-10 ReLU MLP, Adam (lr {cfg.learning_rate:g}, betas "
            f"0.9/0.999, eps 1e-8), batch {cfg.batch_size}, float32",
            "data": data.source.split(" (")[0],
            "n_train": n_train,
            "n_test": n_test,
        },
        "machine": machine,
        "versions": library_versions(torch),
        "gemm": {"size": cfg.gemm_size, "peak_gflops": peak, "train_step_gflops": step},
        "flops": {
            "per_epoch": flops,
            "per_sample": flops // n_train,
            "formula": "n * (6*S - 2*d0*d1), S = sum_i d_i*d_{i+1}",
        },
        "libraries": libraries,
        "ratios": ratios,
        "notes": notes,
    }


def report(results: dict) -> str:
    """The text printed after a run: machine, versions, the table, then the FLOP accounting."""
    m, v = results["machine"], results["versions"]
    blas = v["blas"]
    lines = [
        f"machine: {m['cpu']}, {m['physical_cores']} cores, {m['logical_cpus']} logical CPUs "
        f"({m['usable_cpus']} usable), {m['threads']} threads used; {m['date']}",
        f"versions: Python {v['python']}, NumPy {v['numpy']}, BLAS {blas.get('internal_api')} "
        f"{blas.get('version')} (kernel {blas.get('architecture')}, "
        f"{blas.get('threading_layer')}), scikit-learn {v['scikit-learn']}, "
        f"PyTorch {v['torch'] or 'not used'}",
        f"BLAS environment: {m['blas_environment'] or 'none set'}; load average before the "
        f"run: {m['load_average']}",
        "",
        render_table(results),
        "",
        f"FLOPs per epoch: {results['flops']['per_epoch'] / 1e9:.2f} G "
        f"({results['flops']['formula']}); GEMM peak {results['gemm']['peak_gflops']:.1f} "
        f"GFLOP/s, training-step products {results['gemm']['train_step_gflops']:.1f} GFLOP/s",
    ]
    for name, lib in results["libraries"].items():
        lines.append(
            f"  {LABELS[name]}: {lib['gflops']:.1f} GFLOP/s, "
            f"{lib['share_of_gemm_peak']:.1%} of peak; its products alone would take "
            f"{lib['gemm_time_share']:.0%} of its epoch"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or print a results file's table with ``--table``); exit status."""
    args = build_parser().parse_args(argv)
    if args.table:
        print(render_table(read_json(args.table)))
        return 0
    return run_and_report(run, config_from_args(args), args, report)


if __name__ == "__main__":
    raise SystemExit(main())
