"""Reading a safetensors weights file by hand, checked against the shapes the schema expects.

The format (https://huggingface.co/docs/safetensors/index#format): an 8-byte little-endian
header length ``n``, ``n`` bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin,
end]}, "__metadata__": {...}}``, then the tensors' bytes, little-endian, offsets relative to the
end of the header. Every field is checked before the data is read: the names and shapes must be
exactly those the architecture needs, the offsets must tile the data without gaps or overlaps,
and the file must be exactly ``8 + n + data`` bytes long -- so the bytes read are bounded by
the (already bounded) architecture, whatever the file claims. The whole file must then match its
SHA-256 from ``model.json``, and every value must be finite.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from scratchnet.estimator.safe_read import (
    UnsafeFileError,
    file_size,
    open_regular,
    parse_json,
    read_exact,
)

MAX_HEADER = 1 << 20  # our headers are ~2 KB: 100 bytes per tensor
_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def read_weights(
    path: str | os.PathLike, expected: dict[str, tuple[int, ...]], sha256: str
) -> dict[str, np.ndarray]:
    """The tensors of ``path``, whose names and shapes must be exactly ``expected``.

    Raises :class:`UnsafeFileError` (message without the path) on any problem; ``OSError`` as
    ``open`` does.
    """
    with open_regular(path) as fh:
        size = file_size(fh)
        head = read_exact(fh, 8) if size >= 8 else b""
        if len(head) != 8:
            raise UnsafeFileError(f"truncated: {size} bytes is too short for a safetensors file")
        n = int.from_bytes(head, "little")
        if not 2 <= n <= min(MAX_HEADER, size - 8):
            raise UnsafeFileError(
                f"header length {n:,} is impossible for a {size:,}-byte file (corrupt or truncated)"
            )
        header_bytes = read_exact(fh, n)
        layout = _check_header(header_bytes, expected)
        data_len = max((end for _, _, end in layout.values()), default=0)
        if size != 8 + n + data_len:
            raise UnsafeFileError(
                f"is {size:,} bytes but its header declares {8 + n + data_len:,}"
                " (truncated, or bytes appended)"
            )
        data = read_exact(fh, data_len)
    digest = hashlib.sha256(head)
    digest.update(header_bytes)
    digest.update(data)
    if digest.hexdigest() != sha256:
        raise UnsafeFileError(
            "SHA-256 does not match model.json; the file is corrupt, truncated or was modified"
        )
    tensors = {}
    for name, (dtype, begin, end) in layout.items():
        array = np.frombuffer(
            data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin
        ).reshape(expected[name])
        if not np.isfinite(array).all():
            raise UnsafeFileError(f"tensor {name!r} holds NaN or infinite values")
        tensors[name] = array
    return tensors


def _check_header(header_bytes: bytes, expected: dict) -> dict[str, tuple[np.dtype, int, int]]:
    """``{name: (dtype, begin, end)}`` after checking the header against ``expected``."""
    try:
        header = parse_json(header_bytes, max_depth=4, max_containers=4 * len(expected) + 8)
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise UnsafeFileError("safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise UnsafeFileError("safetensors __metadata__ must map names to strings")
    missing, extra = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
    if missing or extra:
        raise UnsafeFileError(
            f"weights do not match the architecture: missing {missing[:5]}, unexpected {extra[:5]}"
        )
    layout = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise UnsafeFileError(f"tensor {name!r}: entry must hold dtype, shape, data_offsets")
        dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
        if dtype is None:
            raise UnsafeFileError(f"tensor {name!r}: dtype {entry['dtype']!r} is not F32 or F64")
        if entry["shape"] != list(expected[name]):
            raise UnsafeFileError(
                f"tensor {name!r} has shape {_short(entry['shape'])}, the "
                f"architecture needs {list(expected[name])}"
            )
        offsets = entry["data_offsets"]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or any(type(o) is not int for o in offsets)
        ):
            raise UnsafeFileError(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        if begin < 0 or end - begin != math.prod(expected[name]) * dtype.itemsize:
            raise UnsafeFileError(
                f"tensor {name!r}: data_offsets {offsets} do not hold its "
                f"{math.prod(expected[name])} values"
            )
        layout[name] = (dtype, begin, end)
    # The tensors must tile the data: sorted by offset, each starts where the previous ended.
    position = 0
    for name, (_, begin, end) in sorted(layout.items(), key=lambda kv: kv[1][1:]):
        if begin != position:
            raise UnsafeFileError(f"tensor {name!r}: data_offsets leave a gap or overlap")
        position = end
    return layout


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
