"""Reading an image file or upload safely (bounded in time and memory, one-line errors), and
any decoded image or array as gray levels (:func:`as_gray`).

Every image goes through the same gate, whether a path (``scratchnet predict``) or bytes (an
upload to ``scratchnet serve``):

1. a path must be a regular file: it is opened without blocking and checked with ``fstat``, so
   a FIFO (which would wait for a writer forever) or a device (``/dev/zero`` never ends) is
   refused without reading a byte;
2. the format is sniffed from the content (``Image.open`` reads the header only), never taken
   from the name;
3. the declared size must be at most ``MAX_PIXELS``, checked from the header before any pixel
   is decoded: a 150 KB PNG of 12000 x 12000 pixels (which cost 2.7 GB and 8 s to decode) is
   refused in about a millisecond, with one line and no Pillow warning;
4. a JPEG decodes at a reduced scale (``draft``: 1/2, 1/4 or 1/8, free in the DCT), and any
   other image with a long side of at least ``2 * MAX_SIDE`` is block-averaged (``reduce``) in
   its own 8- or 32-bit mode before anything becomes a float64 array.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1024  # photos are shrunk to this first: more pixels only cost time
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, the weights Pillow's convert("L") uses
# Pixels an image may declare: a 12-megapixel phone photo passes, as does a 40-megapixel camera
# raw export; Pillow's own limit (89 million, refused only above 179 million) lets a 150 KB PNG
# of 12000 x 12000 cost 2.7 GB and 8 s. Checked from the header, before decoding.
MAX_PIXELS = 40_000_000
_OPEN_LOCK = threading.Lock()


class PhotoError(Exception):
    """A photo is missing, unreadable or blank; the message is one line naming the file."""


class NotAnImageError(PhotoError):
    """The bytes are no image format Pillow knows (a text file, an archive...)."""


class ImageTooLargeError(PhotoError):
    """The image declares more than ``MAX_PIXELS`` pixels (a decompression bomb, or a huge
    scan): refused from its header, before anything is decoded."""


def read_image(path: str | os.PathLike) -> Image.Image:
    """The decoded image in the regular file ``path`` (steps 1-4 of the module docstring).

    Raises
    ------
    PhotoError
        The file is missing, unreadable, not a regular file, not an image
        (``NotAnImageError``), too large (``ImageTooLargeError``), corrupt or truncated; the
        message is one line starting with the path.
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
        raise PhotoError(f"{path}: cannot open ({one_line(exc)})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise PhotoError(f"{path}: is a directory, not an image file")
        # A FIFO blocks and /dev/zero never ends: read only what has an end.
        raise PhotoError(f"{path}: not a regular file ({_file_kind(mode)}); give the path of "
                         "an image file")
    with os.fdopen(fd, "rb") as file:
        return decode_image(file, str(path))


def decode_image(file, name: str) -> Image.Image:
    """Open ``file`` (a binary file object) as an image and decode it within the limits
    (steps 2-4 of the module docstring), turned upright by its EXIF orientation.

    Raises
    ------
    PhotoError
        One line starting with ``name``, as for :func:`read_image`.
    """
    try:
        with open_image(file, name) as img:
            img.load()  # decode now: a truncated file fails here, inside the try
            # Phones store the camera's orientation in EXIF instead of rotating the pixels.
            return ImageOps.exif_transpose(_shrink(img))
    except PhotoError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError,
            ZeroDivisionError) as exc:
        raise PhotoError(f"{name}: corrupt or truncated image ({one_line(exc)})") from None


def open_image(file, name: str) -> Image.Image:
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
        # Pillow's message names its own limit; say ours, with the size it read.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "over Pillow's own limit"
        raise ImageTooLargeError(f"{name}: image too large ({size}); scratchnet takes at most "
                                 f"{MAX_PIXELS:,}: shrink it first") from None
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file (expected PNG, JPEG or another "
                              "format Pillow reads)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise PhotoError(f"{name}: corrupt or truncated image ({one_line(exc)})") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise ImageTooLargeError(f"{name}: image too large ({w} x {h} = {w * h:,} pixels); "
                                 f"scratchnet takes at most {MAX_PIXELS:,}: shrink it first")
    if img.format == "JPEG":
        # JPEG decodes at 1/2, 1/4 or 1/8 scale for free (DCT scaling): never more pixels than
        # scratchnet.app.photos keeps anyway.
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
        img = img.convert("RGBA" if has_alpha(img) else "RGB" if img.mode in _COLOUR else "L")
    return img.reduce(factor)


_COLOUR = ("P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX")


def has_alpha(img: Image.Image) -> bool:
    """Whether ``img`` has transparency (an alpha band or a transparent palette entry)."""
    return "A" in img.mode or "a" in img.mode or "transparency" in img.info


def as_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Gray levels 0..255 as float64 ``(H, W)``, with transparency made opaque (step 1 of
    :func:`scratchnet.app.photos.to_fashion_mnist`).

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
    return np.asarray(img.convert("RGBA" if has_alpha(img) else "L"))


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


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a plain file")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (or its type's name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__
