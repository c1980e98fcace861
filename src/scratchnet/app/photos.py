"""Bringing a real photo to the Fashion-MNIST convention, so a trained model can classify it.

Fashion-MNIST items were made from Zalando's product thumbnails (Xiao et al. 2017,
https://arxiv.org/abs/1708.07747, section 2): trim the edges within 5% of full intensity of the
corner colour, resize the longest edge to 28, sharpen, centre on a 28 x 28 canvas, negate,
convert to gray. The dataset therefore shows a *light* object on a pure *black* background, its
long side spanning the whole frame (measured on the test set: 88% of the items span all 28
pixels above a gray level of 30, 99% at least 27), with the brightest pixel at 255. A model
trained on it sees nothing else, so a photo must be brought to exactly that form:

1. gray (alpha composited onto the background that contrasts with the object);
2. background subtracted (a plane fitted to the border, which follows uneven lighting) and
   light object on dark background (the sign flipped when the object is the darker side);
3. the background's noise floored to 0;
4. cropped to the object's bounding box;
5. padded to a square with the object centred;
6. resized to 28 x 28 with Lanczos antialiasing, so the long side spans the frame;
7. contrast stretched so the brightest pixel is 255.

The background is assumed to be plain (a wall, sheet or table, evenly lit or lit from one side),
with the object inside the frame: a cluttered scene needs cropping by hand first, and a strong
shadow is taken for part of the object.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from scratchnet.app.photo_decode import (
    MAX_PIXELS,
    MAX_SIDE,
    ImageTooLargeError,
    NotAnImageError,
    PhotoError,
    as_gray,
    decode_image,
    read_image,
)

SIZE = 28  # side of a Fashion-MNIST image
MIN_CONTRAST = 12.0  # gray levels between object and background below which a photo is blank
BOX_THRESHOLD = 0.05  # fraction of the object's contrast that is object for the crop, as in
# the dataset's trimming (within 5% of full intensity of the background is background)
CLIPPED_BORDER = 0.1  # fraction of the border at pure black/white that makes it the background
# Re-exported: callers catch the errors and read the limits from here.
__all__ = ["MAX_PIXELS", "MAX_SIDE", "ImageTooLargeError", "NotAnImageError", "PhotoError",
           "load_photo", "load_photo_bytes", "to_fashion_mnist"]


def load_photo(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG/JPEG/... photo and bring it to the Fashion-MNIST convention.

    Parameters
    ----------
    path : str or path-like
        A regular image file Pillow reads, of at most ``MAX_PIXELS`` pixels, colour or gray,
        with or without alpha (read as :func:`scratchnet.app.photo_decode.read_image` says).

    Returns
    -------
    ndarray of shape (784,), dtype uint8
        The 28 x 28 image in row-major order, light object on black, as ``predict_proba`` takes.

    Raises
    ------
    PhotoError
        The file is missing, is not a regular file, is not an image (``NotAnImageError``), is
        too large (``ImageTooLargeError``), is corrupt or truncated, or shows no object.
    """
    return _named(read_image(path), str(Path(path)))


def load_photo_bytes(data: bytes, name: str = "upload") -> np.ndarray:
    """:func:`load_photo` for an image held in memory (an HTTP upload): the same checks and the
    same preprocessing, so the web API and ``scratchnet predict`` give the same answer.

    Parameters
    ----------
    data : bytes
        The encoded image (PNG, JPEG...); its format is found from the content, not a name.
    name : str, default="upload"
        What the error messages call it.

    Returns
    -------
    ndarray of shape (784,), dtype uint8
    """
    return _named(decode_image(io.BytesIO(data), name), name)


def _named(image: Image.Image, name: str) -> np.ndarray:
    try:
        return to_fashion_mnist(image)
    except PhotoError as exc:
        raise PhotoError(f"{name}: {exc}") from None


