"""The mutations :mod:`benchmarks.fuzz` and the property-based tests apply to valid files.

Each mutator takes a ``random.Random`` (the benchmark's, or one seeded by hypothesis) and returns
the bytes to write; ``write_*_case`` lays them out on disk, FIFOs and ``/dev/zero`` included.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import os
import random
from pathlib import Path

import numpy as np

WEIGHTS_KINDS = (
    "weights_truncate",
    "weights_flip",
    "weights_header_size",
    "weights_header_value",
    "weights_nonfinite",
    "weights_data_flip_rehash",
)
JSON_KINDS = (
    "json_value",
    "json_value",
    "json_value",
    "json_delete",
    "json_truncate",
    "json_flip",
    "json_deep",
    "json_escapes",
)
SPECIAL_KINDS = ("fifo", "directory", "dev_zero", "empty")
IDX_KINDS = (
    "truncate",
    "flip",
    "dims",
    "ndim",
    "dtype",
    "trailing",
    "bomb",
    "members",
    "garbage_gzip",
    "special",
)


# --- model directory mutations ------------------------------------------------------------
def template_model_dir(directory) -> dict[str, bytes]:
    """Save a small valid model (Dense-ReLU-Dropout-Dense, plus a BatchNorm) and return its
    files ``{"model.json": ..., "weights": ...}``."""
    from scratchnet.estimator.model_dir import save_model
    from scratchnet.estimator.standardizer import Standardizer
    from scratchnet.estimator.trained_model import TrainedModel
    from scratchnet.nn.layers import BatchNorm, Dense, Dropout, ReLU
    from scratchnet.nn.network import Sequential

    rng = np.random.default_rng(0)
    net = Sequential(
        [
            Dense(784, 12, rng=rng),
            BatchNorm(12),
            ReLU(),
            Dropout(0.2, rng=rng),
            Dense(12, 10, rng=rng),
        ]
    )
    X = rng.integers(0, 256, size=(20, 784))
    model = TrainedModel(
        net,
        Standardizer.fit(X),
        [f"class {i}" for i in range(10)],
        meta={
            "labels": list(range(10)),
            "epochs_run": 1,
            "history": {"loss": [1.0]},
            "metrics": {"test_accuracy": 0.5},
        },
    )
    directory = Path(directory)
    save_model(model, directory)
    doc = json.loads((directory / "model.json").read_text())
    return {
        "model.json": (directory / "model.json").read_bytes(),
        "weights": (directory / doc["weights"]["file"]).read_bytes(),
    }


def mutate_model(template: dict[str, bytes], rng: random.Random) -> tuple[str, bytes, bytes]:
    """One random mutation of the template: ``(kind, model.json bytes, weights bytes)``; the
    weights file keeps the name ``model.json`` gives it."""
    text, blob = template["model.json"], template["weights"]
    kind = rng.choice(JSON_KINDS + WEIGHTS_KINDS + SPECIAL_KINDS)
    doc = json.loads(text)
    if kind == "json_value":
        path = _random_path(doc, rng)
        _set(doc, path, _random_value(rng, path, doc))
        text = _dumps(doc)
    elif kind == "json_delete":
        path = _random_path(doc, rng)
        if path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        text = _dumps(doc)
    elif kind == "json_truncate":
        text = text[: rng.randrange(len(text))]
    elif kind == "json_flip":
        text = flip_bits(text, rng, rng.randint(1, 4))
    elif kind == "json_deep":
        depth = rng.choice([40, 1000, 100_000])
        text = text.replace(b'"epochs_run": 1', b'"epochs_run": ' + b"[" * depth + b"]" * depth)
    elif kind == "json_escapes":  # once quadratic for the nesting pre-scan
        text = b'{"a": "' + b'\\"[' * rng.choice([10, 10**4, 10**6]) + rng.choice([b"", b'"}'])
    elif kind == "weights_truncate":
        blob = blob[: rng.randrange(len(blob))]
    elif kind == "weights_flip":
        blob = flip_bits(blob, rng, rng.randint(1, 4))
    elif kind == "weights_header_size":
        size = rng.choice([0, 1, 7, len(blob), 2**31, 2**63, rng.randrange(2**64)])
        blob = size.to_bytes(8, "little") + blob[8:]
        text = _rehash(doc, blob)
    elif kind == "weights_header_value":
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + n])
        path = _random_path(header, rng)
        _set(header, path, _random_value(rng, path, header))
        raw = json.dumps(header).encode()
        blob = len(raw).to_bytes(8, "little") + raw + blob[8 + n :]
        text = _rehash(doc, blob)
    elif kind == "weights_nonfinite":
        n = int.from_bytes(blob[:8], "little")
        data = bytearray(blob)
        at = 8 + n + 4 * rng.randrange((len(blob) - 8 - n) // 4)
        data[at : at + 4] = np.float32(rng.choice([np.nan, np.inf, -np.inf])).tobytes()
        blob = bytes(data)
        text = _rehash(doc, blob)
    elif kind == "weights_data_flip_rehash":
        n = int.from_bytes(blob[:8], "little")
        blob = blob[: 8 + n] + flip_bits(blob[8 + n :], rng, rng.randint(1, 8))
        text = _rehash(doc, blob)
    return kind, text, blob


def write_model_case(directory: Path, kind: str, text: bytes, blob: bytes) -> None:
    """Lay a mutated case out in ``directory`` (emptied first), FIFOs and devices included."""
    for p in directory.iterdir():
        p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
    try:
        weights_name = json.loads(text)["weights"]["file"]
        ok_name = (
            isinstance(weights_name, str)
            and "/" not in weights_name
            and 0 < len(weights_name) < 200
            and weights_name not in (".", "..", "model.json")
        )
    except Exception:  # noqa: BLE001
        ok_name, weights_name = False, None
    if kind in SPECIAL_KINDS:
        # The special file replaces model.json, or the weights file model.json names.
        path = directory / "model.json"
        if ok_name and len(text) % 2:
            path.write_bytes(text)
            path = directory / weights_name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        elif kind == "dev_zero":
            path.symlink_to("/dev/zero")
        else:
            path.write_bytes(b"")
        return
    (directory / "model.json").write_bytes(text)
    if ok_name:
        (directory / weights_name).write_bytes(blob)


# --- IDX mutations ----------------------------------------------------------------------------
def template_idx(rng: random.Random) -> bytes:
    """A small valid IDX file: images (n, 28, 28), labels (n,), or a 2-d or 4-d array."""
    shape = rng.choice([(rng.randint(1, 5), 28, 28), (rng.randint(1, 50),), (3, 7), (2, 3, 4, 5)])
    array = np.frombuffer(rng.randbytes(math.prod(shape)), np.uint8)
    return bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes() + array.tobytes()


def mutate_idx(raw: bytes, rng: random.Random) -> tuple[str, bytes | None, bool]:
    """``(kind, file bytes, compress?)``; bytes ``None`` for a special file (a FIFO)."""
    kind = rng.choice(IDX_KINDS)
    compress = rng.random() < 0.5
    ndim = raw[3]
    if kind == "truncate":
        raw = raw[: rng.randrange(len(raw))]
    elif kind == "flip":
        raw = flip_bits(raw, rng, rng.randint(1, 4))
    elif kind == "dims":
        i = rng.randrange(ndim)
        size = rng.choice([0, 1, 28, 2**16, 2**31, 2**32 - 1, rng.randrange(2**32)])
        raw = raw[: 4 + 4 * i] + size.to_bytes(4, "big") + raw[8 + 4 * i :]
    elif kind == "ndim":
        raw = raw[:3] + bytes([rng.randrange(256)]) + raw[4:]
    elif kind == "dtype":
        raw = (
            raw[:2]
            + bytes([rng.choice([0x09, 0x0B, 0x0C, 0x0D, 0x0E, rng.randrange(256)])])
            + raw[3:]
        )
    elif kind == "trailing":
        raw = raw + rng.randbytes(rng.randint(1, 100))
    elif kind == "bomb":  # a small gzip stream that decompresses to far more than declared
        return kind, gzip.compress(raw) + _zeros_member(rng.choice([1, 64, 256])), False
    elif kind == "members":  # the declared payload split over several gzip members
        cut = rng.randrange(len(raw))
        return kind, gzip.compress(raw[:cut]) + gzip.compress(raw[cut:]), False
    elif kind == "garbage_gzip":
        data = gzip.compress(raw)
        return kind, data[:10] + flip_bits(data[10:], rng, rng.randint(1, 4)), False
    elif kind == "special":
        return kind, None, False
    return kind, raw, compress


@functools.cache
def _zeros_member(mb: int) -> bytes:
    """A gzip member of ``mb`` MB of zeros (about ``mb`` KB compressed), made once."""
    return gzip.compress(bytes(mb << 20), 1)


def write_idx_case(path: Path, data: bytes | None, compress: bool) -> None:
    if path.exists() or path.is_symlink():
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    if data is None:
        os.mkfifo(path)
    else:
        path.write_bytes(gzip.compress(data, 1) if compress else data)


# --- shared helpers ---------------------------------------------------------------------------
def flip_bits(data: bytes, rng: random.Random, n: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    3,
    7,
    16,
    17,
    784,
    10**6,
    10**7,
    2**31,
    2**64,
    -(2**63),
    10**400,
    0.5,
    1e-300,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
    "",
    "x",
    "float16",
    "../../etc/passwd",
    "weights-0123.safetensors",
    "a" * 300,
    [],
    {},
    [1],
    [0],
    [-1],
    [1e400],
    [28, 28],
    [1, 28, 28],
    "abcdefghij",
    [[[1]]],
    {"type": "Dense"},
    {"file": 3},
    ["a", "a"],
]


def _random_value(rng: random.Random, path, doc):
    old = _get(doc, path)
    r = rng.random()
    if r < 0.2 and type(old) is int:
        return old + rng.choice([-old, -1, 1, old, 10 ** rng.randint(1, 30)])
    if r < 0.3 and isinstance(old, list) and old:
        return old[: rng.randrange(len(old))] if rng.random() < 0.5 else old + old[-1:]
    return rng.choice(_VALUES)


def _random_path(doc, rng: random.Random) -> tuple:
    """A path to a random node: descend, at each step stopping with probability 1/4."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and (not path or rng.random() > 0.25):
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return tuple(path)


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _set(doc, path, value) -> None:
    if path:
        _get(doc, path[:-1])[path[-1]] = value


def _dumps(doc) -> bytes:
    return json.dumps(doc, indent=1).encode()


def _rehash(doc: dict, blob: bytes) -> bytes:
    """``model.json`` naming ``blob`` by its real SHA-256: a consistent pair, so the checks
    behind the hash are reached."""
    digest = hashlib.sha256(blob).hexdigest()
    doc = json.loads(json.dumps(doc))
    if isinstance(doc.get("weights"), dict):
        doc["weights"]["sha256"] = digest
    return _dumps(doc)
