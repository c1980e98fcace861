"""scratchnet: neural networks written from scratch in NumPy.

Three wings, each importing only the ones before it:

- :mod:`scratchnet.nn`: the core, NumPy only: layers, losses, optimizers, the network, training;
- :mod:`scratchnet.estimator`: :class:`NNClassifier`, the scikit-learn face, and the model
  directory it is saved to;
- :mod:`scratchnet.app`: the Fashion-MNIST application: data, photos, presets, report, CLI.

The names below are loaded on first use (PEP 562), so ``import scratchnet`` stays cheap and
``import scratchnet.nn`` never pulls in scikit-learn.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_LAZY = {
    "NNClassifier": "scratchnet.estimator.classifier",
    "Sequential": "scratchnet.nn.network",
    "CLASS_NAMES": "scratchnet.app.datasets",
    "DatasetError": "scratchnet.app.datasets",
    "load_fashion_mnist": "scratchnet.app.datasets",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
