"""Benchmark: time to accuracy — the ``cnn-fast`` preset's whole recipe trained by scratchnet and
by PyTorch in one run, epoch by epoch in turns, test accuracy against seconds of training.

The recipe is read from :data:`scratchnet.app.presets.PRESETS` (``cnn-fast``), so the two sides
cannot drift apart: the same layers (:func:`scratchnet.nn.architectures.cnn`), Adam with
decoupled weight decay (``torch.optim.AdamW``), the one-cycle schedule set before every batch
(:class:`scratchnet.nn.schedules.OneCycle`, in PyTorch through the same function), label
smoothing (``CrossEntropyLoss(label_smoothing=...)``), the same augmentation (shifts of one pixel
and flips, :func:`scratchnet.nn.augment.augment` on each gathered batch, for both), globally
standardised float32 images, the same batches of the same size, and the same test-time flip
(probabilities averaged with the mirror image's).

Only training is timed: the test set is scored after every epoch with the clock stopped. The
hyperparameters were chosen on a validation split (see the preset); the test accuracies here are
measured, never used to choose.

Run from the repository root::

    python -m benchmarks.cnn --recipe     # writes docs/bench-time-to-accuracy.json and the plot
    python -m benchmarks.cnn --recipe --quick
"""

from __future__ import annotations

import dataclasses
import gc
import time

import numpy as np

from benchmarks.machine import busy_warning, library_versions, limit_threads, machine_info

PLOT = "docs/time-to-accuracy.png"
JSON = "docs/bench-time-to-accuracy.json"
TARGETS = (0.93, 0.935)


@dataclasses.dataclass
class RecipeConfig:
    """What a run depends on besides the recipe; ``epochs`` None means the preset's."""

    epochs: int | None = None
    threads: int = 2
    seed: int = 0
    n_train: int | None = None
    n_test: int | None = None
    data_dir: str | None = None


QUICK = {"epochs": 2, "n_train": 512, "n_test": 256, "threads": 1}


def recipe() -> dict:
    """The ``cnn-fast`` preset's estimator parameters."""
    from scratchnet.app.presets import PRESETS

    return dict(PRESETS["cnn-fast"].params)


def load_recipe_data(n_train=None, n_test=None, data_dir=None):
    """Fashion-MNIST as the preset sees it: one mean and standard deviation for all pixels
    (the training set's), float32 rows of 784."""
    from scratchnet.app.datasets import load_fashion_mnist

    Xtr, ytr = load_fashion_mnist("train", data_dir)
    Xte, yte = load_fashion_mnist("test", data_dir)
    Xtr, ytr, Xte, yte = Xtr[:n_train], ytr[:n_train], Xte[:n_test], yte[:n_test]
    mean, std = Xtr.mean(dtype=np.float64), Xtr.std(dtype=np.float64)
    scale = [((X - mean) / std).astype(np.float32) for X in (Xtr, Xte)]  # (N, 784) each
    return scale[0], ytr.astype(np.int64), scale[1], yte.astype(np.int64)


class ScratchnetRecipe:
    """``NNClassifier(**recipe).partial_fit``: one epoch per call; the schedule spans
    ``epochs`` calls, as in one ``fit``."""

    name = "scratchnet"

    def __init__(self, params: dict, seed: int) -> None:
        from scratchnet import NNClassifier

        self.model = NNClassifier(**params, random_state=seed)

    def train_epoch(self, X, y) -> None:
        self.model.partial_fit(X, y, classes=np.arange(10))

    def accuracy(self, X, y) -> float:
        return float(np.mean(self.model.predict(X) == y))


class TorchRecipe:
    """The same recipe in ``torch.nn`` with a plain loop over a shuffled index."""

    name = "pytorch"

    def __init__(self, params: dict, seed: int, torch) -> None:
        from benchmarks.cnn import torch_cnn
        from scratchnet.nn.augment import augment
        from scratchnet.nn.schedules import get_schedule

        self.torch, self.augment = torch, augment
        nn = torch.nn
        self.model = torch_cnn(torch, seed, params.get("dropout", 0.0))
        self.loss = nn.CrossEntropyLoss(label_smoothing=params.get("label_smoothing", 0.0))
        self.base_lr = params["learning_rate"]
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.base_lr,
                                           weight_decay=params.get("weight_decay", 0.0))
        self.schedule = get_schedule(params.get("lr_schedule"), params["epochs"])
        self.batch_size, self.epoch = params["batch_size"], 0
        self.use_augment = params.get("augment", False)
        self.test_time_flip = params.get("test_time_flip", False)
        self.rng = np.random.default_rng(seed)

    def train_epoch(self, X, y) -> None:
        torch = self.torch
        order = self.rng.permutation(X.shape[0])  # (N,)
        starts = range(0, X.shape[0], self.batch_size)
        self.model.train()
        for i, start in enumerate(starts):
            if self.schedule is not None:
                lr = self.schedule(self.base_lr, self.epoch + i / len(starts))
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
            idx = order[start:start + self.batch_size]  # (B,)
            xb = X[idx]  # (B, 784), a fresh copy, augmented in place
            if self.use_augment:
                self.augment(xb, self.rng, max_shift=1)
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(torch.from_numpy(xb)), torch.from_numpy(y[idx])).backward()
            self.optimizer.step()
        self.epoch += 1

    def accuracy(self, X, y) -> float:
        """With ``test_time_flip``, as NNClassifier: the mean of the image's and its mirror
        image's probabilities."""
        from scratchnet.nn.augment import mirror

        torch = self.torch
        self.model.eval()
        with torch.inference_mode():
            proba = torch.softmax(self.model(torch.from_numpy(X)), dim=1)
            if self.test_time_flip:
                mirrored = torch.from_numpy(mirror(X, (28, 28)))
                proba = (proba + torch.softmax(self.model(mirrored), dim=1)) / 2
        return float(np.mean(proba.argmax(dim=1).numpy() == y))


