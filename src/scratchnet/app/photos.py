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
import stat
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = 28  # side of a Fashion-MNIST image
MAX_SIDE = 1024  # photos are shrunk to this first: more pixels only cost time
MIN_CONTRAST = 12.0  # gray levels between object and background below which a photo is blank
BOX_THRESHOLD = 0.05  # fraction of the object's contrast that is object for the crop, as in
# the dataset's trimming (within 5% of full intensity of the background is background)
CLIPPED_BORDER = 0.1  # fraction of the border at pure black/white that makes it the background
# Pixels an image may declare: a 12-megapixel phone photo passes, as does a 40-megapixel camera
# raw export; Pillow's own limit (89 million, refused only above 179 million) lets a 150 KB PNG
# of 12000 x 12000 cost 2.7 GB and 8 s. Checked from the header, before decoding.
MAX_PIXELS = 40_000_000
_OPEN_LOCK = threading.Lock()
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, the weights Pillow's convert("L") uses


class PhotoError(Exception):
    """A photo is missing, unreadable or blank; the message is one line naming the file."""


class NotAnImageError(PhotoError):
    """The bytes are no image format Pillow knows (a text file, an archive...)."""


class ImageTooLargeError(PhotoError):
    """The image declares more than ``MAX_PIXELS`` pixels (a decompression bomb, or a huge
    scan): refused from its header, before anything is decoded."""


