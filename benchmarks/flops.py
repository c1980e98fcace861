"""FLOP counts of a dense network's training epoch, and the BLAS GEMM rates they are compared
with: the peak of one large square product, and the rate of one training step's own products.

FLOPs of a training epoch (matrix products only; biases, activations, the loss and the
optimizer are O(n * width) or O(parameters) and left out). With layer widths ``d_0..d_L``,
``S = sum_i d_i * d_{i+1}`` and ``n`` samples: forward ``2 n S``; weight gradients ``2 n S``;
input gradients ``2 n (S - d_0 d_1)``, since no library computes the gradient with respect to
the images. Total ``n (6 S - 2 d_0 d_1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.timing import call_seconds


def matmul_gflops(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], repeats: int, number: int = 1
) -> float:
    """GFLOP/s of computing ``a @ b`` for every pair in turn (``2*m*k*n`` FLOPs each), from the
    *fastest* of ``repeats`` measurements: a reference rate says what the BLAS can do, and other
    work on the machine only ever slows it down. Outputs are preallocated, so only the BLAS
    calls are timed."""
    outs = [np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b)) for a, b in pairs]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)

    def run() -> None:
        for (a, b), out in zip(pairs, outs, strict=True):
            np.matmul(a, b, out=out)

    return flops / min(call_seconds(run, repeats, number=number)) / 1e9


def square_gemm_gflops(n: int, repeats: int, dtype=np.float32, seed: int = 0) -> float:
    """GFLOP/s of one ``(n, n) @ (n, n)`` product, the best of ``repeats``: the machine's BLAS
    peak for ``dtype`` under the current thread limit."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    b = rng.standard_normal((n, n)).astype(dtype)  # (n, n)
    return matmul_gflops([(a, b)], repeats)


def epoch_flops(sizes: tuple[int, ...], n_samples: int) -> int:
    """FLOPs of the matrix products of one training epoch: ``n (6 S - 2 d_0 d_1)`` with
    ``S = sum_i d_i d_{i+1}`` (forward ``2nS``, weight gradients ``2nS``, input gradients
    ``2n(S - d_0 d_1)``: the first layer's input gradient is never computed)."""
    s = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return n_samples * (6 * s - 2 * sizes[0] * sizes[1])


def train_step_products(
    sizes: tuple[int, ...], batch: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(a, b)`` pairs of one training step's products, in the layouts Dense uses:
    ``X @ W`` forward, ``X.T @ dY`` for ``dW`` and ``dY @ W.T`` for ``dX`` (not the first)."""
    rng = np.random.default_rng(seed)
    acts = [rng.standard_normal((batch, d), dtype=np.float32) for d in sizes]  # (B, d_i)
    weights = [
        rng.standard_normal((a, b), dtype=np.float32)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]  # (d_i, d_i+1)
    pairs = [(acts[i], w) for i, w in enumerate(weights)]  # (B, d_i) @ (d_i, d_i+1)
    pairs += [(acts[i].T, acts[i + 1]) for i in range(len(weights))]  # (d_i, B) @ (B, d_i+1)
    pairs += [(acts[i + 1], w.T) for i, w in enumerate(weights) if i > 0]  # (B, d_i+1) @ (., d_i)
    return pairs


def cnn_epoch_flops(
    n_samples: int,
    image: tuple[int, int, int] = (1, 28, 28),
    channels: tuple[int, ...] = (32, 64),
    kernel: int = 3,
    hidden: int = 128,
    n_classes: int = 10,
) -> int:
    """FLOPs of the products of one training epoch of the ``cnn`` architecture ("same" 3x3
    convolutions, each followed by a 2x2 pool, then the dense layers), counted as im2col's
    products: a convolution from ``c`` to ``c'`` channels on ``h x w`` pixels is a product of
    ``2 h w k^2 c c'`` FLOPs per image forward, the same again for the weight gradient and for
    the input gradient, which the first convolution skips. The dense layers count as in
    :func:`epoch_flops`, except that their first one does get an input gradient."""
    c, h, w = image
    per_image, first = 0, True
    for out in channels:
        forward = 2 * h * w * kernel * kernel * c * out
        per_image += forward * (2 if first else 3)
        first, c, h, w = False, out, h // 2, w // 2
    sizes = (c * h * w,) + ((hidden,) if hidden else ()) + (n_classes,)
    s = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return n_samples * (per_image + 6 * s)
