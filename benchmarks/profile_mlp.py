"""Where a scratchnet MLP training epoch goes: every layer's forward and backward, the loss, the
optimizer step and the rest (batch gather, the loop) timed over whole epochs.

Same model and data as ``benchmarks.mlp`` (784-256-128-10 ReLU, Adam lr 1e-3, batch 128, float32,
standardised Fashion-MNIST). Each part is timed by wrapping the bound method of that one object
with two ``perf_counter`` calls (about 0.1 us each, ~5,000 calls an epoch); nothing else changes.

    python -m benchmarks.profile_mlp [--epochs 3] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import numpy as np

from benchmarks.data import load_data
from benchmarks.epoch_profile import profile_epochs, profile_main
from benchmarks.mlp_config import N_CLASSES, Config
from benchmarks.mlp_contenders import ScratchnetMLP


def _part_names(net) -> list[tuple[object, str]]:
    """``(layer, label)``: ``"Dense 784→256"``, then ``"ReLU 256"`` for the layer after it."""
    parts, width = [], None
    for layer in net.layers:
        cfg = layer.config()
        if "in_features" in cfg:
            width = cfg["out_features"]
            parts.append((layer, f"{cfg['type']} {cfg['in_features']}→{width}"))
        else:
            parts.append((layer, f"{cfg['type']} {width}" if width else cfg["type"]))
    return parts


def profile(
    epochs: int = 3,
    threads: int = 2,
    n_train: int | None = None,
    seed: int = 0,
    synthetic: bool = False,
    data_dir: str | None = None,
) -> dict:
    """Train one warm-up epoch, then ``epochs`` timed ones; returns seconds per part per epoch."""
    data = load_data(n_train, 1, synthetic, seed, data_dir)
    X, y = data.X_train, data.y_train
    model = ScratchnetMLP(Config(seed=seed)).model  # the benchmark's own model and settings
    return profile_epochs(model, X, y, (X, y, np.arange(N_CLASSES)), epochs, threads, _part_names)


def main(argv: list[str] | None = None) -> int:
    return profile_main(argv, "python -m benchmarks.profile_mlp", __doc__, profile,
                        epochs=3, n_train=None)


if __name__ == "__main__":
    raise SystemExit(main())
