"""Losses: softmax cross-entropy (fused with the softmax), binary cross-entropy, mean squared error.

Each loss has ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``, the gradient of
the value ``forward`` returned. ``reduction="mean"`` divides by the number of samples ``N``;
``reduction="sum"`` does not, which is how the tutorial scales its update (its gradients are
summed over the mini-batch, so its small ``learning_rate`` multiplies a large gradient).
"""

from __future__ import annotations

import numpy as np

_REDUCTIONS = ("mean", "sum")


class _Loss:
    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _scale(self, n: int) -> float:
        return 1.0 / n if self.reduction == "mean" else 1.0


class SoftmaxCrossEntropy(_Loss):
    """Cross-entropy of the softmax of ``logits`` against integer labels, fused.

    Forward: ``L = -sum_i log softmax(Z)[i, y_i]`` (divided by ``N`` when ``reduction="mean"``),
    with ``log softmax`` by log-sum-exp so no logit overflows.

    Backward: ``dZ = (softmax(Z) - one_hot(y)) / N`` (no ``/ N`` for ``"sum"``). Fusing the two
    skips the softmax Jacobian, which is both cheaper and exact.

    With ``sample_weight`` ``w`` each sample's term is scaled: ``L = -sum_i w_i log p[i, y_i]``
    and ``dZ[i] = w_i * (softmax(Z)[i] - one_hot(y_i))`` (then ``/ N`` for ``"mean"``), so an
    integer weight counts a sample as that many copies.

    With ``label_smoothing`` ``eps`` the target is ``(1 - eps) * one_hot(y) + eps / C`` instead
    of ``one_hot(y)``: ``L = -sum_i [(1 - eps) log p[i, y_i] + eps / C * sum_c log p[i, c]]`` and
    ``dZ = softmax(Z) - target`` (Szegedy et al. 2016, https://arxiv.org/abs/1512.00567, 7).

    ``logits``: ``(N, C)``; ``y``: ``(N,)`` integers in ``[0, C)``; ``sample_weight``: ``(N,)``.
    Reference: https://cs231n.github.io/linear-classify/#softmax
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: np.ndarray, y: np.ndarray,
                sample_weight: np.ndarray | None = None) -> float:
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), every entry <= 0
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)  # (N, 1)
        rows = np.arange(n)
        # -log p[y] = log(sum exp) - shifted[y]
        log_sum = np.log(sum_exp[:, 0])  # (N,)
        per_sample = log_sum - shifted[rows, y]  # (N,)
        eps = self.label_smoothing
        if eps:  # -sum_c log p[c] / C = log(sum exp) - mean_c shifted[c]
            per_sample *= 1.0 - eps
            per_sample += eps * (log_sum - shifted.mean(axis=1))
        if sample_weight is not None:
            per_sample *= sample_weight
        loss = float(np.sum(per_sample, dtype=np.float64))
        exp /= sum_exp  # now the probabilities, reused by backward
        self._probs, self._y, self._w = exp, y, sample_weight
        return loss * self._scale(n)

    def backward(self) -> np.ndarray:
        grad = self._probs  # (N, C); the cache is consumed, so write in place
        eps = self.label_smoothing
        grad[np.arange(grad.shape[0]), self._y] -= 1.0 - eps
        if eps:
            grad -= eps / grad.shape[1]
        if self._w is not None:
            grad *= self._w[:, None]
        if self.reduction == "mean":
            grad /= grad.shape[0]  # a division, so the result is (softmax - one_hot) / N exactly
        self._probs = self._y = self._w = None
        return grad


class BinaryCrossEntropy(_Loss):
    """Binary cross-entropy on probabilities (e.g. a sigmoid's output) against 0/1 targets.

    Forward: ``L = -sum(t * log(p) + (1 - t) * log(1 - p))`` over all entries (``/ N`` for
    ``"mean"``), with ``p`` clipped to ``[eps, 1 - eps]`` so ``log(0)`` never happens.

    Backward: ``dP = (p - t) / (p * (1 - p))`` (``/ N`` for ``"mean"``), with the clipped ``p``.
    Followed by a Sigmoid's backward this becomes the familiar ``(p - t)``.
    """

    def __init__(self, reduction: str = "mean", eps: float = 1e-12) -> None:
        super().__init__(reduction)
        self.eps = eps

    def forward(self, p: np.ndarray, t: np.ndarray) -> float:
        t = np.asarray(t, dtype=p.dtype).reshape(p.shape)
        pc = np.clip(p, self.eps, 1.0 - self.eps)
        loss = -np.sum(t * np.log(pc) + (1.0 - t) * np.log1p(-pc), dtype=np.float64)
        self._p, self._t = pc, t
        return float(loss) * self._scale(p.shape[0])

    def backward(self) -> np.ndarray:
        p, t = self._p, self._t
        grad = (p - t) / (p * (1.0 - p))
        return grad * self._scale(p.shape[0])


class MeanSquaredError(_Loss):
    """Squared error ``L = 0.5 * sum((Y - T)**2)`` (``/ N`` for ``"mean"``), as in the tutorial's
    XOR demo; backward ``dY = (Y - T)`` (``/ N`` for ``"mean"``)."""

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        t = np.asarray(t, dtype=y.dtype).reshape(y.shape)
        self._diff = y - t
        return 0.5 * float(np.sum(self._diff**2, dtype=np.float64)) * self._scale(y.shape[0])

    def backward(self) -> np.ndarray:
        return self._diff * self._scale(self._diff.shape[0])
