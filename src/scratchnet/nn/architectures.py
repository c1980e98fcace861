"""Ready-made layer stacks. Each function returns a ``list[Layer]`` for
:class:`scratchnet.nn.network.Sequential`; the first layer takes rows of flattened pixels, as the
estimator and the datasets hand them over."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Reshape,
)
from scratchnet.nn.layers.activations import get_activation

#: The estimator's ``architecture`` choices.
ARCHITECTURES = ("mlp", "cnn")


def mlp(n_features: int, n_classes: int, hidden: tuple[int, ...] = (50,),
        activation: str = "sigmoid", dropout: float = 0.0, init: str = "glorot",
        rng: np.random.Generator | None = None, dtype=np.float32) -> list[Layer]:
    """A multi-layer perceptron::

        [Dense(width) -> activation -> Dropout] per entry of ``hidden`` -> Dense(n_classes)

    The hidden layers start with ``init``; the output layer, which feeds a softmax, with
    Glorot (or the tutorial's U(-1, 1) when ``init="uniform"``), so its logits start small.
    ``hidden=()`` gives a linear softmax classifier.
    """
    rng = np.random.default_rng() if rng is None else rng
    layers: list[Layer] = []
    n_in = int(n_features)
    for width in hidden:
        layers.append(Dense(n_in, width, init=init, rng=rng, dtype=dtype))
        layers.append(get_activation(activation))
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
        n_in = width
    out_init = "uniform" if init == "uniform" else "glorot"
    layers.append(Dense(n_in, n_classes, init=out_init, rng=rng, dtype=dtype))
    return layers


def cnn(n_classes: int = 10, rng: np.random.Generator | None = None, dtype=np.float32,
        image_shape: tuple[int, int, int] = (1, 28, 28), channels: tuple[int, ...] = (32, 64),
        kernel_size: int = 3, hidden: int = 128, dropout: float = 0.3,
        batch_norm: bool = True) -> list[Layer]:
    """A small convolutional network for 28x28 grey images (Fashion-MNIST)::

        Reshape(1, 28, 28)
        -> [Conv2D 3x3 "same" -> MaxPool2D 2 -> BatchNorm -> ReLU] per entry of ``channels``
        -> Flatten -> Dense(hidden) -> ReLU -> Dropout -> Dense(n_classes)

    With the defaults: 28x28x1 -> 14x14x32 -> 7x7x64 -> 3136 -> 128 -> 10, about 420k
    parameters.

    Each block pools *before* normalising and rectifying. ReLU commutes with max pooling
    exactly, and BatchNorm differs only in taking its statistics over the pooled pixels, so
    the network is as expressive as the textbook Conv -> BN -> ReLU -> Pool order; but BN and
    ReLU then run on a quarter of the pixels, which saves about a fifth of a training step.

    Parameters
    ----------
    n_classes : int, default=10
    rng : numpy.random.Generator, optional
        Draws the initial weights and the dropout masks.
    dtype : numpy dtype, default=float32
    image_shape : (C, H, W), default=(1, 28, 28)
        Shape of one image; the input rows have ``C * H * W`` values.
    channels : tuple of int, default=(32, 64)
        Output channels of each convolutional block; each block halves the height and width.
    kernel_size : int, default=3
        Odd; padding ``kernel_size // 2`` keeps the size through each convolution.
    hidden : int, default=128
        Width of the dense hidden layer; 0 for none.
    dropout : float, default=0.3
        Dropout probability before the output layer (0 for none).
    batch_norm : bool, default=True
        Without it the convolutions get biases of their own.

    Returns
    -------
    list of Layer

    Reference: the Conv-BN-ReLU-pool block of Ioffe & Szegedy 2015,
    https://arxiv.org/abs/1502.03167, in the small VGG-like shape of
    https://cs231n.github.io/convolutional-networks/#architectures.
    """
    rng = np.random.default_rng() if rng is None else rng
    c, h, w = (int(s) for s in image_shape)
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd to keep the image size, got {kernel_size}")
    if min(h, w) >> len(channels) < 1:
        raise ValueError(f"{h}x{w} images are too small for {len(channels)} blocks that each "
                         "halve the height and width")
    layers: list[Layer] = [Reshape((c, h, w))]
    for out in channels:
        layers.append(Conv2D(c, out, kernel_size, padding=kernel_size // 2,
                             bias=not batch_norm, rng=rng, dtype=dtype))
        layers.append(MaxPool2D(2))
        if batch_norm:
            layers.append(BatchNorm(out, dtype=dtype))
        layers.append(ReLU())
        c, h, w = out, h // 2, w // 2
    layers.append(Flatten())
    n_in = c * h * w
    if hidden:
        layers += [Dense(n_in, hidden, init="he", rng=rng, dtype=dtype), ReLU()]
        n_in = hidden
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Dense(n_in, n_classes, rng=rng, dtype=dtype))
    return layers
