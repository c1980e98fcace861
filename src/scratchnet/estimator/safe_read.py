"""Reading untrusted files in bounded time and memory.

Model directories and data files come from anywhere, so every read here is bounded *before* it
allocates:

- **regular files only**: a FIFO would block ``open`` forever and ``/dev/zero`` never ends, so the
  path is ``stat``-ed first, opened with ``O_NONBLOCK`` (opening a FIFO then returns at once) and
  ``fstat``-ed again on the open descriptor (the file cannot be swapped in between);
- **size caps**: the size comes from ``fstat`` and is compared with a cap before anything is read,
  then exactly that many bytes are read;
- **JSON with bounded nesting**: ``json.loads`` recurses once per ``[``/``{`` level and raises
  ``RecursionError`` on ``[[[[...]]]]``, so the bracket depth (outside strings) and the number of
  containers are counted first, with NumPy, in a few milliseconds for a few megabytes.

Every problem raises :class:`UnsafeFileError` with a message that does not repeat the path: the
caller prefixes its file name and turns it into its own error class (``ModelFileError``,
``DatasetError``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import BinaryIO

import numpy as np

# A JSON string, escapes included (the "unrolled loop" form, linear time).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# bytes.translate deletes everything but brackets, then maps openers to +1 and closers to -1.
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = bytearray(256)
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = 0xFF  # -1 as int8
_STEP = bytes(_STEP)


class UnsafeFileError(ValueError):
    """A file is not a regular file, is too large, or its structure is out of bounds."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks to one are fine).

    Raises ``FileNotFoundError`` or ``PermissionError`` as ``open`` would, and
    :class:`UnsafeFileError` for a directory, FIFO, socket or device.
    """
    _require_regular(os.stat(path).st_mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        _require_regular(os.fstat(fd).st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_size(fh: BinaryIO) -> int:
    """Size in bytes of an open file, from ``fstat``."""
    return os.fstat(fh.fileno()).st_size


def read_exact(fh: BinaryIO, n: int) -> bytes:
    """Read exactly ``n`` bytes or raise :class:`UnsafeFileError` (the file is shorter)."""
    data = fh.read(n)
    if len(data) != n:
        raise UnsafeFileError(f"truncated: needed {n} more bytes, found {len(data)}")
    return data


def read_capped(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The whole of a regular file of at most ``max_bytes`` bytes."""
    with open_regular(path) as fh:
        size = file_size(fh)
        if size > max_bytes:
            raise UnsafeFileError(f"is {size:,} bytes, more than the {max_bytes:,}-byte limit")
        data = fh.read(size + 1)
    if len(data) != size:
        raise UnsafeFileError("changed size while being read")
    return data


def parse_json(data: bytes, max_depth: int = 32, max_containers: int = 100_000):
    """``json.loads`` of UTF-8 ``data`` after checking its nesting depth and container count.

    ``NaN`` and ``Infinity`` (which Python's ``json`` accepts) come back as floats; callers check
    finiteness where it matters.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    depth, containers = _nesting(data)
    if depth > max_depth:
        raise UnsafeFileError(f"JSON nested {depth} levels deep, more than {max_depth}")
    if containers > max_containers:
        raise UnsafeFileError(
            f"JSON holds {containers:,} lists and objects, more than {max_containers:,}"
        )
    try:
        return json.loads(text)
    except RecursionError:  # the pre-scan makes this unreachable; kept as a second line
        raise UnsafeFileError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise UnsafeFileError(f"corrupt or truncated JSON ({exc})") from None


def _nesting(data: bytes) -> tuple[int, int]:
    """``(max depth, number of containers)`` of the brackets outside JSON strings.

    An unterminated string leaves its brackets counted, which can only overstate the depth of a
    document that is invalid anyway.
    """
    brackets = _JSON_STRING.sub(b"", data).translate(_STEP, _NOT_BRACKETS)
    steps = np.frombuffer(brackets, dtype=np.int8)  # +1 per opener, -1 per closer
    depth, level = 0, 0
    for start in range(0, steps.size, 1 << 20):  # chunks keep the int32 running sum small
        running = np.cumsum(steps[start : start + (1 << 20)], dtype=np.int32) + level
        depth = max(depth, int(running.max()))
        level = int(running[-1])
    return depth, int(np.count_nonzero(steps == 1))


def _require_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise UnsafeFileError("is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UnsafeFileError(
            "is not a regular file (a FIFO, socket or device); scratchnet reads only regular files"
        )