def first_time_at(curve: list[dict], target: float) -> float | None:
    """Seconds of training when test accuracy first reached ``target`` (None if never)."""
    return next((p["seconds"] for p in curve if p["test_accuracy"] >= target), None)


def run(cfg, torch=None, log=print, notes: list[str] | None = None) -> dict:
    """Train both, epoch by epoch in turns; the curves of test accuracy against seconds."""
    notes = list(notes or [])
    params = recipe()
    if cfg.epochs is not None:
        params["epochs"] = cfg.epochs
    machine = machine_info(cfg.threads)
    warning = busy_warning(machine)
    if warning:
        log(f"warning: {warning}")
        notes.append(warning)
    Xtr, ytr, Xte, yte = load_recipe_data(cfg.n_train, cfg.n_test, cfg.data_dir)
    log(f"recipe (cnn-fast): {params}; {Xtr.shape[0]:,} train / {Xte.shape[0]:,} test")
    curves: dict[str, list[dict]] = {}
    with limit_threads(cfg.threads, torch):
        runners = [ScratchnetRecipe(params, cfg.seed)]
        if torch is not None:
            runners.append(TorchRecipe(params, cfg.seed, torch))
        clock = {r.name: 0.0 for r in runners}
        curves = {r.name: [] for r in runners}
        for epoch in range(params["epochs"]):
            k = epoch % len(runners)
            for r in runners[k:] + runners[:k]:  # rotate who goes first
                gc.collect()
                start = time.perf_counter()
                r.train_epoch(Xtr, ytr)
                clock[r.name] += time.perf_counter() - start
                curves[r.name].append({"epoch": epoch + 1, "seconds": clock[r.name],
                                       "test_accuracy": r.accuracy(Xte, yte)})
            log(f"epoch {epoch + 1}/{params['epochs']}: " + ", ".join(
                f"{name} {c[-1]['seconds']:.1f} s {c[-1]['test_accuracy']:.4f}"
                for name, c in curves.items()))
    summary = {name: {"final_test_accuracy": c[-1]["test_accuracy"],
                      "training_seconds": c[-1]["seconds"],
                      **{f"seconds_to_{t:g}": first_time_at(c, t) for t in TARGETS}}
               for name, c in curves.items()}
    notes.append("Seconds: training only (the test set is scored with the clock stopped).")
    return {"benchmark": "time-to-accuracy",
            "config": {**dataclasses.asdict(cfg), "recipe": params, "n_train": len(ytr),
                       "n_test": len(yte)},
            "machine": machine, "versions": library_versions(torch), "curves": curves,
            "summary": summary, "notes": notes}


def render(results: dict) -> str:
    """One line per library: final accuracy, training time, seconds to each target."""
    lines = ["| library | test accuracy | training (s) | "
             + " | ".join(f"to {t:.1%} (s)" for t in TARGETS) + " |",
             "|---|---:|---:|" + "---:|" * len(TARGETS)]
    for name, s in results["summary"].items():
        reached = [s[f"seconds_to_{t:g}"] for t in TARGETS]
        lines.append(f"| {name} | {s['final_test_accuracy']:.2%} | {s['training_seconds']:.1f} | "
                     + " | ".join("–" if v is None else f"{v:.1f}" for v in reached) + " |")
    return "\n".join(lines)


def plot(results: dict, path: str = PLOT) -> None:
    """Test accuracy against seconds of training, one line per library (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scratchnet.estimator.atomic import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, curve in results["curves"].items():
        ax.plot([p["seconds"] for p in curve], [100 * p["test_accuracy"] for p in curve],
                marker="o", label={"pytorch": "PyTorch"}.get(name, name))
    for t in TARGETS:
        ax.axhline(100 * t, color="grey", lw=0.8, ls=":")
    ax.axvline(300, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="seconds of training", ylabel="test accuracy (%)",
           title=f"cnn-fast recipe, {results['config']['n_train']:,} images, "
                 f"{results['config']['threads']} threads ({results['machine']['date'][:10]})")
    lows = [100 * p["test_accuracy"] for c in results["curves"].values() for p in c]
    ax.set_ylim(min(lows) - 0.3, None)
    ax.legend()
    ax.grid(alpha=0.3)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
