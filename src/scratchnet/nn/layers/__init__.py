"""Layers: each a class with ``forward``/``backward`` (see :mod:`scratchnet.nn.layers.base`)."""

from __future__ import annotations

import inspect

from scratchnet.nn.layers.activations import ReLU, Sigmoid, Tanh
from scratchnet.nn.layers.base import Layer
from scratchnet.nn.layers.conv import Conv2D
from scratchnet.nn.layers.dense import Dense
from scratchnet.nn.layers.dropout import Dropout
from scratchnet.nn.layers.norm import BatchNorm
from scratchnet.nn.layers.pooling import MaxPool2D
from scratchnet.nn.layers.reshape import Flatten, Reshape

LAYER_TYPES: dict[str, type[Layer]] = {
    "Dense": Dense,
    "Dropout": Dropout,
    "Sigmoid": Sigmoid,
    "ReLU": ReLU,
    "Tanh": Tanh,
    "Conv2D": Conv2D,
    "MaxPool2D": MaxPool2D,
    "BatchNorm": BatchNorm,
    "Flatten": Flatten,
    "Reshape": Reshape,
}


def layer_from_config(config: dict, rng=None, dtype=None) -> Layer:
    """Rebuild a layer from :meth:`Layer.config`; ``ValueError`` on an unknown type or argument.

    ``rng`` and ``dtype`` are passed to the layers whose constructor takes them.
    """
    kwargs = dict(config)
    kind = kwargs.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}; known: {sorted(LAYER_TYPES)}")
    cls = LAYER_TYPES[kind]
    accepted = inspect.signature(cls.__init__).parameters
    unknown = set(kwargs) - set(accepted)
    if unknown:
        raise ValueError(f"layer {kind} does not take {sorted(unknown)}")
    if rng is not None and "rng" in accepted:
        kwargs["rng"] = rng
    if dtype is not None and "dtype" in accepted:
        kwargs["dtype"] = dtype
    return cls(**kwargs)


__all__ = ["LAYER_TYPES", "BatchNorm", "Conv2D", "Dense", "Dropout", "Flatten", "Layer",
           "MaxPool2D", "ReLU", "Reshape", "Sigmoid", "Tanh", "layer_from_config"]
