"""Fully connected layer ``Y = X @ W + b``."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from scratchnet.nn.initializers import get_initializer
from scratchnet.nn.layers.base import Layer


class Dense(Layer):
    """Affine layer ``Y = X @ weight + bias``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output feature axes.
    init : str, default="glorot"
        Initialiser name (``"uniform"`` is the tutorial's U(-1, 1), ``"glorot"``, ``"he"``).
        Biases start at 0.
    bias : bool, default=True
        The tutorial's network has none; we add them.
    rng : numpy.random.Generator, optional
    dtype : numpy dtype, default=float32

    Input shape ``(N, D_in)``, output shape ``(N, D_out)``. ``weight`` is ``(D_in, D_out)`` so the
    forward product is ``X @ W`` with no transpose.

    Backward, with ``dY = dL/dY``::

        dW = X.T @ dY        # (D_in, D_out)
        db = dY.sum(axis=0)  # (D_out,), computed as ones(N) @ dY
        dX = dY @ W.T        # (N, D_in)

    Reference: https://cs231n.github.io/optimization-2/#mat
    """

    fresh_output = True

    def __init__(self, in_features: int, out_features: int, init: str = "glorot",
                 bias: bool = True, rng: np.random.Generator | None = None,
                 dtype=np.float32) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = init
        self.use_bias = bool(bias)
        rng = np.random.default_rng() if rng is None else rng
        w = get_initializer(init)((self.in_features, self.out_features), rng, dtype)
        self.params["weight"] = w  # (D_in, D_out)
        self.grads["weight"] = np.zeros_like(w)
        if self.use_bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=dtype)  # (D_out,)
            self.grads["bias"] = np.zeros(self.out_features, dtype=dtype)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        y = x @ self.params["weight"]  # (N, D_out)
        if self.use_bias:
            y += self.params["bias"]
        if training or self.cache_at_inference:
            self._x = x  # dW needs the input; no copy, the caller does not mutate it
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        x = self._x
        np.matmul(x.T, grad_out, out=self.grads["weight"])  # (D_in, D_out)
        if self.use_bias:
            # db = 1 @ dY: a BLAS product, several times faster than a column sum.
            np.matmul(_ones(grad_out.shape[0], grad_out.dtype), grad_out,
                      out=self.grads["bias"])  # (D_out,)
        self._x = None
        if not self.needs_input_grad:
            return None
        return grad_out @ self.params["weight"].T  # (N, D_in)

    def output_shape(self, input_shape):
        return (self.out_features,)

    def config(self) -> dict:
        return {"type": "Dense", "in_features": self.in_features,
                "out_features": self.out_features, "init": self.init, "bias": self.use_bias}


@lru_cache(maxsize=16)
def _ones(n: int, dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones, shared by every Dense layer: ``db = ones @ dY``."""
    ones = np.ones(n, dtype=dtype)  # (N,)
    ones.flags.writeable = False
    return ones
