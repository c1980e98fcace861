"""Batch normalisation for dense ``(N, D)`` and convolutional ``(N, C, H, W)`` activations."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.layers.base import Layer


def _rows(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` as is; ``(N, C, H, W)`` as the ``(N*H*W, C)`` matrix of its pixels (a view
    when the memory is channels-last, see :mod:`scratchnet.nn.layers.conv`)."""
    if x.ndim == 2:
        return x
    if x.ndim != 4:
        raise ValueError(f"BatchNorm takes (N, D) or (N, C, H, W) input, got shape {x.shape}")
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _unrows(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_rows`: the ``(M, C)`` matrix seen as ``shape`` (channels-last)."""
    if len(shape) == 2:
        return y
    n, c, h, w = shape
    return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167).

    Each feature (each channel, for images) is standardised over the batch (and, for images,
    over all pixels), then scaled and shifted by learned ``weight`` (gamma) and ``bias`` (beta).

    Parameters
    ----------
    num_features : int
        ``D`` for ``(N, D)`` input, ``C`` for ``(N, C, H, W)`` input.
    momentum : float, default=0.1
        Weight of the current batch in the running statistics (PyTorch's convention).
    eps : float, default=1e-5
        Added to the variance so a constant feature does not divide by zero.
    dtype : numpy dtype, default=float32

    Input shape ``(N, D)`` or ``(N, C, H, W)``; output shape: the same. Buffers
    ``running_mean`` and ``running_var`` (saved with the model) drive inference.

    Forward in training, over the ``M`` rows of the ``(M, C)`` matrix ``X`` (``M = N`` or
    ``N * H * W``)::

        mean = X.sum(0) / M;  var = ((X - mean)**2).sum(0) / M;  inv_std = 1 / sqrt(var + eps)
        xhat = (X - mean) * inv_std
        Y = weight * xhat + bias
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * M / (M - 1)

    Inference uses ``running_mean`` and ``running_var`` in place of ``mean`` and ``var``; they
    are then constants, so its backward (with ``cache_at_inference``) is ``dX = a * dY`` with
    ``a = weight * inv_std``, and ``dweight``, ``dbias`` as below.

    Backward, in the standard compact form::

        dbias = dY.sum(0);  dweight = (dY * xhat).sum(0)
        dX = (weight * inv_std / M) * (M * dY - dbias - xhat * dweight)

    The code keeps ``X`` rather than ``xhat`` (the layer before made it and nobody changes it,
    so keeping it is free) and expands ``dX`` into per-channel coefficients
    ``dX = a * dY + b * X + c`` with ``a = weight * inv_std``,
    ``b = -a * inv_std * dweight / M`` and ``c = -a * dbias / M - b * mean``.
    The per-channel sums are ``np.einsum`` reductions, one pass each and no temporary.
    """

    fresh_output = True

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=np.float32) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.num_features = int(num_features)
        self.momentum = float(momentum)
        self.eps = float(eps)
        c = self.num_features
        self.params["weight"] = np.ones(c, dtype=dtype)  # (C,) gamma
        self.params["bias"] = np.zeros(c, dtype=dtype)  # (C,) beta
        self.grads["weight"] = np.zeros(c, dtype=dtype)
        self.grads["bias"] = np.zeros(c, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(c, dtype=dtype)  # (C,)
        self.buffers["running_var"] = np.ones(c, dtype=dtype)  # (C,)
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x2 = _rows(x)  # (M, C)
        if x2.shape[1] != self.num_features:
            raise ValueError(f"expected {self.num_features} features, got {x2.shape[1]}")
        weight, bias = self.params["weight"], self.params["bias"]
        dtype = x2.dtype
        if not training:
            inv_std = 1.0 / np.sqrt(self.buffers["running_var"].astype(np.float64) + self.eps)
            scale = weight * inv_std
            shift = bias - self.buffers["running_mean"] * scale
            y = np.multiply(x2, scale.astype(dtype))  # (M, C)
            y += shift.astype(dtype)
            if self.cache_at_inference:
                mean = self.buffers["running_mean"].astype(np.float64)
                self._cache = (x2, mean, inv_std, True)
            return _unrows(y, x.shape)
        m = x2.shape[0]
        mean = np.einsum("ij->j", x2).astype(np.float64) / m  # (C,)
        # Two passes (subtract the mean, then square) rather than E[X**2] - mean**2, which
        # cancels catastrophically in float32 when |mean| >> std.
        y = np.subtract(x2, mean.astype(dtype))  # (M, C), X - mean; becomes Y below
        var = np.einsum("ij,ij->j", y, y).astype(np.float64) / m  # (C,)
        inv_std = 1.0 / np.sqrt(var + self.eps)  # (C,)
        y *= (weight * inv_std).astype(dtype)
        y += bias
        rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
        unbiased = var * (m / max(m - 1, 1))
        rm[...] = (1.0 - self.momentum) * rm + self.momentum * mean
        rv[...] = (1.0 - self.momentum) * rv + self.momentum * unbiased
        self._cache = (x2, mean, inv_std, False)
        return _unrows(y, x.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        x2, mean, inv_std, frozen = self._cache
        self._cache = None
        d2 = _rows(grad_out)  # (M, C), a view of grad_out when channels-last
        m = x2.shape[0]
        dtype = d2.dtype
        dbias = np.einsum("ij->j", d2).astype(np.float64)  # (C,)
        # sum(dY * xhat) = inv_std * (sum(dY * X) - mean * sum(dY))
        dweight = inv_std * (np.einsum("ij,ij->j", d2, x2) - mean * dbias)  # (C,)
        self.grads["bias"][...] = dbias
        self.grads["weight"][...] = dweight
        a = self.params["weight"] * inv_std
        if frozen:  # running statistics are constants: Y = a * X + const, so dX = a * dY
            d2 *= a.astype(dtype)
            return _unrows(d2, grad_out.shape)
        b = -a * inv_std * dweight / m
        c = -a * dbias / m - b * mean
        dx = np.multiply(x2, b.astype(dtype))  # (M, C), becomes b * X + c
        dx += c.astype(dtype)
        d2 *= a.astype(dtype)
        d2 += dx
        return _unrows(d2, grad_out.shape)

    def config(self) -> dict:
        return {"type": "BatchNorm", "num_features": self.num_features,
                "momentum": self.momentum, "eps": self.eps}
