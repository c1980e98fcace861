"""Benchmark: the ``cnn`` architecture trained by scratchnet and by PyTorch, side by side.

The network is the same in both (:func:`scratchnet.nn.architectures.cnn`)::

    (1, 28, 28) -> [Conv 3x3 "same", no bias -> MaxPool 2 -> BatchNorm -> ReLU] x (32, 64)
    -> Flatten -> Dense 3136->128 -> ReLU -> Dropout 0.3 -> Dense 128->10

trained with Adam (lr 1e-3), mini-batches of 128 reshuffled every epoch, float32, on Fashion-MNIST
standardised with the training set's per-pixel statistics, without augmentation (so both do the
same work), interleaved epoch by epoch in one process under one thread limit.

Run from the repository root::

    python -m benchmarks.cnn                     # 2 epochs on all 60,000 images, 2 threads
    python -m benchmarks.cnn --quick             # smoke test: 256 images, 1 epoch
    python -m benchmarks.cnn --json docs/bench-cnn.json
    python -m benchmarks.cnn --table docs/bench-cnn.json
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from dataclasses import dataclass

import numpy as np

from benchmarks import cli
from benchmarks.cli import config_from_args, run_and_report
from benchmarks.data import load_data
from benchmarks.flops import cnn_epoch_flops, square_gemm_gflops
from benchmarks.machine import busy_warning, library_versions, limit_threads, machine_info
from benchmarks.report import read_json, render_table
from benchmarks.timing import interleaved_latencies, interleaved_medians, run_interleaved

DEFAULT_JSON = "bench-results-cnn.json"
CHANNELS, HIDDEN, DROPOUT = (32, 64), 128, 0.3


@dataclass
class Config:
    """Everything a run depends on; the command line's options carry these names."""

    epochs: int = 2
    threads: int = 2
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    repeats: int = 3
    latency_calls: int = 50
    gemm_size: int = 1024  # side of the square product that measures the GEMM peak
    synthetic: bool = False
    data_dir: str | None = None


QUICK = {
    "epochs": 1,
    "threads": 1,
    "n_train": 256,
    "n_test": 128,
    "repeats": 1,
    "latency_calls": 5,
    "gemm_size": 256,
}


class ScratchnetCNN:
    """``NNClassifier(architecture="cnn").partial_fit``: one epoch per call, Adam kept."""

    name = "scratchnet"

    def __init__(self, cfg: Config) -> None:
        from scratchnet import NNClassifier

        self.model = NNClassifier(
            architecture="cnn",
            optimizer="adam",
            dropout=DROPOUT,
            learning_rate=cfg.learning_rate,
            batch_size=cfg.batch_size,
            dtype="float32",
            shuffle=True,
            epochs=1,
            random_seed=cfg.seed,
        )
        self.classes = np.arange(10)

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(X, y, classes=self.classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)  # (N, C)

    def forward_raw(self, X: np.ndarray) -> np.ndarray:
        return self.model.network_.predict(X)  # (N, C) logits, no input validation


def torch_cnn(torch, seed: int, dropout: float):
    """:func:`scratchnet.nn.architectures.cnn`'s layers in ``torch.nn``, seeded by ``seed``."""
    nn = torch.nn
    layers: list = [nn.Unflatten(1, (1, 28, 28))]
    c = 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for out in CHANNELS:
            layers += [
                nn.Conv2d(c, out, 3, padding=1, bias=False),
                nn.MaxPool2d(2),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            c = out
        layers += [nn.Flatten(), nn.Linear(c * 7 * 7, HIDDEN), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(HIDDEN, 10))
    return nn.Sequential(*layers)


class TorchCNN:
    """The same layers in ``torch.nn``, ``CrossEntropyLoss`` (mean) and ``optim.Adam``, trained
    by a plain loop over a shuffled index."""

    name = "pytorch"

    def __init__(self, cfg: Config, torch) -> None:
        self.torch = torch
        nn = torch.nn
        self.model = torch_cnn(torch, cfg.seed, DROPOUT)
        self.loss = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.batch_size = cfg.batch_size

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        torch = self.torch
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        order = torch.randperm(X_t.shape[0], generator=self.generator)  # (N,)
        self.model.train()
        for start in range(0, X_t.shape[0], self.batch_size):
            idx = order[start : start + self.batch_size]  # (B,)
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(X_t[idx]), y_t[idx]).backward()
            self.optimizer.step()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        with torch.inference_mode():
            return torch.softmax(self.model(torch.from_numpy(X)), dim=1).numpy()  # (N, C)

    def forward_raw(self, X: np.ndarray):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            return self.model(torch.from_numpy(X))


