"""A trained model as one ONNX graph, from raw pixels to probabilities and the label.

The graph (opset :data:`OPSET`) repeats what :meth:`TrainedModel.predict_proba` does::

    pixels (N, D) float32, 0..255
      -> Sub(mean) -> Div(std)             the stored standardisation
      -> Reshape (N, *input_shape)         when the network takes images
      -> the layers (see ops.py)           logits (N, C)
      -> Softmax(axis=1) -> probabilities  (N, C) float32
      -> ArgMax(axis=1)  -> label          (N,) int64, the index into the class names

``N`` is a dynamic dimension. The graph computes in float32, as scratchnet's models do by
default; a float64 model is exported with its weights rounded to float32, because ONNX Runtime
has no float64 convolution on the CPU and deployment targets (phones, browsers) want float32.
The model's metadata holds the class names (JSON) and the
scratchnet version, so a deployed file says what its label indices mean.

Reference: https://onnx.ai/onnx/intro/python.html (building a graph with ``onnx.helper``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from scratchnet.app.export.ops import ExportError, GraphBuilder, convert_layers, reshape
from scratchnet.estimator.atomic import atomic_write_bytes
from scratchnet.estimator.trained_model import TrainedModel

#: Opset 17 and IR version 8 (ONNX 1.12, 2022): every operator used here, and runtimes of
#: the last years load the file (the newest IR version would shut older ones out).
OPSET = 17
IR_VERSION = 8
#: The graph's input and output names.
INPUT, PROBABILITIES, LABEL = "pixels", "probabilities", "label"
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def to_onnx(model: TrainedModel) -> onnx.ModelProto:
    """Build and check the ONNX graph of ``model`` (see the module docstring).

    Parameters
    ----------
    model : TrainedModel
        What :func:`scratchnet.estimator.model_dir.load_model` returns.

    Returns
    -------
    onnx.ModelProto
        Input ``"pixels"`` (N, D) float32; outputs ``"probabilities"`` (N, C) float32 and
        ``"label"`` (N,) int64.

    Raises
    ------
    ExportError
        A layer type or dtype the exporter does not know, or a network whose output is not one
        score per class; the message is one line.
    """
    dtype = np.dtype(model.dtype)
    if dtype not in _DTYPES:
        raise ExportError(
            f"cannot export a {dtype} model: the ONNX exporter takes float32 or float64"
        )
    n_features = int(model.scaler.mean.shape[0])
    n_classes = len(model.class_names)
    b = GraphBuilder(np.float32)
    x = INPUT
    # Sub then Div, not one multiply-add: the same two roundings as Standardizer.transform.
    x = b.node("Sub", [x, b.const("scaler.mean", model.scaler.mean)], "scaler.sub")
    x = b.node("Div", [x, b.const("scaler.std", model.scaler.std)], "scaler.div")  # (N, D)
    shape = tuple(int(s) for s in model.input_shape)
    if shape != (n_features,):
        x = reshape(b, x, shape, "pixels")  # (N, *input_shape)
    logits, out_shape = convert_layers(b, model.network.layers, x, shape)
    if out_shape != (n_classes,):
        raise ExportError(
            f"the network outputs samples of shape {out_shape}, but the model has "
            f"{n_classes} classes: cannot export it as a classifier"
        )
    b.node("Softmax", [logits], PROBABILITIES, axis=1)
    # Ties go to the first index, as NumPy's argmax does (select_last_index=0).
    b.node("ArgMax", [logits], LABEL, axis=1, keepdims=0)
    graph = helper.make_graph(
        b.nodes,
        "scratchnet",
        inputs=[helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", n_features])],
        outputs=[
            helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, ["N", n_classes]),
            helper.make_tensor_value_info(LABEL, TensorProto.INT64, ["N"]),
        ],
        initializer=b.initializers,
        doc_string=f"raw pixels (N, {n_features}) float32 in 0..255 -> probabilities "
        f"(N, {n_classes}) and label (N,)",
    )
    from scratchnet import __version__

    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="scratchnet",
        producer_version=__version__,
    )
    helper.set_model_props(proto, model_properties(model, __version__))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:  # a bug of the exporter, said in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"the exported graph fails onnx.checker: {first}") from None
    return proto


def model_properties(model: TrainedModel, version: str) -> dict[str, str]:
    """The ONNX metadata: class names, scratchnet version, and what the training record says
    (the one place that reads it)."""
    record = model.record
    props = {
        "class_names": json.dumps(list(model.class_names)),
        "scratchnet_version": version,
        "input": "raw pixels 0..255, light object on dark background",
        "input_shape": json.dumps(list(model.input_shape)),
    }
    if record.preset:
        props["preset"] = record.preset
    if record.metrics.test_accuracy is not None:
        props["test_accuracy"] = f"{record.metrics.test_accuracy:.4f}"
    if record.created:
        props["created"] = record.created
    return props


def save_onnx(model: TrainedModel, path: str | os.PathLike) -> Path:
    """Export ``model`` and write the ``.onnx`` file atomically (all of it or nothing)."""
    path = Path(path)
    atomic_write_bytes(path, to_onnx(model).SerializeToString())
    return path