def to_fashion_mnist(image: Image.Image | np.ndarray) -> np.ndarray:
    """Bring an image to the Fashion-MNIST convention (the steps in the module docstring).

    Parameters
    ----------
    image : PIL.Image.Image or ndarray
        A Pillow image in any mode, or an array of shape (H, W), (H, W, 3) (RGB), (H, W, 4)
        (RGBA), (H, W, 2) (gray and alpha) or (H*W,) for a square image. Integer arrays are
        0..255 (0..65535 when larger values occur); float arrays are 0..1 when their maximum is
        at most 1, else 0..255.

    Returns
    -------
    ndarray of shape (784,), dtype uint8

    Raises
    ------
    PhotoError
        The image is blank: no object stands out from the background.
    """
    gray = _limit_size(as_gray(image))  # (H, W) float64 in 0..255
    ring = _ring(gray.shape)  # (H, W) bool
    background, inliers = _background(gray, ring)  # (H, W), (B,) bool
    contrast = gray - background  # (H, W), background about 0
    noise = contrast[ring][inliers]  # (B_in,) the border's background pixels
    if _object_is_dark(contrast, noise):
        contrast, noise = -contrast, -noise  # the object must be the light side
    signal = _remove_noise(contrast, noise)  # (H, W), background exactly 0
    rows, cols = _object_box(signal, _despeckled(signal))
    square = _pad_to_square(signal[rows, cols])  # (S, S)
    small = _resize(square, SIZE)  # (28, 28)
    peak = small.max()
    if peak <= 0:  # pragma: no cover - _object_box guarantees some signal
        raise PhotoError("blank image: no object stands out from the background")
    # The dataset's items all reach 255; a dim photo must too, or the model sees a faded item.
    return np.clip(np.rint(small * (255.0 / peak)), 0, 255).astype(np.uint8).reshape(-1)


# --- the steps (step 1, gray levels, is scratchnet.app.photo_decode.as_gray) -------------------
def _limit_size(gray: np.ndarray) -> np.ndarray:
    """Shrink a large photo (box filter, i.e. averaging) so its long side is ``MAX_SIDE``.

    The object ends up 28 pixels tall anyway; averaging early also lowers the sensor noise.
    """
    h, w = gray.shape
    if max(h, w) <= MAX_SIDE:
        return gray
    scale = MAX_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(gray.astype(np.float32))  # mode "F"
    return np.asarray(img.resize(size, Image.Resampling.BOX), dtype=np.float64)


