"""A trained model as one ONNX graph, from raw pixels to probabilities and the label.

The graph (opset :data:`OPSET`) repeats what :meth:`TrainedModel.predict_proba` does::

    pixels (N, D) float32, 0..255
      -> Sub(mean) -> Div(std)             the stored standardisation
      -> Reshape (N, *input_shape)         when the network takes images
      -> the layers (see ops.py)           logits (N, C)
      -> Softmax(axis=1) -> probabilities  (N, C) float32
      -> ArgMax(axis=1)  -> label          (N,) int64, the index into the class names

A model trained with ``test_time_flip`` gets its pixels' mirror images appended to the batch
(Reshape, Slice with step -1, Concat: 2N rows), and its probabilities are the mean of the two
halves' (Reshape to (2, N, C), ReduceMean), as ``predict_proba`` computes them.

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
from scratchnet.estimator.building import square_side
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
    if model.test_time_flip:  # the mirror images ride along as a second half of the batch
        x = with_mirror_images(b, x, n_features)  # (2N, D)
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
    if model.test_time_flip:  # (2N, C) -> the mean of each image's and its mirror's (N, C)
        both = b.node("Softmax", [logits], "mirror.softmax", axis=1)
        pairs = b.node("Reshape", [both, b.const("mirror.pairs", np.array([2, -1, n_classes]),
                                                 dtype=np.int64)], "mirror.pair")  # (2, N, C)
        b.node("ReduceMean", [pairs], PROBABILITIES, axes=[0], keepdims=0)
        b.node("ArgMax", [PROBABILITIES], LABEL, axis=1, keepdims=0)
    else:
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


def with_mirror_images(b: GraphBuilder, x: str, n_features: int) -> str:
    """``x`` (N, D) followed by the left-right mirror image of each of its rows: (2N, D), for a
    model trained with ``test_time_flip`` (see ``NNClassifier``)."""
    side = square_side(n_features, "test_time_flip=True")
    images = reshape(b, x, (side, side), "mirror")  # (N, side, side)
    flipped = b.node("Slice", [images, *(b.const(f"mirror.{k}", np.array([v]), dtype=np.int64)
                                         for k, v in [("starts", -1), ("ends", -2**63),
                                                      ("axes", 2), ("steps", -1)])],
                     "mirror.slice")  # columns from the last to the first
    rows = reshape(b, flipped, (n_features,), "mirror_rows")  # (N, D)
    return b.node("Concat", [x, rows], "mirror.concat", axis=0)  # (2N, D)


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
    if model.test_time_flip:
        props["test_time_flip"] = "true: probabilities are the mean of the image's and its mirror's"
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
