"""The model directory: a trained network with everything needed to use it, and no pickle.

A model directory holds two files (and ``.scratchnet.lock``, see below):

- ``model.json``: format name and version, the architecture (layer configs), input shape, dtype,
  the preprocessing statistics (learned on the training set only), class names, the training
  parameters and history, final metrics, the environment it was trained in, and the name and
  SHA-256 of the weights file;
- ``weights-<sha>.safetensors``: the parameters and buffers by name (``"0.weight"``).

**Loading** treats both files as hostile. It parses JSON and safetensors only (it never executes
code), reads regular files only and within size caps, checks every field of ``model.json``
(:mod:`scratchnet.estimator.model_schema`) and the weights file's header against the shapes the
architecture needs (:mod:`scratchnet.estimator.weights_file`) before any layer is built, and
checks that weights, buffers and statistics are finite. Every problem raises
:class:`ModelFileError`, one line naming the file and the field.

**Saving** never destroys a model. It holds a lock on the directory (``flock`` on
``.scratchnet.lock``): a second writer *waits* for the first to finish saving (up to
``LOCK_WAIT`` seconds, then refuses in one line), so two runs on one directory both save, the
last one wins, and neither removes the weights the other's ``model.json`` names. It writes the
weights file (whose name carries its hash) atomically first and ``model.json`` atomically last,
then removes only the weights file the *previous* ``model.json`` named: an interrupted save
leaves the previous model intact and loadable, and a file the user put in the directory is never
removed. It refuses an empty path and a non-empty directory that is not a scratchnet model
directory (see :func:`check_output_dir`).

**Reproducibility.** Training with the same seed gives bit-identical weights *for a fixed BLAS
thread count*: matrix products split their sums across threads, and a different split rounds
differently (1 and 2 OpenBLAS threads give weights that differ in the last bits). So
``model.json`` records, under ``"environment"``, the BLAS thread count and the versions of
Python, NumPy and scratchnet used (:func:`training_environment`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
from pathlib import Path

import numpy as np

from scratchnet.estimator.atomic import (
    LOCK_FILE,
    DirectoryLockedError,
    atomic_write_bytes,
    atomic_write_text,
    directory_lock,
)
from scratchnet.estimator.model_schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    RESERVED,
    WEIGHTS_NAME,
    validate_model_doc,
)
from scratchnet.estimator.safe_read import UnsafeFileError, parse_json, read_capped
from scratchnet.estimator.schema_layers import SchemaError
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.weights_file import read_weights
from scratchnet.nn.network import Sequential

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_JSON",
    "ModelFileError",
    "check_output_dir",
    "load_model",
    "save_model",
    "training_environment",
]

MODEL_JSON = "model.json"
MAX_MODEL_JSON = 8 << 20  # 8 MB: parsing it stays under ~200 MB whatever it holds
LOCK_WAIT = 30.0  # seconds a save waits for another process saving into the same directory
# Written by `scratchnet train` after each epoch (scratchnet.app.checkpoint, which the wings
# rule keeps this module from importing): a directory holding it is one of ours.
CHECKPOINT_FILE = "checkpoint.safetensors"


class ModelFileError(Exception):
    """A model directory is missing, corrupt, tampered with or incompatible."""


def save_model(model: TrainedModel, directory: str | os.PathLike) -> Path:
    """Write ``model`` into ``directory`` (created if needed), as the module docstring says."""
    check_output_dir(directory)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with directory_lock(directory, wait=LOCK_WAIT):
            previous = check_output_dir(directory)  # again: another process may have written
            _write(model, directory, previous)
    except DirectoryLockedError as exc:
        raise ModelFileError(str(exc)) from None
    return directory


def check_output_dir(directory: str | os.PathLike) -> str | None:
    """Refuse a directory ``save_model`` must not write into; return the weights file name the
    current ``model.json`` names (``None`` if there is none).

    Accepted: a path that does not exist yet, an empty directory, a directory holding a
    scratchnet ``model.json``, or one holding only files scratchnet writes (weights, lock,
    checkpoint, temp files). Call it before a long run, so a bad ``--out`` fails at once rather
    than after.
    """
    if not str(directory).strip():
        raise ModelFileError("the output directory is an empty path; give a directory name")
    if "\0" in str(directory):
        raise ModelFileError(f"{str(directory)!r}: a path cannot hold a NUL byte")
    directory = Path(directory)
    if not directory.exists():
        return None
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: exists and is not a directory")
    meta_path = directory / MODEL_JSON
    if not meta_path.exists() and not meta_path.is_symlink():
        foreign = sorted(p.name for p in directory.iterdir() if not _is_own_file(p.name))
        if foreign:
            raise ModelFileError(
                f"{directory}: not empty and not a scratchnet model directory "
                f"(it holds {foreign[0]!r}); choose a new or empty directory"
            )
        return None
    try:
        doc = parse_json(read_capped(meta_path, MAX_MODEL_JSON))
    except (OSError, UnsafeFileError) as exc:
        raise ModelFileError(
            f"{meta_path}: not a readable scratchnet model file ({exc}); "
            "refusing to replace it: choose another directory"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{meta_path}: not a scratchnet model file; refusing to replace it: "
            "choose another directory"
        )
    name = (doc.get("weights") or {}).get("file") if isinstance(doc.get("weights"), dict) else None
    return name if isinstance(name, str) and WEIGHTS_NAME.fullmatch(name) else None


def training_environment() -> dict:
    """The BLAS thread count and library versions that decide bit-identical training, and the
    machine it ran on."""
    import sklearn
    from threadpoolctl import threadpool_info

    from scratchnet import __version__

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    return {
        "blas_threads": int(blas[0]["num_threads"]) if blas else None,
        "blas": f"{blas[0].get('internal_api')} {blas[0].get('version')}" if blas else None,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "scratchnet": __version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
    }


def load_model(directory: str | os.PathLike) -> TrainedModel:
    """Read a model directory; ``ModelFileError`` naming the file and field on any problem."""
    directory = Path(directory)
    try:
        is_dir = stat.S_ISDIR(os.stat(directory).st_mode)
    except (OSError, ValueError):
        is_dir = False
    if not is_dir:
        raise ModelFileError(
            f"{directory}: not a model directory (train one with `scratchnet train --out DIR`)"
        )
    meta_path = directory / MODEL_JSON
    try:
        spec = validate_model_doc(parse_json(read_capped(meta_path, MAX_MODEL_JSON)))
    except FileNotFoundError:
        raise ModelFileError(
            f"{meta_path}: missing; is {directory} a model directory written by `scratchnet train`?"
        ) from None
    except (UnsafeFileError, SchemaError) as exc:
        raise ModelFileError(f"{meta_path}: {exc}") from None
    except OSError as exc:
        raise ModelFileError(f"{meta_path}: cannot be read ({exc.strerror or exc})") from None
    weights_path = directory / spec.weights_file
    try:
        tensors = read_weights(weights_path, spec.tensors, spec.sha256)
    except FileNotFoundError:
        raise ModelFileError(
            f"{weights_path}: missing (the model directory is incomplete)"
        ) from None
    except UnsafeFileError as exc:
        raise ModelFileError(f"{weights_path}: {exc}") from None
    except OSError as exc:
        raise ModelFileError(f"{weights_path}: cannot be read ({exc.strerror or exc})") from None
    try:
        network = Sequential.from_config(
            spec.architecture, dtype=np.dtype(spec.dtype), rng=np.random.default_rng(0)
        )
        network.load_state_dict(tensors)
    except (ValueError, TypeError) as exc:  # the schema should have caught it: a second line
        raise ModelFileError(
            f"{meta_path}: architecture does not match the weights ({exc})"
        ) from None
    _check_finite(network, weights_path)
    return TrainedModel(
        network=network,
        scaler=Standardizer(spec.mean, spec.std),
        class_names=spec.class_names,
        input_shape=spec.input_shape,
        dtype=spec.dtype,
        meta=spec.meta,
    )


def _write(model: TrainedModel, directory: Path, previous: str | None) -> None:
    from safetensors.numpy import save

    tensors = {k: np.ascontiguousarray(v) for k, v in model.network.state_dict().items()}
    blob = save(tensors, metadata={"format": FORMAT_NAME})
    digest = hashlib.sha256(blob).hexdigest()
    weights_name = f"weights-{digest[:16]}.safetensors"
    atomic_write_bytes(directory / weights_name, blob)
    meta = {k: v for k, v in model.meta.items() if k not in RESERVED}
    meta.setdefault("environment", training_environment())
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": model.network.config(),
        "input_shape": list(model.input_shape),
        "dtype": model.dtype,
        "preprocessing": {
            "kind": "standardize",
            "mean": model.scaler.mean.tolist(),
            "std": model.scaler.std.tolist(),
        },
        "class_names": list(model.class_names),
        "weights": {"file": weights_name, "sha256": digest},
        **meta,
    }
    # allow_nan=False: NaN is not JSON; a non-finite value in the record is written as null.
    atomic_write_text(directory / MODEL_JSON, json.dumps(_jsonable(doc), indent=1, allow_nan=False))
    if previous is not None and previous != weights_name:
        (directory / previous).unlink(missing_ok=True)
    for leftover in directory.glob(".*.tmp"):  # temp files of saves that were killed
        if _is_own_temp(leftover.name):
            leftover.unlink(missing_ok=True)


def _is_own_file(name: str) -> bool:
    """A name scratchnet writes into a model directory (``train``'s checkpoint included)."""
    if name.startswith(".") and name.endswith(".tmp"):
        return _is_own_temp(name) or name[1:].rsplit(".", 2)[0] == CHECKPOINT_FILE
    return name in (LOCK_FILE, CHECKPOINT_FILE) or bool(WEIGHTS_NAME.fullmatch(name))


def _is_own_temp(name: str) -> bool:
    """Temp files of :func:`atomic_write_bytes` for ``model.json`` or a weights file."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    target = name[1:].rsplit(".", 2)[0]
    return target == MODEL_JSON or bool(WEIGHTS_NAME.fullmatch(target))


def _check_finite(network: Sequential, weights_path: Path) -> None:
    """Weights can be finite in float64 and overflow when cast to the model's float32."""
    for i, layer in enumerate(network.layers):
        for name, array in {**layer.params, **layer.buffers}.items():
            if not np.isfinite(array).all():
                raise ModelFileError(
                    f"{weights_path}: tensor '{i}.{name}' holds values that are "
                    "not finite in the model's dtype"
                )
        var = layer.buffers.get("running_var")
        if var is not None and (var < 0).any():
            raise ModelFileError(
                f"{weights_path}: tensor '{i}.running_var' holds negative variances"
            )


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
