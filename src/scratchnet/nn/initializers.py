"""Weight initialisers: the tutorial's uniform(-1, 1), Glorot/Xavier and He.

Each takes the weight's shape ``(fan_in, fan_out)`` (for convolutions
``(out_channels, in_channels, kh, kw)``), an ``np.random.Generator`` and a dtype.

References: Glorot & Bengio 2010, https://proceedings.mlr.press/v9/glorot10a.html;
He et al. 2015, https://arxiv.org/abs/1502.01852.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense ``(in, out)`` or conv ``(out, in, kh, kw)`` weight."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def uniform_tutorial(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """The tutorial's start: every weight from ``uniform(-1, 1)``.

    With 784 inputs this makes most sigmoid units saturate at the start (|z| of order 10),
    which is why the tutorial's own network learns slowly; kept for the record.
    """
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def glorot_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Glorot/Xavier uniform: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """He/Kaiming normal for ReLU: ``N(0, 2 / fan_in)``."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """He/Kaiming uniform for ReLU: ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``."""
    fan_in, _ = fans(shape)
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=shape).astype(dtype)


INITIALIZERS: dict[str, Callable] = {
    "uniform": uniform_tutorial,
    "glorot": glorot_uniform,
    "xavier": glorot_uniform,
    "he": he_normal,
    "he_uniform": he_uniform,
}


def get_initializer(name: str) -> Callable:
    """Look an initialiser up by name (one of ``INITIALIZERS``)."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name!r}; choose one of {sorted(INITIALIZERS)}"
        ) from None
