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
import stat
from typing import BinaryIO

import numpy as np

# +1 for an opening bracket, -1 for a closing one, 0 for any other byte.
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_CHUNK = 1 << 18  # bytes per vectorised step: about 10 MB of temporaries


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

    Vectorised, in 256 KB chunks (bounded memory, linear time): a quote is escaped when an odd
    run of backslashes precedes it; the unescaped quotes toggle "inside a string"; brackets
    outside strings step the depth. (A regular expression for strings was quadratic on
    ``'"\\"\\"\\"...'`` and needed 60 bytes of backtracking stack per escape.) Backslashes
    outside strings are invalid JSON: the count may be off after the first one, where
    ``json.loads`` stops anyway.
    """
    codes = np.frombuffer(data, dtype=np.uint8)
    depth = level = containers = quotes = 0
    last_plain, prev_run = -1, 0  # carried across chunks
    for start in range(0, codes.size, _CHUNK):
        a = codes[start : start + _CHUNK]
        pos = np.arange(start, start + a.size, dtype=np.int64)
        backslash = a == ord("\\")
        # index of the last byte that is not a backslash, at or before each position
        last = np.maximum(np.maximum.accumulate(np.where(backslash, -1, pos)), last_plain)
        run = pos - last  # length of the backslash run ending here (0 on other bytes)
        escaped = np.empty(a.size, dtype=bool)
        escaped[0] = prev_run % 2 == 1
        escaped[1:] = run[:-1] % 2 == 1
        count = np.cumsum((a == ord('"')) & ~escaped, dtype=np.int64) + quotes
        steps = np.where(count % 2 == 0, _STEP[a], 0)  # brackets inside strings do not count
        running = np.cumsum(steps, dtype=np.int64) + level
        depth = max(depth, int(running.max()))
        containers += int(np.count_nonzero(steps == 1))
        level, quotes = int(running[-1]), int(count[-1])
        last_plain, prev_run = int(last[-1]), int(run[-1])
    return depth, containers


def _require_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise UnsafeFileError("is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UnsafeFileError(
            "is not a regular file (a FIFO, socket or device); scratchnet reads only regular files"
        )
