"""The schema of ``model.json``: every field checked for type, range and consistency before
anything is allocated.

:func:`validate_model_doc` takes the parsed JSON and returns a :class:`ModelSpec` whose values
are safe to build from: the architecture is walked layer by layer, propagating the per-sample
shape from ``input_shape`` (a Dense layer must receive exactly ``in_features`` values, a Conv2D
``(in_channels, H, W)`` with a window that fits, ...), so the tensor shapes the network will need
are known -- and bounded -- before the weights file is opened or a layer is built. Sizes are
capped (``MAX_*`` below) well above the presets (the CNN has 420k parameters and 25k activations
per image) and well below what would exhaust memory. Problems raise :class:`SchemaError` naming
the field, e.g. ``field 'architecture[3].in_features': ...``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from scratchnet.estimator.schema_layers import MAX_FEATURES, SchemaError, check_int, walk_layers

FORMAT_NAME = "scratchnet-model"
FORMAT_VERSION = 1
DTYPES = ("float32", "float64")
MAX_CLASSES = 10_000
MAX_NAME_LENGTH = 200
MAX_INPUT_DIMS = 3
# Pixel statistics: pixels are 0..255, so a std outside these bounds is not a statistic of
# images, and a std near 0 would turn (x - mean) / std into inf in float32.
MIN_STD, MAX_STD, MAX_ABS_MEAN = 1e-6, 1e6, 1e6
WEIGHTS_NAME = re.compile(r"weights-([0-9a-f]{16})\.safetensors")
SHA256 = re.compile(r"[0-9a-f]{64}")
RESERVED = frozenset(
    {
        "format",
        "format_version",
        "architecture",
        "input_shape",
        "dtype",
        "preprocessing",
        "class_names",
        "weights",
    }
)


@dataclass
class ModelSpec:
    """A checked ``model.json``: what :func:`~scratchnet.estimator.model_dir.load_model` builds."""

    architecture: list[dict]
    input_shape: tuple[int, ...]
    dtype: str
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    class_names: list[str]
    weights_file: str
    sha256: str
    tensors: dict[str, tuple[int, ...]]  # the shapes the weights file must hold, by name
    meta: dict = field(default_factory=dict)


def validate_model_doc(doc) -> ModelSpec:
    """Check a parsed ``model.json`` (format version 1); :class:`SchemaError` on any problem."""
    if not isinstance(doc, dict):
        raise SchemaError("(top level)", f"must be a JSON object, got {_kind(doc)}")
    if doc.get("format") != FORMAT_NAME:
        raise SchemaError("format", f"must be {FORMAT_NAME!r}: this is not a scratchnet model file")
    version = doc.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise SchemaError(
            "format_version",
            f"{_short(version)} is not supported (this scratchnet "
            f"reads version {FORMAT_VERSION}); retrain the model",
        )
    dtype = _get(doc, "dtype")
    if dtype not in DTYPES:
        raise SchemaError("dtype", f"must be one of {list(DTYPES)}, got {_short(dtype)}")
    input_shape = _input_shape(_get(doc, "input_shape"))
    class_names = _class_names(_get(doc, "class_names"))
    mean, std = _preprocessing(_get(doc, "preprocessing"), math.prod(input_shape))
    architecture = _get(doc, "architecture")
    tensors = walk_layers(architecture, input_shape, len(class_names))
    weights_file, sha256 = _weights(_get(doc, "weights"))
    return ModelSpec(
        architecture=architecture,
        input_shape=input_shape,
        dtype=dtype,
        mean=mean,
        std=std,
        class_names=class_names,
        weights_file=weights_file,
        sha256=sha256,
        tensors=tensors,
        meta=read_meta(doc, len(class_names)),
    )


def read_meta(doc: dict, n_classes: int) -> dict:
    """The training record (every non-reserved key), with the keys other code reads checked.

    Non-finite floats become ``None``: ``NaN`` is not JSON, and ``predict --json`` or the report
    would pass it on.
    """
    meta = {k: _finite_or_none(v) for k, v in doc.items() if k not in RESERVED}
    if meta.get("labels") is not None:
        labels = meta["labels"]
        if not isinstance(labels, list) or len(labels) != n_classes:
            raise SchemaError(
                "labels", f"must be a list of {n_classes} dataset labels, one per class name"
            )
        for i, label in enumerate(labels):
            check_int(label, f"labels[{i}]", 0, 2**31 - 1)
        if any(a >= b for a, b in zip(labels, labels[1:], strict=False)):
            raise SchemaError("labels", "must be distinct and increasing")
    for key in ("metrics", "params", "history", "environment", "sweep"):
        if key in meta and not isinstance(meta[key], (dict, type(None))):
            raise SchemaError(key, f"must be a JSON object, got {_kind(meta[key])}")
    for name, value in (meta.get("metrics") or {}).items():
        if value is not None and not _is_number(value):
            raise SchemaError(f"metrics.{name}", f"must be a number, got {_short(value)}")
    for name, values in (meta.get("history") or {}).items():
        if not isinstance(values, list) or not all(v is None or _is_number(v) for v in values):
            raise SchemaError(f"history.{name}", "must be a list of numbers")
    for key in ("epochs_run", "n_train", "n_validation"):
        if meta.get(key) is not None:
            check_int(meta[key], key, 0, 2**62)
    if meta.get("seed") is not None:
        check_int(meta["seed"], "seed", -(2**63), 2**64 - 1)
    for key in ("preset", "created"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise SchemaError(key, f"must be a string, got {_kind(meta[key])}")
    return meta


def _input_shape(value) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_INPUT_DIMS:
        raise SchemaError(
            "input_shape",
            f"must be a list of 1 to {MAX_INPUT_DIMS} positive integers, got {_short(value)}",
        )
    shape = tuple(check_int(s, f"input_shape[{i}]", 1, MAX_FEATURES) for i, s in enumerate(value))
    if math.prod(shape) > MAX_FEATURES:
        raise SchemaError("input_shape", f"{list(shape)} has more than {MAX_FEATURES:,} values")
    return shape


def _class_names(value) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CLASSES:
        raise SchemaError(
            "class_names", f"must be a list of 1 to {MAX_CLASSES:,} names, got {_kind(value)}"
        )
    for i, name in enumerate(value):
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
            raise SchemaError(
                f"class_names[{i}]",
                f"must be a non-empty string of at most {MAX_NAME_LENGTH} characters",
            )
    if len(set(value)) != len(value):
        raise SchemaError("class_names", "must be distinct")
    return list(value)


def _preprocessing(value, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, dict) or value.get("kind") != "standardize":
        raise SchemaError("preprocessing", "must be an object with kind 'standardize', mean, std")
    stats = []
    for key, lo, hi in (("mean", -MAX_ABS_MEAN, MAX_ABS_MEAN), ("std", MIN_STD, MAX_STD)):
        v = value.get(key)
        if not isinstance(v, list) or len(v) != n_features:
            raise SchemaError(
                f"preprocessing.{key}",
                f"must be a list of {n_features} numbers (one per input value)",
            )
        for i, x in enumerate(v):
            if not (_is_number(x) and lo <= x <= hi):  # NaN fails the comparison
                raise SchemaError(
                    f"preprocessing.{key}[{i}]", f"{_short(x)} is not a number in [{lo:g}, {hi:g}]"
                )
        a = np.array(v, dtype=np.float64)  # (D,)
        stats.append(a)
    return stats[0], stats[1]


def _weights(value) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise SchemaError("weights", f"must be an object with file and sha256, got {_kind(value)}")
    name, digest = value.get("file"), value.get("sha256")
    if not isinstance(name, str) or not WEIGHTS_NAME.fullmatch(name):
        raise SchemaError(
            "weights.file",
            f"{_short(name)} must be a plain file name in the model "
            "directory, weights-<16 hex digits>.safetensors",
        )
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise SchemaError("weights.sha256", "must be 64 lowercase hex digits")
    if not digest.startswith(WEIGHTS_NAME.fullmatch(name).group(1)):
        raise SchemaError("weights.file", "does not carry the first digits of weights.sha256")
    return name, digest


def _is_number(value) -> bool:
    """A JSON number that converts to a float: ``10**400`` is a valid JSON integer, but
    ``float()`` (and NumPy, and string formatting with ``:.4f``) raise ``OverflowError`` on it.
    The comparison is exact for ints of any size."""
    return type(value) in (int, float) and abs(value) < 1e300


def _get(doc: dict, key: str):
    if key not in doc:
        raise SchemaError(key, "missing")
    return doc[key]


def _finite_or_none(v):
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list):
        return [_finite_or_none(x) for x in v]
    if isinstance(v, dict):
        return {k: _finite_or_none(x) for k, x in v.items()}
    return v


def _kind(value) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
    }.get(type(value), "a number")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
