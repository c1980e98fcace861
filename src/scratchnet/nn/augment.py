"""Data augmentation on a training batch, in place: random shifts and horizontal flips.

:class:`scratchnet.nn.training.Trainer` calls ``augment(batch, rng)`` on every mini-batch after
gathering it, so the network never sees the same pixels twice. Everything is whole-batch NumPy:
no Python loop over images.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def augment(batch: np.ndarray, rng: np.random.Generator, max_shift: int = 2, flip: bool = True,
            image_shape: tuple[int, int] = (28, 28), fill: float | str = "min") -> None:
    """Shift each image by its own random offset and mirror about half of them, in place.

    Parameters
    ----------
    batch : ndarray of shape (n_samples, H * W) or (n_samples, 1, H, W)
        Float images; must be contiguous (it is written in place).
    rng : numpy.random.Generator
    max_shift : int, default=2
        Each image moves by ``dy, dx`` drawn uniformly from ``[-max_shift, max_shift]``.
    flip : bool, default=True
        Mirror left-right with probability 1/2 (clothes are left-right symmetric; digits are
        not, so switch it off for MNIST).
    image_shape : (H, W), default=(28, 28)
    fill : float or "min", default="min"
        Value of the pixels moved in from outside. ``"min"`` takes the batch's smallest value:
        the background of Fashion-MNIST (raw pixel 0) under any increasing scaling, be it
        ``/ 255`` or a global standardisation, so the default never needs to know the scaling.

    The shift is one gather: the batch is zero-padded by ``max_shift`` on each side, a
    sliding-window view lists every ``H x W`` crop of every padded image, and fancy indexing
    picks crop ``(dy, dx)`` of image ``i``: ``out[i] = windows[i, dy, dx]``.
    Reference: Simard et al. 2003, https://doi.org/10.1109/ICDAR.2003.1227801 (training on
    shifted copies).
    """
    h, w = image_shape
    n = batch.shape[0]
    if batch.size != n * h * w:
        raise ValueError(f"batch of shape {batch.shape} does not hold {h}x{w} images")
    if not batch.flags.c_contiguous:
        raise ValueError("augment writes in place and needs a contiguous batch")
    images = batch.reshape(n, h, w)  # a view: writes land in ``batch``
    if isinstance(fill, str) and fill != "min":
        raise ValueError(f"fill must be a number or 'min', got {fill!r}")
    s = int(max_shift)
    if s > 0:
        value = images.min() if isinstance(fill, str) and fill == "min" else fill
        padded = np.full((n, h + 2 * s, w + 2 * s), value, dtype=batch.dtype)
        padded[:, s:s + h, s:s + w] = images
        windows = sliding_window_view(padded, (h, w), axis=(1, 2))  # (n, 2s+1, 2s+1, h, w)
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
        images[...] = windows[np.arange(n), dy, dx]
    if flip:
        mirrored = rng.random(n) < 0.5
        images[mirrored] = images[mirrored, :, ::-1]


class ShiftFlip:
    """Callable ``(batch, rng) -> None`` applying :func:`augment` with fixed settings.

    A class rather than a closure so a model that holds it can be pickled and cloned.
    """

    def __init__(self, max_shift: int = 2, flip: bool = True,
                 image_shape: tuple[int, int] = (28, 28), fill: float | str = "min") -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        if isinstance(fill, str) and fill != "min":
            raise ValueError(f"fill must be a number or 'min', got {fill!r}")
        self.max_shift = int(max_shift)
        self.flip = bool(flip)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.fill = fill if isinstance(fill, str) else float(fill)

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> None:
        augment(batch, rng, self.max_shift, self.flip, self.image_shape, self.fill)

    def __repr__(self) -> str:
        return (f"ShiftFlip(max_shift={self.max_shift}, flip={self.flip}, "
                f"image_shape={self.image_shape}, fill={self.fill!r})")


def shift_flip(max_shift: int = 2, flip: bool = True, image_shape: tuple[int, int] = (28, 28),
               fill: float | str = "min") -> ShiftFlip:
    """The augmentation the CNN trains with: shifts of up to ``max_shift`` pixels and random
    left-right flips (see :func:`augment`)."""
    return ShiftFlip(max_shift, flip, image_shape, fill)


def mirror(rows: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """A left-right mirrored copy of ``rows`` of images: ``(n, H * W)`` or ``(n, ..., H, W)``,
    returned in the same shape."""
    h, w = image_shape
    images = np.asarray(rows).reshape(-1, h, w)  # (n, H, W)
    return np.ascontiguousarray(images[:, :, ::-1]).reshape(np.shape(rows))

