"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.layers.base import Layer


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the kept
    ones by ``1 / (1 - p)`` so the expected activation is unchanged; identity at inference.

    Forward ``Y = X * M`` with ``M = (U >= p) / (1 - p)``; backward ``dX = dY * M``.
    Any input shape. Reference: Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng() if rng is None else rng
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0.0:
            if self.cache_at_inference:
                self._mask = None  # backward is then the identity, as this forward was
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)  # (same as x)
        mask *= 1.0 / (1.0 - self.p)
        self._mask = mask
        return x * mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._mask is None:  # p == 0 or forward ran in inference mode
            return grad_out
        grad_out *= self._mask
        self._mask = None
        return grad_out

    def config(self) -> dict:
        return {"type": "Dropout", "p": self.p}
