"""The tutorial's backpropagation demo: a tiny sigmoid network learns XOR.

Written with the library's own layers, loss and optimizer, and with the sigmoid's derivative
taken from its *output* (the tutorial applies ``sigmoid_prime`` to activations, a bug).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratchnet.nn.layers import Dense
from scratchnet.nn.layers.activations import Sigmoid
from scratchnet.nn.losses import MeanSquaredError
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import SGD

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)  # (4, 2)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)  # (4, 1)


@dataclass
class XorResult:
    errors: list[float]
    predictions: np.ndarray  # (4, 1) outputs in (0, 1)
    net: Sequential

    @property
    def all_correct(self) -> bool:
        return bool(np.all((self.predictions > 0.5) == (XOR_Y > 0.5)))


def train_xor(n_hidden: int = 3, epochs: int = 5000, learning_rate: float = 2.0,
              seed: int = 0) -> XorResult:
    """Full-batch gradient descent on the four XOR cases with squared error.

    Returns the error after every epoch and the network's four final outputs.
    """
    if n_hidden < 2:
        raise ValueError(f"XOR needs at least 2 hidden units, got {n_hidden}")
    rng = np.random.default_rng(seed)
    net = Sequential([
        Dense(2, n_hidden, init="glorot", rng=rng, dtype=np.float64), Sigmoid(),
        Dense(n_hidden, 1, init="glorot", rng=rng, dtype=np.float64), Sigmoid(),
    ])
    loss = MeanSquaredError(reduction="sum")
    opt = SGD(lr=learning_rate, momentum=0.5)
    errors = []
    for _ in range(epochs):
        out = net.forward(XOR_X, training=True)
        errors.append(loss.forward(out, XOR_Y))
        net.backward(loss.backward())
        opt.step(net.parameters())
    return XorResult(errors=errors, predictions=net.forward(XOR_X), net=net)
