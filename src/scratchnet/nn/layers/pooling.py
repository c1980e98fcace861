"""Max pooling over ``kernel_size x kernel_size`` windows of each channel."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.layers.base import Layer
from scratchnet.nn.layers.conv import conv_output_size


class MaxPool2D(Layer):
    """Max pooling: each output pixel is the largest input in its window.

    Parameters
    ----------
    kernel_size : int, default=2
    stride : int, optional
        Defaults to ``kernel_size`` (non-overlapping windows). Rows and columns that do not fill
        a whole window are dropped, as in PyTorch.

    Input shape ``(N, C, H, W)``; output shape ``(N, C, H_out, W_out)`` with
    ``H_out = (H - kernel_size) // stride + 1``. The output keeps the input's memory layout.

    ``kernel_size = stride = 2`` (the common case) halves twice, rows then columns, each step
    one ``np.maximum`` of two strided views (see :meth:`_forward_2x2`)::

        rows = max(top, bottom);  bottom_won = bottom > top      # (N, C, H_out, 2 * W_out)
        Y = max(left, right);     right_won = right > left       # left/right: columns of rows
        d_right = dY * right_won;  d_left = dY - d_right          # backward, step 2
        d_bottom = d_rows * bottom_won;  d_top = d_rows - d_bottom  # backward, step 1

    Any other window: ``views[k]``, ``k = i * kernel_size + j``, is the strided view
    ``X[:, :, i::stride, j::stride]`` (cut to ``H_out x W_out``), the ``k``-th entry of every
    window at once, so the work is ``kernel_size**2`` whole-array operations::

        Y = max_k views[k]
        chosen[k] = (views[k] == Y) and not chosen[k'] for any k' < k
        dX[views[k]] += dY * chosen[k]

    Either way exactly one input per window wins (comparisons are strict, so ties go to the
    earlier candidate), and a window of equal values passes its gradient on once, not several
    times.

    Reference: https://cs231n.github.io/convolutional-networks/#pool
    """

    fresh_output = True

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = self.kernel_size if stride is None else int(stride)
        if self.kernel_size < 1 or self.stride < 1:
            raise ValueError("kernel_size and stride must be >= 1")
        self._cache: tuple | None = None

    def _views(self, x: np.ndarray) -> list[np.ndarray]:
        h, w = x.shape[2:]
        k, s = self.kernel_size, self.stride
        ho, wo = conv_output_size(h, k, s, 0), conv_output_size(w, k, s, 0)
        if ho < 1 or wo < 1:
            raise ValueError(f"input {h}x{w} is smaller than the pooling window {k}x{k}")
        return [x[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
                for i in range(k) for j in range(k)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        record = training or self.cache_at_inference
        if self.kernel_size == self.stride == 2:
            return self._forward_2x2(x, record)
        views = self._views(x)
        y = np.empty_like(views[0])  # (N, C, H_out, W_out), in x's memory layout
        if len(views) == 1:
            y[...] = views[0]
        else:
            np.maximum(views[0], views[1], out=y)
            for v in views[2:]:
                np.maximum(y, v, out=y)
        if record:
            # chosen[k]: views[k] is a maximum and no earlier offset was (first maximum wins).
            # Boolean ufuncs only: np.copyto(..., where=) and np.putmask are several times
            # slower on random masks.
            chosen = [np.equal(views[0], y)]
            taken = chosen[0].copy()
            for v in views[1:]:
                hit = np.equal(v, y)
                chosen.append(np.greater(hit, taken))  # hit and not taken
                taken |= hit
            self._cache = ("views", chosen, x.shape, x.strides)
        return y

    def _forward_2x2(self, x: np.ndarray, record: bool) -> np.ndarray:
        """The common case in two halving steps: rows in pairs, then columns in pairs.

        Each step is one ``np.maximum`` of two strided views; in channels-last memory the
        first step runs over whole image rows. Remembering which half won each step (strictly
        greater, so the first wins ties) gives exactly one winner per window.
        """
        n, c, h, w = x.shape
        ho, wo = h // 2, w // 2
        if ho < 1 or wo < 1:
            raise ValueError(f"input {h}x{w} is smaller than the pooling window 2x2")
        top, bottom = x[:, :, 0:2 * ho:2, :2 * wo], x[:, :, 1:2 * ho:2, :2 * wo]
        rows = np.maximum(top, bottom)  # (N, C, H_out, 2 * W_out)
        left, right = rows[..., 0::2], rows[..., 1::2]
        y = np.maximum(left, right)  # (N, C, H_out, W_out)
        if record:
            self._cache = ("2x2", np.greater(bottom, top), np.greater(right, left),
                           x.shape, x.strides)
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        kind, *cache = self._cache
        self._cache = None
        if kind == "2x2":
            return self._backward_2x2(grad_out, *cache)
        chosen, shape, strides = cache
        k, s = self.kernel_size, self.stride
        ho, wo = grad_out.shape[2:]
        overlap = s < k
        tiled = s == k and ho * k == shape[2] and wo * k == shape[3]
        dx = _empty_like_layout(shape, strides, grad_out.dtype, zero=not tiled)  # (N, C, H, W)
        for v, mask in zip(self._views(dx), chosen, strict=True):
            if overlap:
                v += grad_out * mask
            else:
                np.multiply(grad_out, mask, out=v)
        return dx

    @staticmethod
    def _backward_2x2(grad_out, bottom_won, right_won, shape, strides) -> np.ndarray:
        """Undo the two halving steps: ``d_right = dY * right_won``, ``d_left = dY - d_right``,
        then ``d_bottom = d_rows * bottom_won``, ``d_top = d_rows - d_bottom``."""
        h, w = shape[2:]
        ho, wo = grad_out.shape[2:]
        d_rows = np.empty_like(bottom_won, dtype=grad_out.dtype)  # (N, C, H_out, 2 * W_out)
        np.multiply(grad_out, right_won, out=d_rows[..., 1::2])
        np.subtract(grad_out, d_rows[..., 1::2], out=d_rows[..., 0::2])
        dx = _empty_like_layout(shape, strides, grad_out.dtype,
                                zero=(h, w) != (2 * ho, 2 * wo))  # (N, C, H, W)
        d_bottom = dx[:, :, 1:2 * ho:2, :2 * wo]
        np.multiply(d_rows, bottom_won, out=d_bottom)
        np.subtract(d_rows, d_bottom, out=dx[:, :, 0:2 * ho:2, :2 * wo])
        return dx

    def output_shape(self, input_shape):
        c, h, w = input_shape
        k, s = self.kernel_size, self.stride
        return (c, conv_output_size(h, k, s, 0), conv_output_size(w, k, s, 0))

    def config(self) -> dict:
        return {"type": "MaxPool2D", "kernel_size": self.kernel_size, "stride": self.stride}


def _empty_like_layout(shape, strides, dtype, zero: bool) -> np.ndarray:
    """A new array of ``shape`` whose memory orders the axes as ``strides`` do (so a gradient
    comes back in its input's layout)."""
    order = np.argsort(-np.asarray(strides), kind="stable")
    make = np.zeros if zero else np.empty
    return make(tuple(np.take(shape, order)), dtype=dtype).transpose(np.argsort(order))
