"""scratchnet: neural networks written from scratch in NumPy.

The network's math (layers, losses, optimizers) is plain NumPy; :class:`NNClassifier` wraps it
in scikit-learn's estimator contract, and :mod:`scratchnet.datasets` reads Fashion-MNIST.
"""

from scratchnet.classifier import NNClassifier
from scratchnet.datasets import CLASS_NAMES, DatasetError, load_fashion_mnist
from scratchnet.network import Sequential

__version__ = "0.1.0"
__all__ = ["CLASS_NAMES", "DatasetError", "NNClassifier", "Sequential", "load_fashion_mnist"]
