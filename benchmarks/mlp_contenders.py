"""The MLP benchmark's three contenders, one runner each (see :class:`benchmarks.timing.Runner`):
scratchnet's ``NNClassifier``, scikit-learn's ``MLPClassifier`` and a PyTorch ``nn.Sequential``,
all 784-256-128-10 ReLU, softmax cross-entropy, Adam, float32, one epoch per ``train_epoch``
call with the weights and Adam's state kept between calls.

``NNClassifier`` sums its loss over a batch (the tutorial's scaling) where scikit-learn and
PyTorch average it; Adam's step is invariant to that constant factor (up to ``eps``), so
``lr=1e-3`` takes the same steps in all three.
"""

from __future__ import annotations

import numpy as np

from benchmarks.mlp_config import HIDDEN, N_CLASSES, SIZES, Config
from benchmarks.report import LABELS


class ScratchnetMLP:
    """``NNClassifier.partial_fit``: one epoch per call, the Trainer and Adam's state kept."""

    name = "scratchnet"

    def __init__(self, cfg: Config) -> None:
        from scratchnet import NNClassifier

        self.model = NNClassifier(
            n_hidden_units=HIDDEN,
            activation="relu",
            optimizer="adam",
            learning_rate=cfg.learning_rate,
            batch_size=cfg.batch_size,
            dtype="float32",
            shuffle=True,
            epochs=1,
            random_seed=cfg.seed,
        )
        self.classes = np.arange(N_CLASSES)

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(X, y, classes=self.classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)  # (N, C)

    def forward_raw(self, X: np.ndarray) -> np.ndarray:
        return self.model.network_.predict(X)  # (N, C) logits, no input validation

    def extras(self) -> dict:
        # The estimator's own clock: the epoch without partial_fit's input validation.
        return {"epoch_seconds_in_fit": list(self.model.history_["seconds"])}


class SklearnMLP:
    """``MLPClassifier.partial_fit``: one epoch per call; it keeps its Adam optimizer between
    calls (``fit`` with ``warm_start`` would rebuild it and reset Adam's moments)."""

    name = "sklearn"
    forward_raw = None  # no public forward without predict_proba's checks

    def __init__(self, cfg: Config) -> None:
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=HIDDEN,
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=cfg.batch_size,
            learning_rate_init=cfg.learning_rate,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-8,
            shuffle=True,
            random_state=cfg.seed,
            early_stopping=False,
            n_iter_no_change=10**9,
            max_iter=1,
        )
        self.classes = np.arange(N_CLASSES)

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model.partial_fit(X, y, classes=self.classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)  # (N, C)

    def extras(self) -> dict:
        return {}


class TorchMLP:
    """``nn.Sequential`` of Linear/ReLU, ``CrossEntropyLoss`` (mean), ``optim.Adam``, trained
    by a plain loop over a shuffled index (no DataLoader: batches are tensor indexing)."""

    name = "pytorch"

    def __init__(self, cfg: Config, torch) -> None:
        self.torch = torch
        nn = torch.nn
        layers: list = []
        # PyTorch's default initialisation draws from the global generator: seed a forked copy
        # so the benchmark leaves the process's RNG as it found it.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            for i, (d_in, d_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
                layers.append(nn.Linear(d_in, d_out))
                if i < len(SIZES) - 2:
                    layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.loss = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.999), eps=1e-8
        )
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.batch_size = cfg.batch_size

    def train_epoch(self, X: np.ndarray, y: np.ndarray) -> None:
        torch = self.torch
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)  # views, no copy
        n = X_t.shape[0]
        order = torch.randperm(n, generator=self.generator)  # (N,)
        self.model.train()
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]  # (B,)
            xb, yb = X_t[idx], y_t[idx]  # (B, D), (B,)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            return torch.softmax(self.model(torch.from_numpy(X)), dim=1).numpy()  # (N, C)

    def forward_raw(self, X: np.ndarray):
        torch = self.torch
        with torch.no_grad():
            return self.model(torch.from_numpy(X))  # (N, C) logits

    def extras(self) -> dict:
        return {}


def make_runner(name: str, cfg: Config, torch=None):
    """The runner of library ``name`` ("scratchnet", "sklearn" or "pytorch") for ``cfg``."""
    if name == "scratchnet":
        return ScratchnetMLP(cfg)
    if name == "sklearn":
        return SklearnMLP(cfg)
    if name == "pytorch":
        return TorchMLP(cfg, torch)
    raise ValueError(f"unknown library {name!r}; choose one of {sorted(LABELS)}")
