"""Atomic file writes, and a lock for the directories they write into.

A file is written to a temp file in the same directory, flushed to disk, then renamed over the
target; the directory itself is then fsynced, because the rename lives in the directory's entries
and a power cut before those reach the disk would lose it (``rename(2)`` is atomic, not durable).
A crash or Ctrl-C mid-write leaves either the old file or the new one, never half of one.

:func:`directory_lock` serialises writers of one directory across processes with ``flock(2)``
on a lock file inside it: the kernel drops the lock when its holder exits, even by ``kill -9``,
so a crashed writer never leaves the directory locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".scratchnet.lock"
_held: dict[tuple[str, int], int] = {}  # (real path, thread) -> depth, for re-entry
_held_guard = threading.Lock()


class DirectoryLockedError(OSError):
    """Another process holds the directory's lock and did not release it in time."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (see the module docstring)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file readable by its owner only; give it the permissions an
        # ordinary open() would have (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_directory(directory: str | os.PathLike) -> None:
    """Flush a directory's entries (renames, creations, removals) to disk."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike, wait: float = 30.0) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (which must exist) for the ``with`` block.

    Waits up to ``wait`` seconds for another holder, then raises :class:`DirectoryLockedError`.
    Re-entrant within one thread, so a caller may hold the lock around a whole run and still
    call functions that take it again.
    """
    key = (os.path.realpath(directory), threading.get_ident())
    with _held_guard:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    fd = os.open(Path(directory) / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DirectoryLockedError(
                        f"{directory}: another scratchnet process is writing this directory "
                        f"(waited {wait:g} s); wait for it to finish or choose another "
                        "directory"
                    ) from None
                time.sleep(0.05)
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
    finally:
        os.close(fd)  # closing the last descriptor releases the flock
