"""Saliency: which input pixels the winning class's score is most sensitive to.

For an input ``x`` and a class ``k``, the saliency map is the gradient of the class's *logit*
(its score before the softmax) with respect to the input (Simonyan, Vedaldi & Zisserman 2014,
https://arxiv.org/abs/1312.6034, section 3)::

    S = d logit_k / d x          # (N, *input_shape), one map per sample

It is one backward pass seeded with the one-hot vector of ``k``: ``dY = onehot(k)`` at the
output, then every layer's ``backward`` in reverse, down to the input. The logit, not the
probability, is differentiated because the softmax couples the classes: the probability of a
confident winner barely moves whichever pixel changes, which would blank the map.

The forward pass is the network's *inference* pass (BatchNorm's running statistics, Dropout
as the identity), so the map explains the prediction that was shown. It runs on private
copies of the layers (``cache_at_inference`` set, their own caches and gradient arrays,
the parameters shared read-only): the network itself is never written to, so any number of
threads may compute maps and predictions at the same time.
"""

from __future__ import annotations

import copy

import numpy as np

from scratchnet.nn.layers import Layer
from scratchnet.nn.network import Sequential


def saliency(layers: list[Layer], x: np.ndarray,
             target: int | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logits and ``d logit_target / d x`` for a batch, by the layers' own backward passes.

    Parameters
    ----------
    layers : list of Layer
        The network's layers (e.g. ``Sequential.layers``); they are not modified.
    x : ndarray of shape (n_samples, *input_shape)
        The network's input, already preprocessed as the network takes it.
    target : int or ndarray of shape (n_samples,), optional
        The class whose logit is differentiated, per sample; default: the predicted class
        (``argmax`` of the logits).

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes)
        The inference-mode output, as ``Sequential.forward(x)`` gives it.
    grad : ndarray of shape (n_samples, *input_shape)
        ``grad[i] = d logits[i, target[i]] / d x[i]`` (samples are independent at inference).
    """
    network = Sequential([_private_copy(layer) for layer in layers], input_grad=True)
    logits = network.forward(x, training=False)  # (N, K)
    n = logits.shape[0]
    target = logits.argmax(axis=1) if target is None else np.broadcast_to(target, (n,))
    seed = np.zeros_like(logits)  # (N, K), dY: one-hot of the target class
    seed[np.arange(n), target] = 1.0
    # backward may write over its input gradient; seed is ours, and logits stay untouched.
    grad = network.backward(seed)  # (N, *input_shape)
    return logits, grad


def _private_copy(layer: Layer) -> Layer:
    """A shallow copy of ``layer`` for one saliency pass: parameters and buffers shared (only
    read), caches, workspaces and gradient arrays its own (backward writes those)."""
    twin = copy.copy(layer)  # Conv2D's __getstate__ leaves its workspace behind
    twin.grads = {name: np.empty_like(g) for name, g in layer.grads.items()}
    twin.cache_at_inference = True
    return twin
