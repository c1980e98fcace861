"""The model directory: a trained network with everything needed to use it, and no pickle.

A model directory holds two files:

- ``model.json``: format name and version, the architecture (layer configs), input shape, dtype,
  the preprocessing statistics (learned on the training set only), class names, the training
  parameters and history, final metrics, and the name and SHA-256 of the weights file;
- ``weights-<sha>.safetensors``: the parameters and buffers by name (``"0.weight"``).

Loading parses JSON and safetensors only: it never executes code. Saving writes the weights file
(whose name carries its hash) atomically first and ``model.json`` atomically last, then removes
stale weights: an interrupted save leaves the previous model intact and loadable.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes, atomic_write_text
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.network import Sequential

FORMAT_NAME = "scratchnet-model"
FORMAT_VERSION = 1
MODEL_JSON = "model.json"


class ModelFileError(Exception):
    """A model directory is missing, corrupt, tampered with or incompatible."""


def save_model(model: TrainedModel, directory: str | os.PathLike) -> Path:
    """Write ``model`` into ``directory`` (created if needed), atomically as described above."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save

    tensors = {k: np.ascontiguousarray(v) for k, v in model.network.state_dict().items()}
    blob = save(tensors, metadata={"format": FORMAT_NAME})
    digest = hashlib.sha256(blob).hexdigest()
    weights_name = f"weights-{digest[:16]}.safetensors"
    atomic_write_bytes(directory / weights_name, blob)
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": model.network.config(),
        "input_shape": list(model.input_shape),
        "dtype": model.dtype,
        "preprocessing": {"kind": "standardize", "mean": model.scaler.mean.tolist(),
                          "std": model.scaler.std.tolist()},
        "class_names": list(model.class_names),
        "weights": {"file": weights_name, "sha256": digest},
        **{k: v for k, v in model.meta.items() if k not in _RESERVED},
    }
    atomic_write_text(directory / MODEL_JSON, json.dumps(_jsonable(doc), indent=1))
    for stale in directory.glob("weights-*.safetensors"):
        if stale.name != weights_name:
            stale.unlink(missing_ok=True)
    return directory


def load_model(directory: str | os.PathLike) -> TrainedModel:
    """Read a model directory; ``ModelFileError`` naming the file on any problem."""
    directory = Path(directory)
    meta_path = directory / MODEL_JSON
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: not a model directory (train one with "
                             "`scratchnet train --out DIR`)")
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{meta_path}: missing; is {directory} a model directory written "
                             "by `scratchnet train`?") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{meta_path}: corrupt or truncated JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{meta_path}: not a scratchnet model file")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{meta_path}: format version {version!r} is not supported (this "
                             f"scratchnet reads version {FORMAT_VERSION}); retrain the model")
    try:
        weights_name = doc["weights"]["file"]
        digest = doc["weights"]["sha256"]
        arch = doc["architecture"]
        pre = doc["preprocessing"]
        mean = np.asarray(pre["mean"], dtype=np.float64)
        std = np.asarray(pre["std"], dtype=np.float64)
        class_names = [str(c) for c in doc["class_names"]]
        input_shape = tuple(int(s) for s in doc["input_shape"])
        dtype = str(doc.get("dtype", "float32"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{meta_path}: missing or malformed entry ({exc})") from None
    if Path(weights_name).name != weights_name:
        raise ModelFileError(f"{meta_path}: weights file name {weights_name!r} must be a plain "
                             "file name in the model directory")
    if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
        raise ModelFileError(f"{meta_path}: preprocessing statistics are malformed")
    weights_path = directory / weights_name
    try:
        blob = weights_path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{weights_path}: missing (the model directory is incomplete)") \
            from None
    if hashlib.sha256(blob).hexdigest() != digest:
        raise ModelFileError(f"{weights_path}: SHA-256 does not match {MODEL_JSON}; the file is "
                             "corrupt, truncated or was modified")
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        tensors = load(blob)
    except (SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{weights_path}: not a valid safetensors file ({exc})") from None
    try:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype {dtype!r} is not float32 or float64")
        network = Sequential.from_config(arch, dtype=np.dtype(dtype),
                                         rng=np.random.default_rng(0))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{meta_path}: architecture is invalid ({exc})") from None
    try:
        network.load_state_dict(tensors)
    except ValueError as exc:
        raise ModelFileError(f"{weights_path}: {exc}") from None
    meta = {k: v for k, v in doc.items() if k not in _RESERVED}
    return TrainedModel(network=network, scaler=Standardizer(mean, std), class_names=class_names,
                        input_shape=input_shape, dtype=dtype, meta=meta)


_RESERVED = {"format", "format_version", "architecture", "input_shape", "dtype", "preprocessing",
             "class_names", "weights"}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