def _ring(shape: tuple[int, int]) -> np.ndarray:
    """The outer ring of pixels (2% of the short side, at least 1): where the background is."""
    h, w = shape
    k = max(1, min(h, w) // 50)
    ring = np.ones(shape, dtype=bool)  # (H, W)
    if 2 * k < min(h, w):
        ring[k:-k, k:-k] = False
    return ring


def _background(gray: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 2a: the background's gray level at every pixel, a plane fitted to the border.

    A lamp to one side or a window makes the background of a photo a gradient, and a constant
    background level would leave its brighter end as a band that the crop takes for the object.
    A plane ``b0 + bx * x + by * y`` fitted by least squares to the border pixels follows it.
    Each fit uses only the border pixels within 3 robust standard deviations of the previous
    plane, starting from a flat one at the border's median: parts of the object that touch the
    border drop out before they can tilt the plane.

    A background clipped to pure black or white (the dataset's own images, a product photo on
    white) is flat and known exactly: when at least ``CLIPPED_BORDER`` of the border sits at the
    image's darkest or lightest level, that level is the background, however much of the rest
    of the border the object covers (a bag spanning the frame).

    Returns the background ``(H, W)`` and which border pixels (in ``gray[ring]`` order) are
    background rather than object.
    """
    h, w = gray.shape
    v = gray[ring]  # (B,)
    for level in sorted((gray.min(), gray.max()), key=lambda lv: -np.sum(v == lv)):
        at_level = v == level
        if at_level.mean() >= CLIPPED_BORDER:
            return np.full(gray.shape, level), at_level
    ys, xs = np.nonzero(ring)  # (B,), (B,)
    # Coordinates in -1..1 keep the least-squares problem well conditioned at any size.
    A = np.column_stack([np.ones(v.size), xs / max(w - 1, 1) * 2 - 1,
                         ys / max(h - 1, 1) * 2 - 1])  # (B, 3)
    coef = np.array([np.median(v), 0.0, 0.0])  # start flat, at the border's median
    keep = np.ones(v.size, dtype=bool)
    for _ in range(3):
        res = v - A @ coef  # (B,)
        mid = np.median(res[keep])
        spread = 1.4826 * np.median(np.abs(res[keep] - mid))  # robust std
        keep = np.abs(res - mid) <= max(3.0 * spread, 2.0)
        coef = np.linalg.lstsq(A[keep], v[keep], rcond=None)[0]  # (3,)
    gx = np.linspace(-1.0, 1.0, w) if w > 1 else np.zeros(1)
    gy = np.linspace(-1.0, 1.0, h) if h > 1 else np.zeros(1)
    return coef[0] + coef[1] * gx[None, :] + coef[2] * gy[:, None], keep  # (H, W), (B,)


def _object_is_dark(contrast: np.ndarray, noise: np.ndarray) -> bool:
    """Step 2b: is the object darker than its background (so the image must be inverted)?

    ``contrast`` is the image minus its background and ``noise`` the border's background
    pixels in it. Pixels that differ from the background by more than 3 noise standard
    deviations are the object; the object is dark when those pixels lie below the background
    by more (in summed gray levels) than they lie above it. Summing deviations, instead of
    comparing the border's median with the image's, still works when the object covers a small
    part of the photo (the image median is then the background's) and when it touches the
    border.
    """
    t = max(3.0 * _robust_std(noise), 2.0)
    above = np.clip(contrast - t, 0.0, None).sum()
    below = np.clip(-contrast - t, 0.0, None).sum()
    return bool(below > above)


def _remove_noise(contrast: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Step 3: floor the background's noise to 0, as the dataset's background is exactly 0.

    Everything below the background's median plus 3 robust standard deviations of its noise
    (measured on the border's background pixels) becomes 0: about one background pixel in 700
    survives with Gaussian noise, as a faint speck that step 4 ignores.
    """
    floor = np.median(noise) + 3.0 * _robust_std(noise)
    return np.clip(contrast - floor, 0.0, None)  # (H, W)


def _robust_std(x: np.ndarray) -> float:
    """1.4826 times the median absolute deviation: the standard deviation for Gaussian noise,
    unmoved by a few outliers."""
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _despeckled(signal: np.ndarray) -> np.ndarray:
    """The 3 x 3 mean of ``signal``, on images large enough that 3 pixels are well under one
    output pixel (on small ones a blur would dim 1-pixel sandal straps below the threshold).

    An isolated speck (dust, a hot pixel, noise the floor missed) drops to a ninth of its value,
    so it neither sets the object's contrast nor widens the crop; the object's edges barely move.
    """
    if min(signal.shape) < 3 * SIZE:
        return signal
    p = np.pad(signal, 1)  # (H+2, W+2)
    rows = p[:-2] + p[1:-1] + p[2:]  # (H, W+2)
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0  # (H, W)


def _object_box(signal: np.ndarray, smooth: np.ndarray) -> tuple[slice, slice]:
    """Step 4: the bounding box of the pixels above ``BOX_THRESHOLD`` of the object's contrast.

    ``smooth`` is the despeckled ``signal``; its maximum is the object's contrast. A pixel is
    object when both it and its neighbourhood mean pass the threshold: the mean drops isolated
    specks, the pixel itself keeps the mean's blur from widening the box past a sharp edge. A
    threshold relative to the contrast is the dataset's (its trimming kept what differed from
    the background by more than 5% of full intensity, and its items reach full intensity) and
    ignores faint JPEG ringing whatever the exposure. An image whose contrast is below
    ``MIN_CONTRAST`` gray levels is blank.
    """
    contrast = smooth.max()
    if contrast < MIN_CONTRAST:
        raise PhotoError("blank image: no object stands out from the background")
    mask = np.minimum(signal, smooth) > BOX_THRESHOLD * contrast  # (H, W)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _pad_to_square(crop: np.ndarray) -> np.ndarray:
    """Step 5: pad the short side with background (0) equally on both sides.

    Centring the bounding box (not the centre of mass) is what the dataset's pipeline did:
    a trouser's legs and an ankle boot's heel sit where they fall.
    """
    h, w = crop.shape
    s = max(h, w)
    out = np.zeros((s, s), dtype=np.float64)  # (S, S)
    # An odd margin puts its extra pixel above and left, as the dataset does (measured).
    top, left = (s - h + 1) // 2, (s - w + 1) // 2
    out[top : top + h, left : left + w] = crop
    return out


def _resize(square: np.ndarray, size: int) -> np.ndarray:
    """Step 6: resample to ``size x size`` with a Lanczos filter.

    Pillow widens the filter by the reduction factor when shrinking, so every output pixel
    averages the whole patch it covers (antialiasing) instead of sampling one pixel and
    aliasing fine texture into noise. Lanczos overshoots a little at edges: clipped at 0.
    """
    img = Image.fromarray(square.astype(np.float32))  # mode "F" keeps full precision
    small = img.resize((size, size), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(small, dtype=np.float64), 0.0, None)  # (size, size)
