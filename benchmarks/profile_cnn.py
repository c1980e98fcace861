"""Where a scratchnet CNN training epoch goes: every layer's forward and backward, the loss, the
optimizer step and the rest, timed over whole epochs (as ``benchmarks.profile_mlp`` does for the
MLP).

Same model and data as ``benchmarks.cnn`` (conv32-pool-bn-relu, conv64-pool-bn-relu, dense 128,
dropout 0.3, Adam lr 1e-3, batch 128, float32). A subset (``--n-train``) keeps a run short; the
shares do not depend on it.

    python -m benchmarks.profile_cnn [--n-train 6000] [--epochs 2] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import numpy as np

from benchmarks.cnn import Config, ScratchnetCNN
from benchmarks.data import load_data
from benchmarks.epoch_profile import profile_epochs, profile_main


def _labels(net) -> list[tuple[object, str]]:
    """``(layer, "3 Conv2D 32→64")``: position and type, with the channels of a convolution."""
    parts = []
    for i, layer in enumerate(net.layers):
        cfg = layer.config()
        extra = f" {cfg['in_channels']}→{cfg['out_channels']}" if "in_channels" in cfg else ""
        extra = f" {cfg['in_features']}→{cfg['out_features']}" if "in_features" in cfg else extra
        parts.append((layer, f"{i:2d} {cfg['type']}{extra}"))
    return parts


def profile(
    epochs: int = 2,
    threads: int = 2,
    n_train: int | None = 6000,
    seed: int = 0,
    synthetic: bool = False,
    data_dir: str | None = None,
) -> dict:
    """One warm-up epoch on 512 images, then ``epochs`` timed ones; seconds per part."""
    data = load_data(n_train, 1, synthetic, seed, data_dir)
    X, y = data.X_train, data.y_train
    model = ScratchnetCNN(Config(seed=seed)).model
    return profile_epochs(model, X, y, (X[:512], y[:512], np.arange(10)), epochs, threads,
                          _labels)


def main(argv: list[str] | None = None) -> int:
    return profile_main(argv, "python -m benchmarks.profile_cnn", __doc__, profile,
                        epochs=2, n_train=6000)


if __name__ == "__main__":
    raise SystemExit(main())
