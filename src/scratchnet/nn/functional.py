"""The tutorial's math as pure, numerically safe functions.

Every function takes and returns NumPy arrays and keeps the input's floating dtype
(float32 stays float32). Shapes: ``z`` and ``logits`` are ``(N, C)``, labels ``y`` are ``(N,)``.

Reference: Bishop, *Pattern Recognition and Machine Learning*, sections 4.3 and 5.3;
https://cs231n.github.io/linear-classify/#softmax for the stability tricks.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` without overflow.

    ``exp(-z)`` overflows for large negative ``z``; the identity
    ``sigmoid(z) = exp(z) / (1 + exp(z))`` is used there instead, so that only
    ``exp(-|z|)`` (always <= 1) is ever computed.
    """
    z = np.asarray(z)
    # exp(-|z|) underflows to 0 for |z| > ~745, which is the right value: silence the flag so
    # that callers running under np.errstate(all="raise") get no FloatingPointError.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))  # in (0, 1], never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(_float_dtype(z), copy=False)


def sigmoid_prime_from_output(a: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid from its *output*: ``a * (1 - a)`` where ``a = sigmoid(z)``.

    The tutorial applies ``sigmoid_prime(z) = sigmoid(z) * (1 - sigmoid(z))`` to activations,
    i.e. it computes ``sigmoid(a) * (1 - sigmoid(a))``: a bug. This helper takes the activation.
    """
    return a * (1.0 - a)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid at the pre-activation: ``sigmoid(z) * (1 - sigmoid(z))``."""
    return sigmoid_prime_from_output(sigmoid(z))


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(z, 0)``."""
    return np.maximum(z, 0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU: 1 where ``z > 0``, else 0 (0 is chosen at ``z == 0``)."""
    return (z > 0).astype(_float_dtype(z))


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent (NumPy's ``tanh`` is already overflow-free)."""
    return np.tanh(z)


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh: ``1 - tanh(z)**2``."""
    return 1.0 - np.tanh(z) ** 2


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(logits))`` computed as ``z - max(z) - log(sum(exp(z - max(z))))``.

    Subtracting the row maximum keeps every ``exp`` argument <= 0, so nothing overflows, and the
    log-sum-exp form never takes the log of an underflowed 0.
    """
    shifted = logits - logits.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):  # exp of a very negative shifted logit is rightly 0
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax ``exp(z_k) / sum_j exp(z_j)``, max-subtracted so it never overflows."""
    with np.errstate(under="ignore"):  # exp of a very negative shifted logit is rightly 0
        e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def one_hot(y: np.ndarray, n_classes: int, dtype=np.float64) -> np.ndarray:
    """Encode integer labels ``y`` of shape (N,) as an (N, n_classes) matrix of 0s and 1s."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot expects labels of shape (N,), got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    out = np.zeros((y.shape[0], n_classes), dtype=dtype)  # (N, C)
    out[np.arange(y.shape[0]), y] = 1
    return out


def cross_entropy_from_logits(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy ``-log softmax(logits)[i, y_i]``, shape (N,).

    Uses :func:`log_softmax` (log-sum-exp), so a logit of 1e4 gives a finite loss.
    """
    logp = log_softmax(logits)  # (N, C)
    return -logp[np.arange(logp.shape[0]), y]


def l2_penalty(weights: list[np.ndarray], l2: float) -> float:
    """The tutorial's L2 term ``l2 / 2 * sum(W**2)`` over all weight matrices (biases excluded)."""
    return 0.5 * l2 * float(sum(np.vdot(w, w) for w in weights))


def l2_penalty_grad(w: np.ndarray, l2: float) -> np.ndarray:
    """Gradient of :func:`l2_penalty` with respect to one weight matrix: ``l2 * W``."""
    return l2 * w


def l1_penalty(weights: list[np.ndarray], l1: float) -> float:
    """The tutorial's L1 term ``l1 * sum(|W|)`` over all weight matrices (biases excluded)."""
    return l1 * float(sum(np.abs(w).sum() for w in weights))


def l1_penalty_grad(w: np.ndarray, l1: float) -> np.ndarray:
    """(Sub)gradient of :func:`l1_penalty`: ``l1 * sign(W)`` (0 at W == 0)."""
    return l1 * np.sign(w)


def _float_dtype(z: np.ndarray) -> np.dtype:
    return z.dtype if np.issubdtype(z.dtype, np.floating) else np.dtype(np.float64)
