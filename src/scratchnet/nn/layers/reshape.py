"""Shape changes between image layers and dense layers: ``Reshape`` and ``Flatten``."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.layers.base import Layer


class Reshape(Layer):
    """Give each sample a new shape, e.g. rows of 784 pixels to ``(1, 28, 28)`` images.

    Parameters
    ----------
    shape : tuple of int
        One sample's output shape (batch axis left out); its size must match the input's.

    Input shape ``(N, *in_shape)``; output shape ``(N, *shape)``. Forward
    ``Y = X.reshape(N, *shape)`` (a view when ``X`` is contiguous); backward
    ``dX = dY.reshape(X.shape)``.
    Reference: https://keras.io/api/layers/reshaping_layers/reshape/
    """

    def __init__(self, shape) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self._in_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if training or self.cache_at_inference:
            self._in_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._in_shape)

    def output_shape(self, input_shape):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"cannot reshape {tuple(input_shape)} to {self.shape}")
        return self.shape

    def config(self) -> dict:
        return {"type": "Reshape", "shape": list(self.shape)}


class Flatten(Layer):
    """Flatten each sample to one row, in ``(C, H, W)`` order as in PyTorch.

    Input shape ``(N, C, H, W)`` (any ``(N, ...)``); output shape ``(N, C*H*W)``. Forward
    ``Y = X.reshape(N, -1)``, which copies when ``X`` is channels-last in memory (see
    :mod:`scratchnet.nn.layers.conv`) so that the feature order never depends on the layout;
    backward ``dX = dY.reshape(X.shape)``.
    Reference: https://pytorch.org/docs/stable/generated/torch.nn.Flatten.html
    """

    def __init__(self) -> None:
        super().__init__()
        self._in_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if training or self.cache_at_inference:
            self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C*H*W)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._in_shape)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)
