"""The IDX file format, read in bounded memory whatever the file claims.

IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header ``0x00 0x00 <type> <ndim>``
(type ``0x08`` = unsigned byte), then ``ndim`` big-endian uint32 sizes, then the data; the
Fashion-MNIST files are gzip'd. A gzip stream can decompress to far more than its size (a 4.5 MB
"bomb" once took the old reader to 2.1 GB), so the reader never decompresses more than the
header declares, and the header's declared size is capped before anything is allocated.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes
from scratchnet.estimator.safe_read import UnsafeFileError, open_regular

FETCH_COMMAND = "scratchnet data fetch"
_UBYTE = 0x08
# 128 MB: the largest Fashion-MNIST file, the training images, holds 47 MB; the cap bounds what
# a forged header can make the reader allocate.
MAX_IDX_BYTES = 1 << 27
_CHUNK = 1 << 20


class DatasetError(Exception):
    """A data file is missing, truncated, corrupt or does not match its partner."""


def idx_dims(path: str | os.PathLike) -> tuple[int, ...]:
    """The dimensions an IDX file's header declares, read and checked without its payload."""
    with _open_idx(path) as fh:
        return _read_header(fh, Path(path))


def read_idx(
    path: str | os.PathLike, shape: tuple[int, ...] | None = None, max_bytes: int = MAX_IDX_BYTES
) -> np.ndarray:
    """Read a (gzip'd or plain) IDX file of unsigned bytes into an array of its dimensions.

    Streams: the header is read and checked first (magic number, positive sizes, the declared
    size computed in Python integers, so no overflow, and capped at ``max_bytes``; ``shape``, if
    given, must match), then exactly that many bytes are read in 1 MB chunks into one
    preallocated array, and one more byte must not exist. Memory is thus bounded by the
    declared size whatever a gzip stream would decompress to. Regular files only. Raises only
    ``DatasetError``, naming the file.
    """
    path = Path(path)
    with _open_idx(path) as fh:
        dims = _read_header(fh, path)
        if shape is not None and dims != tuple(shape):
            raise DatasetError(f"{path}: header declares shape {dims}, expected {tuple(shape)}")
        expected = math.prod(dims)  # Python ints: exact, whatever the sizes
        if expected > max_bytes:
            raise DatasetError(
                f"{path}: header {dims} declares {expected:,} data bytes, more than the "
                f"{max_bytes:,}-byte limit; is this a Fashion-MNIST file?"
            )
        out = np.empty(expected, dtype=np.uint8)  # (prod(dims),)
        view, got = memoryview(out), 0
        while got < expected:
            n = _guard(path, fh.readinto, view[got : got + _CHUNK])
            if not n:
                break
            got += n
        trailing = _guard(path, fh.read, 1) if got == expected else b""
    if got != expected or trailing:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DatasetError(
            f"{path}: {what}: header {dims} needs {expected} data bytes, "
            f"found {got}{'+' if trailing else ''}"
        )
    return out.reshape(dims)


@contextlib.contextmanager
def _open_idx(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """The decompressed stream of a regular file, gzip'd (magic ``1f 8b``) or not."""
    path = Path(path)
    try:
        raw = open_regular(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found; run `{FETCH_COMMAND}`") from None
    except UnsafeFileError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise DatasetError(
            f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    with raw:
        magic = _guard(path, raw.read, 2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                yield fh
        else:
            yield raw


def _read_header(fh: BinaryIO, path: Path) -> tuple[int, ...]:
    head = _guard(path, fh.read, 4)
    if len(head) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0:
        raise DatasetError(
            f"{path}: bad magic number {head.hex()} (an IDX file starts with two zero bytes)"
        )
    dtype_code, ndim = head[2], head[3]
    if dtype_code != _UBYTE:
        raise DatasetError(f"{path}: data type 0x{dtype_code:02x} is not unsigned byte (0x08)")
    if not 1 <= ndim <= 4:
        raise DatasetError(f"{path}: {ndim} dimensions is not a valid image or label file")
    sizes = _guard(path, fh.read, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"{path}: truncated header ({4 + len(sizes)} of {4 + 4 * ndim} bytes)")
    dims = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
    if any(d == 0 for d in dims):
        raise DatasetError(f"{path}: header declares an empty dimension {dims}")
    return dims


def _guard(path: Path, read, *args):
    """``read(*args)``, with gzip and I/O failures turned into one ``DatasetError``."""
    try:
        return read(*args)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{path}: corrupt or truncated gzip data ({exc}); delete it and run `{FETCH_COMMAND}`"
        ) from None


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool = True) -> None:
    """Write a uint8 array as an IDX file (gzip'd when ``compress``); used by tests and tools."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    atomic_write_bytes(path, gzip.compress(data) if compress else data)
