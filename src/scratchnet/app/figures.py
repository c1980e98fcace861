"""Saving matplotlib figures safely: an object-oriented ``Figure`` (no pyplot global state),
written to a temp file and renamed, so an interrupted save never leaves half a PNG."""

from __future__ import annotations

import io
import os
from pathlib import Path

from scratchnet.estimator.atomic import atomic_write_bytes


def save_figure(fig, path: str | os.PathLike, dpi: int | None = None) -> Path:
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())
    return path
