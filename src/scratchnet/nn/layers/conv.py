"""2-D convolution by im2col: the sliding windows are copied into one matrix so that a single
BLAS matrix product does the work, forward and backward.

Memory layout. Images travel as arrays of shape ``(N, C, H, W)``, but the arrays this module
makes keep their *memory* channels-last: an ``(N, H, W, C)`` buffer seen through
``.transpose(0, 3, 1, 2)``. That is what makes every product one big GEMM with no transposing
copy: the window matrix is ``(N*H_out*W_out, kh*kw*C_in)``, its product with the weights is
``(N*H_out*W_out, C_out)``, which *is* the output in ``(N, H, W, C)`` memory, and the output
gradient reads back as that same matrix for free. Elementwise layers (BatchNorm, ReLU,
MaxPool2D) preserve the layout, so it survives to the next convolution. Inputs of any layout
are accepted; a channels-first input just costs one gathering copy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnet.nn import blas
from scratchnet.nn.initializers import get_initializer
from scratchnet.nn.layers.base import Layer

# Inference processes the batch in chunks whose window matrix has at most this many entries
# (64 MiB in float32), so ``predict`` on thousands of images does not build a gigabyte matrix.
_INFERENCE_COLS = 1 << 24
# col2im adds the gradient blocks of this many values (1 MiB in float32) at a time.
_COL2IM_VALUES = 1 << 18
# Below this many input channels the window matrix is built offset by offset (see _im2col).
_FEW_CHANNELS = 4


def pair(v) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 2)`` or ``[3, 2]`` unchanged (as a tuple of ints)."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def _unpair(p: tuple[int, int]):
    """The JSON-friendly form of a pair: one int when both are equal."""
    return p[0] if p[0] == p[1] else list(p)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``(size + 2 * padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _spans(size: int, out: int, kernel: int, stride: int, padding: int) -> list[tuple]:
    """For each kernel offset ``i``: ``(i, out_slice, in_slice)`` such that output rows
    ``out_slice`` read input rows ``in_slice`` (``o * stride + i - padding``). Rows that would
    read the zero padding are left out; their window entries are zero."""
    spans = []
    for i in range(kernel):
        lo = max(0, -((i - padding) // stride))  # first o with o * stride + i - padding >= 0
        hi = min(out, (size - 1 + padding - i) // stride + 1)  # one past the last valid o
        if hi <= lo:
            spans.append((i, slice(0, 0), slice(0, 0)))
            continue
        start = lo * stride + i - padding
        spans.append((i, slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)))
    return spans


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default=1
    padding : int or (int, int), default=0
        Zeros added on each side of the height and width.
    bias : bool, default=True
        Leave it off when a BatchNorm follows (its ``bias`` does the same job).
    init : str, default="he"
        Initialiser of ``weight`` (fan-in ``C_in * kh * kw``); ``bias`` starts at 0.
    rng : numpy.random.Generator, optional
    dtype : numpy dtype, default=float32

    Input shape ``(N, C_in, H, W)``; output shape ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H + 2 * padding - kh) // stride + 1`` (likewise ``W_out``). ``weight`` is
    ``(C_out, C_in, kh, kw)`` as in PyTorch.

    Forward. ``cols`` holds, in row ``(n, oh, ow)``, the input window under output pixel
    ``(oh, ow)`` of image ``n``, ordered ``(kh, kw, C_in)`` (zeros where it covers padding);
    ``w_mat = weight.transpose(0, 2, 3, 1).reshape(C_out, K)`` with ``K = kh * kw * C_in``::

        Y = cols @ w_mat.T + bias          # (N*H_out*W_out, C_out)

    Backward, with ``dY`` read as the same ``(N*H_out*W_out, C_out)`` matrix::

        dw_mat = dY.T @ cols               # (C_out, K), then reshaped back to weight's shape
        dbias = dY.sum(axis=0)             # (C_out,)
        dX = col2im(dY @ w_mat)            # each window's gradient added back where it was read

    ``dY @ w_mat`` is computed as one ``(N, H_out, W_out, C_in)`` block per kernel offset,
    ``dY @ weight[:, :, i, j]``, and ``col2im`` adds each block into ``dX`` shifted by its
    offset: ``kh * kw`` strided slice additions, no scatter-add (see :meth:`_input_grad`).

    Reference: https://cs231n.github.io/convolutional-networks/ (section "Implementation as
    Matrix Multiplication").
    """

    fresh_output = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, init: str = "he", rng: np.random.Generator | None = None,
                 dtype=np.float32) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size)
        self.stride = pair(stride)
        self.padding = pair(padding)
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError("kernel_size and stride must be >= 1 and padding >= 0")
        self.use_bias = bool(bias)
        self.init = init
        rng = np.random.default_rng() if rng is None else rng
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        w = get_initializer(init)(shape, rng, dtype)
        self.params["weight"] = w  # (C_out, C_in, kh, kw)
        self.grads["weight"] = np.zeros_like(w)
        if self.use_bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype=dtype)  # (C_out,)
            self.grads["bias"] = np.zeros(self.out_channels, dtype=dtype)
        # Training workspaces (padded input, window matrix, gradient blocks), kept between
        # steps: allocating tens of MB per step costs page faults.
        self._ws: dict[str, np.ndarray] = {}
        self._cache: tuple | None = None

    # --- helpers ----------------------------------------------------------------------------
    def _geometry(self, h: int, w: int) -> tuple[int, int, list, list]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        if ho < 1 or wo < 1:
            raise ValueError(f"input {h}x{w} is smaller than the kernel {kh}x{kw}")
        return ho, wo, _spans(h, ho, kh, sh, ph), _spans(w, wo, kw, sw, pw)

    def _w_mat(self) -> np.ndarray:
        w = self.params["weight"]
        return w.transpose(0, 2, 3, 1).reshape(self.out_channels, -1)  # (C_out, K), a copy

    def _im2col(self, xp: np.ndarray, buf: np.ndarray, n: int, ho: int, wo: int) -> np.ndarray:
        """The window matrix ``cols`` (n * H_out * W_out, K) of the first ``n`` padded images
        ``xp`` (n, H + 2 * ph, W + 2 * pw, C), written into ``buf``.

        Many channels (``buf`` is ``(chunk, H_out, W_out, kh, kw, C)``): for kernel row ``i``,
        the ``kw * C`` window entries of output pixel ``(oh, ow)`` are one contiguous run of
        padded row ``oh * sh + i``. A sliding-window view over the ``(H, W * C)`` rows exposes
        all those runs at once, so the copy is one call moving runs of ``kw * C`` values into
        a contiguous destination (three times faster than a copy per kernel offset).

        Few channels (``buf`` is ``(kh, kw, C, chunk, H_out, W_out)``): runs of ``kw * C``
        would be a few values long, so each kernel offset copies its whole shifted image
        instead (runs of ``W_out``), and ``cols`` is the transposed view of that ``(K, M)``
        matrix, which BLAS reads as it is.
        """
        c = xp.shape[3]
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        k = kh * kw * c
        span_h, span_w = (ho - 1) * sh + 1, (wo - 1) * sw + 1
        if c < _FEW_CHANNELS:  # buf is (kh, kw, C, chunk, H_out, W_out)
            for i in range(kh):
                for j in range(kw):
                    shifted = xp[:n, i:i + span_h:sh, j:j + span_w:sw]  # (n, H_out, W_out, C)
                    buf[i, j, :, :n] = shifted.transpose(3, 0, 1, 2)
            return buf.reshape(k, -1)[:, :n * ho * wo].T
        rows = xp[:n].reshape(n, xp.shape[1], -1)  # (n, Hp, Wp * C)
        windows = sliding_window_view(rows, (kh, kw * c), axis=(1, 2))
        windows = windows[:, 0:span_h:sh, 0:(span_w - 1) * c + 1:sw * c]
        np.copyto(buf[:n].reshape(n, ho, wo, kh, kw * c), windows)
        return buf[:n].reshape(-1, k)

    def _buffer(self, name: str, shape: tuple, dtype, keep: bool, zero: bool = False):
        """Scratch array ``name``: kept between training steps (``keep``) or made afresh."""
        old = self._ws.get(name)
        if keep and old is not None and old.shape == shape and old.dtype == dtype:
            return old
        buf = np.zeros(shape, dtype=dtype) if zero else np.empty(shape, dtype=dtype)
        if keep:
            self._ws[name] = buf
        return buf

    # --- passes -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {c}")
        ho, wo, row_spans, col_spans = self._geometry(h, w)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        k = kh * kw * c
        xh = x.transpose(0, 2, 3, 1)  # (N, H, W, C_in), a view when x is channels-last
        w_mat_t = self._w_mat().T  # (K, C_out)
        y = np.empty((n * ho * wo, self.out_channels), dtype=x.dtype)  # (N*H_out*W_out, C_out)
        # Chunks only bound memory at inference; training keeps the whole window matrix,
        # which backward needs.
        record = training or self.cache_at_inference
        chunk = min(n, n if record else max(1, _INFERENCE_COLS // (ho * wo * k)))
        # The padded copy's border is zeroed once, when the buffer is made.
        xp = self._buffer("padded", (chunk, h + 2 * ph, w + 2 * pw, c), x.dtype, training,
                          zero=True)
        layout = (kh, kw, c, chunk, ho, wo) if c < _FEW_CHANNELS else (chunk, ho, wo, kh, kw, c)
        buf = self._buffer("cols", layout, x.dtype, training)
        for start in range(0, n, chunk):
            m = min(n, start + chunk) - start
            xp[:m, ph:ph + h, pw:pw + w] = xh[start:start + m]
            cols = self._im2col(xp, buf, m, ho, wo)  # (m * H_out * W_out, K)
            np.matmul(cols, w_mat_t, out=y[start * ho * wo:(start + m) * ho * wo])
        if self.use_bias:
            y += self.params["bias"]
        if record:
            self._cache = (cols, (n, c, h, w), (ho, wo), row_spans, col_spans)
        return y.reshape(n, ho, wo, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        cols, (n, c, h, w), (ho, wo), row_spans, col_spans = self._cache
        self._cache = None
        kh, kw = self.kernel_size
        d_y = grad_out.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)  # (M, C_out)
        # Same product either way round; the one whose output has more rows is the one
        # multithreaded OpenBLAS splits well (the other way was measured 25x slower for
        # K = 288, C_out = 64 on two busy cores).
        if cols.shape[1] >= self.out_channels:
            dw_mat = (cols.T @ d_y).T  # (C_out, K)
        else:
            dw_mat = d_y.T @ cols  # (C_out, K)
        self.grads["weight"][...] = dw_mat.reshape(
            self.out_channels, kh, kw, c).transpose(0, 3, 1, 2)
        if self.use_bias:
            np.sum(d_y, axis=0, out=self.grads["bias"])  # (C_out,)
        if not self.needs_input_grad:
            return None
        dxh = self._input_grad(d_y, (n, h, w, c), (ho, wo), row_spans, col_spans)
        return dxh.transpose(0, 3, 1, 2)

    def _input_grad(self, d_y: np.ndarray, shape: tuple, out_hw: tuple, row_spans: list,
                    col_spans: list) -> np.ndarray:
        """``dX`` (N, H, W, C_in) ``= col2im(dY @ w_mat)``, one kernel offset at a time.

        ``dY @ w_mat`` is taken as ``kh * kw`` products ``dY @ weight[:, :, i, j]``, each an
        ``(N, H_out, W_out, C_in)`` block (one batched GEMM, the same arithmetic as one big
        product). Summing the blocks into ``dX`` then adds slices whose rows are contiguous
        runs of ``W * C_in`` values, where the interleaved ``(M, K)`` layout would give runs
        of ``C_in``: col2im becomes about four times faster.
        """
        n, h, w, c = shape
        ho, wo = out_hw
        m = n * ho * wo
        w_blocks = np.ascontiguousarray(
            self.params["weight"].transpose(2, 3, 0, 1)).reshape(-1, self.out_channels, c)
        offsets = [(i * len(col_spans) + j, o_r, i_r, o_c, i_c)
                   for i, o_r, i_r in row_spans for j, o_c, i_c in col_spans]
        # An offset that maps the whole output grid onto the whole input one to one (the
        # centre, for stride 1 and "same" padding) writes its product straight into dX.
        direct = next((o for o in offsets if (ho, wo) == (h, w) and _covers(o[1], h)
                       and _covers(o[2], h) and _covers(o[3], w) and _covers(o[4], w)), None)
        rest = [o for o in offsets if o is not direct]
        if direct is not None:
            dxh = np.empty(shape, dtype=d_y.dtype)  # (N, H, W, C_in)
            np.matmul(d_y, w_blocks[direct[0]], out=dxh.reshape(m, c))
        else:
            dxh = np.zeros(shape, dtype=d_y.dtype)
        if not rest:
            return dxh
        w_rest = w_blocks[[o[0] for o in rest]]  # (B, C_out, C_in)
        # On one BLAS thread, a few images at a time, so that the blocks are still in cache
        # when they are added (an epoch of the cnn preset x0.94, measured in training). On
        # more threads every extra product is one more wait for the slowest thread, and the
        # same split measured x1.08 on two threads of a shared machine: one product there.
        chunk = n
        if blas.get_threads() == 1:
            chunk = max(1, min(n, _COL2IM_VALUES // (len(rest) * ho * wo * c)))
        blocks = self._buffer("blocks", (len(rest), chunk * ho * wo, c), d_y.dtype, keep=True)
        d_y = d_y.reshape(n, ho * wo, self.out_channels)
        for start in range(0, n, chunk):
            k = min(n, start + chunk) - start
            part = blocks[:, :k * ho * wo]
            np.matmul(d_y[start:start + k].reshape(-1, self.out_channels), w_rest,
                      out=part)  # (B, k * H_out * W_out, C_in)
            part = part.reshape(len(rest), k, ho, wo, c)
            dx_part = dxh[start:start + k]
            for block, (_, o_r, i_r, o_c, i_c) in zip(part, rest, strict=True):
                dx_part[:, i_r, i_c, :] += block[:, o_r, o_c, :]
        return dxh

    def output_shape(self, input_shape):
        _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(h, kh, sh, ph),
                conv_output_size(w, kw, sw, pw))

    def config(self) -> dict:
        return {"type": "Conv2D", "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel_size": _unpair(self.kernel_size),
                "stride": _unpair(self.stride), "padding": _unpair(self.padding),
                "bias": self.use_bias, "init": self.init}

    def __getstate__(self) -> dict:
        # The workspace is scratch memory: never pickle or deep-copy it.
        state = dict(self.__dict__)
        state["_ws"] = {}
        state["_cache"] = None
        return state


def _covers(s: slice, size: int) -> bool:
    """Whether the strided slice ``s`` visits every index of ``range(size)``."""
    return s.start == 0 and s.step == 1 and s.stop == size