def load_photo(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG/JPEG/... photo and bring it to the Fashion-MNIST convention.

    Parameters
    ----------
    path : str or path-like
        A regular image file Pillow reads, of at most ``MAX_PIXELS`` pixels, colour or gray,
        with or without alpha. A FIFO or a device is refused without reading from it.

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
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise PhotoError(f"{path}: no such file") from None
    except PermissionError:
        raise PhotoError(f"{path}: permission denied") from None
    except OSError as exc:
        raise PhotoError(f"{path}: cannot open ({_one_line(exc)})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise PhotoError(f"{path}: is a directory, not an image file")
        # A FIFO blocks and /dev/zero never ends: read only what has an end.
        raise PhotoError(f"{path}: not a regular file ({_file_kind(mode)}); give the path of "
                         "an image file")
    with os.fdopen(fd, "rb") as file:
        return _decode(file, str(path))


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
    return _decode(io.BytesIO(data), name)


def _decode(file, name: str) -> np.ndarray:
    """Open ``file`` (a binary file object) as an image, decode it within the pixel limit and
    bring it to the Fashion-MNIST convention; every failure is a one-line ``PhotoError``."""
    try:
        with _open_image(file, name) as img:
            img.load()  # decode now: a truncated file fails here, inside the try
            # Phones store the camera's orientation in EXIF instead of rotating the pixels.
            image = ImageOps.exif_transpose(_shrink(img))
    except PhotoError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError,
            ZeroDivisionError) as exc:
        raise PhotoError(f"{name}: corrupt or truncated image ({_one_line(exc)})") from None
    try:
        return to_fashion_mnist(image)
    except PhotoError as exc:
        raise PhotoError(f"{name}: {exc}") from None


def _open_image(file, name: str) -> Image.Image:
    """``Image.open`` (which reads only the header) plus the pixel limit, checked before any
    pixel is decoded; a JPEG is set to decode at a reduced scale (``draft``).

    Pillow's own guard warns above 89 million pixels and refuses above twice that; ours is
    lower and refuses with one line, so Pillow's warning is turned into that error instead of
    being printed. The warnings filter is process-wide state, hence the lock: the server opens
    uploads from several threads.
    """
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(file)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLargeError(f"{name}: image too large ({_one_line(exc)}); scratchnet takes "
                                 f"at most {MAX_PIXELS:,} pixels: shrink it first") from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file (expected PNG, JPEG or another "
                              "format Pillow reads)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise PhotoError(f"{name}: corrupt or truncated image ({_one_line(exc)})") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise ImageTooLargeError(f"{name}: image too large ({w} x {h} = {w * h:,} pixels); "
                                 f"scratchnet takes at most {MAX_PIXELS:,}: shrink it first")
    if img.format == "JPEG":
        # JPEG decodes at 1/2, 1/4 or 1/8 scale for free (DCT scaling): never more pixels than
        # the first step below keeps anyway.
        img.draft(None, (MAX_SIDE, MAX_SIDE))
    return img


def _shrink(img: Image.Image) -> Image.Image:
    """Average ``k x k`` blocks (Pillow's ``reduce``) of a decoded image whose long side is at
    least twice ``MAX_SIDE``, in its own 8- or 32-bit mode, before anything becomes float64.

    Without it a 40-megapixel RGBA PNG (a 170 KB file) became a 1.3 GB float64 array and the
    process peaked at 3 GB (measured); reduced first, the arrays are at most a few MB. The
    averaging is the same box filter :func:`_limit_size` applies afterwards.
    """
    factor = max(img.size) // MAX_SIDE
    if factor < 2:
        return img
    # Palette indices cannot be averaged, and Pillow does not reduce 16-bit or exotic modes.
    if img.mode.startswith("I;16"):
        img = img.convert("I")
    elif img.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        img = img.convert("RGBA" if _has_alpha(img) else "RGB" if img.mode in _COLOUR else "L")
    return img.reduce(factor)


_COLOUR = ("P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX")


def _has_alpha(img: Image.Image) -> bool:
    return "A" in img.mode or "a" in img.mode or "transparency" in img.info


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a plain file")


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
    gray = _limit_size(_as_gray(image))  # (H, W) float64 in 0..255
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


# --- the steps --------------------------------------------------------------------------------
def _as_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Step 1: gray levels 0..255 as float64 ``(H, W)``, with transparency made opaque.

    Transparent pixels are background. They are filled with black when the visible pixels are
    mostly light and with white when they are mostly dark, so a cut-out object keeps its
    contrast whatever its colour (a white shirt on white would vanish).
    """
    if isinstance(image, Image.Image):
        image = _pil_to_array(image)
    arr = np.asarray(image)
    if arr.ndim == 1:
        side = int(round(np.sqrt(arr.size)))
        if side * side != arr.size:
            raise ValueError(f"a flat image must have a square number of pixels, got {arr.size}")
        arr = arr.reshape(side, side)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 1|2|3|4), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise PhotoError("blank image: it has no pixels")
    x = _to_0_255(arr)  # (H, W[, C]) float64
    if x.ndim == 2:
        return x
    channels = x.shape[2]
    color = x[..., : 1 if channels <= 2 else 3]  # (H, W, 1 or 3)
    gray = color[..., 0] if color.shape[2] == 1 else color @ _LUMA  # (H, W)
    if channels in (2, 4):
        alpha = x[..., -1] / 255.0  # (H, W) in 0..1
        seen = alpha.sum()
        mean_seen = (gray * alpha).sum() / seen if seen > 0 else 0.0
        fill = 0.0 if mean_seen >= 127.5 else 255.0
        gray = gray * alpha + fill * (1.0 - alpha)
    return gray


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A Pillow image as an array ``_to_0_255`` understands, whatever its mode."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return np.asarray(img)  # 16/32-bit integers or floats: scaled by _to_0_255
    return np.asarray(img.convert("RGBA" if _has_alpha(img) else "L"))


def _to_0_255(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == bool:
        return arr.astype(np.float64) * 255.0
    x = arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.floating):
        x = np.nan_to_num(x)
        return np.clip(x * 255.0 if x.max(initial=0.0) <= 1.0 else x, 0.0, 255.0)
    if x.max(initial=0.0) > 255:  # 16-bit scans and PNGs
        x = x * (255.0 / 65535.0)
    return np.clip(x, 0.0, 255.0)


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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