def run(cfg: Config, torch=None, log=print, notes: list[str] | None = None) -> dict:
    """Train both, interleaved, and return the results (the JSON file's content)."""
    notes = list(notes or [])
    machine = machine_info(cfg.threads)
    warning = busy_warning(machine)
    if warning:
        log(f"warning: {warning}")
        notes.append(warning)
    data = load_data(cfg.n_train, cfg.n_test, cfg.synthetic, cfg.seed, cfg.data_dir)
    log(f"data: {data.source}, {data.X_train.shape[0]:,} train / {data.X_test.shape[0]:,} test")
    with limit_threads(cfg.threads, torch):
        peak = square_gemm_gflops(cfg.gemm_size, repeats=5)
        flops = cnn_epoch_flops(data.X_train.shape[0])
        log(
            f"float32 GEMM peak {peak:.1f} GFLOP/s ({cfg.gemm_size}^3); an epoch's products: "
            f"{flops / 1e12:.3f} TFLOP"
        )
        runners = [ScratchnetCNN(cfg)] + ([TorchCNN(cfg, torch)] if torch is not None else [])
        seconds = run_interleaved(runners, data.X_train, data.y_train, cfg.epochs, log=log)
        probs = {r.name: r.predict_proba(data.X_test) for r in runners}
        batch_s = interleaved_medians(
            {r.name: (lambda r=r: r.predict_proba(data.X_test)) for r in runners}, cfg.repeats
        )
        latency = interleaved_latencies(
            {r.name: r.predict_proba for r in runners}, data.X_test, cfg.latency_calls
        )
        raw = interleaved_latencies(
            {r.name: r.forward_raw for r in runners}, data.X_test, cfg.latency_calls
        )
    libraries = {}
    for r in runners:
        gflops = flops / statistics.median(seconds[r.name]) / 1e9
        libraries[r.name] = {
            "epoch_seconds": seconds[r.name],
            "median_epoch_seconds": statistics.median(seconds[r.name]),
            "test_accuracy": float(np.mean(probs[r.name].argmax(axis=1) == data.y_test)),
            "inference_images_per_second": data.X_test.shape[0] / batch_s[r.name],
            "latency_ms": latency[r.name] * 1e3,
            "latency_raw_ms": raw[r.name] * 1e3,
            "memory": None,
            "gflops": gflops,
            "share_of_gemm_peak": gflops / peak,
        }
    ratios = {}
    if "pytorch" in libraries:
        a, b = libraries["scratchnet"], libraries["pytorch"]
        ratios["scratchnet/pytorch"] = {
            "epoch_time": a["median_epoch_seconds"] / b["median_epoch_seconds"],
            "epoch_time_paired": statistics.median(
                x / y for x, y in zip(seconds["scratchnet"], seconds["pytorch"], strict=True)
            ),
            "inference_throughput": a["inference_images_per_second"]
            / b["inference_images_per_second"],
        }
    notes += [
        f"Share of GEMM peak: the epoch's im2col product FLOPs ({flops / 1e12:.2f} TFLOP: "
        "forward, weight and input gradients, none for the images) per second, over the "
        f"float32 GEMM rate of a {cfg.gemm_size}^3 product with the same threads "
        f"({peak:.0f} GFLOP/s).",
        "CNN epoch time: one partial_fit call (scratchnet) or one loop over the shuffled index "
        "(PyTorch), median over the epochs; no augmentation in either.",
        "Ratios: epoch time ×<1 means scratchnet is faster; throughput ×>1 means scratchnet is "
        "faster.",
    ]
    return {
        "benchmark": "cnn",
        "config": {
            **dataclasses.asdict(cfg),
            "model": "conv32-pool-bn-relu, conv64-pool-bn-relu, dense 128, dropout 0.3; "
            f"Adam lr {cfg.learning_rate:g}, batch {cfg.batch_size}, float32",
            "data": data.source.split(" (")[0],
            "n_train": int(data.X_train.shape[0]),
            "n_test": int(data.X_test.shape[0]),
        },
        "machine": machine,
        "versions": library_versions(torch),
        "libraries": libraries,
        "ratios": ratios,
        "notes": notes,
    }


def build_parser() -> argparse.ArgumentParser:
    p = cli.build_parser(
        "python -m benchmarks.cnn",
        "Train the cnn architecture with scratchnet and PyTorch, interleaved epoch by epoch, "
        "and compare speed.",
        Config(), QUICK, DEFAULT_JSON,
    )
    p.add_argument("--recipe", action="store_true",
                   help="time to accuracy instead: the cnn-fast preset's recipe in both "
                   "libraries, test accuracy against seconds (benchmarks/time_to_accuracy.py; "
                   "--json defaults to docs/bench-time-to-accuracy.json)")
    p.add_argument("--plot", metavar="PATH",
                   help="with --recipe: where to draw the curves (default "
                   "docs/time-to-accuracy.png, none with --quick)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.table:
        print(render_table(read_json(args.table)))
        return 0
    if args.recipe:
        return _recipe(args)
    return run_and_report(run, config_from_args(Config, args, QUICK), args, render_table)


def _recipe(args) -> int:
    """``--recipe``: the time-to-accuracy benchmark, its table, JSON and plot."""
    from benchmarks import time_to_accuracy as tta

    if args.json == DEFAULT_JSON:
        args.json = "bench-results-tta.json" if args.quick else tta.JSON
    plot = args.plot or (None if args.quick else tta.PLOT)

    def report(results: dict) -> str:
        if plot:
            tta.plot(results, plot)
        return tta.render(results) + (f"\n\nplotted {plot}" if plot else "")

    return run_and_report(tta.run, config_from_args(tta.RecipeConfig, args, tta.QUICK), args,
                          report)


if __name__ == "__main__":
    raise SystemExit(main())
