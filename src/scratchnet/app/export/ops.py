"""Each scratchnet layer as ONNX nodes: one converter function per layer type.

A converter takes the :class:`GraphBuilder`, the layer, the name of its input tensor and one
sample's input shape (batch axis left out), and returns the name of its output tensor. Every
converter computes what the layer's ``forward(x, training=False)`` computes, with the same
parameters in the same layout, so that ONNX Runtime and scratchnet agree to float rounding:

=========  =====================================================================================
Dense      ``MatMul(X, weight) + bias``; ``weight`` is ``(D_in, D_out)``, as ONNX's MatMul wants
Conv2D     ``Conv``: ``weight`` ``(C_out, C_in, kh, kw)`` is ONNX's layout; pads on both sides
MaxPool2D  ``MaxPool`` without padding, floor mode (rows that fill no window are dropped)
BatchNorm  inference form ``X * scale + shift``, folded exactly as ``BatchNorm.forward`` folds
           it: ``scale = weight / sqrt(running_var + eps)``, ``shift = bias - running_mean *
           scale``, in float64, then rounded to float32
ReLU ...   ``Relu``, ``Sigmoid``, ``Tanh``
Dropout    nothing: dropout is the identity at inference
Flatten    ``Flatten(axis=1)``: ``(C, H, W)`` order, as scratchnet and PyTorch flatten
Reshape    ``Reshape`` to ``(N, *shape)``
=========  =====================================================================================

Reference: the operator specifications, https://onnx.ai/onnx/operators/
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from scratchnet.nn.layers import Layer


class ExportError(ValueError):
    """A model that the ONNX exporter cannot express; the message is one line naming why."""


class GraphBuilder:
    """Collects the nodes and the constant tensors (initializers) of one ONNX graph.

    Parameters
    ----------
    dtype : numpy dtype
        The graph's dtype: every weight becomes a tensor of this type.
    """

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []

    def const(self, name: str, array: np.ndarray, dtype=None) -> str:
        """Add ``array`` (cast to ``dtype``, default the graph's) as a constant; return its name."""
        array = np.ascontiguousarray(array, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        """Add one ``op`` node whose single output is named ``name``; return that name."""
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name


Converter = Callable[[GraphBuilder, Layer, str, tuple, str], str]


def _dense(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    y = b.node(
        "MatMul", [x, b.const(f"{name}.weight", layer.params["weight"])], f"{name}.matmul"
    )  # (N, D_out)
    if layer.use_bias:
        y = b.node("Add", [y, b.const(f"{name}.bias", layer.params["bias"])], f"{name}.add")
    return y


def _conv2d(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    inputs = [x, b.const(f"{name}.weight", layer.params["weight"])]  # (C_out, C_in, kh, kw)
    if layer.use_bias:
        inputs.append(b.const(f"{name}.bias", layer.params["bias"]))  # (C_out,)
    (ph, pw) = layer.padding
    return b.node(
        "Conv",
        inputs,
        f"{name}.conv",
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        pads=[ph, pw, ph, pw],
    )  # (N, C_out, H_out, W_out)


def _maxpool2d(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    k, s = layer.kernel_size, layer.stride
    return b.node("MaxPool", [x], f"{name}.maxpool", kernel_shape=[k, k], strides=[s, s])


def _batchnorm(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    if len(shape) not in (1, 3):
        raise ExportError(
            f"{name}: BatchNorm gets samples of shape {shape}; it takes (D,) or (C, H, W)"
        )
    # The same float64 folding as BatchNorm.forward(training=False), so the constants are
    # bit-identical to the ones scratchnet multiplies and adds.
    inv_std = 1.0 / np.sqrt(layer.buffers["running_var"].astype(np.float64) + layer.eps)
    scale = layer.params["weight"] * inv_std  # (C,)
    shift = layer.params["bias"] - layer.buffers["running_mean"] * scale  # (C,)
    # Per channel of an image: (C, 1, 1) broadcasts over (N, C, H, W).
    per_sample = (-1,) if len(shape) == 1 else (-1, 1, 1)
    y = b.node("Mul", [x, b.const(f"{name}.scale", scale.reshape(per_sample))], f"{name}.mul")
    return b.node("Add", [y, b.const(f"{name}.shift", shift.reshape(per_sample))], f"{name}.add")


def _elementwise(op: str) -> Converter:
    def convert(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
        return b.node(op, [x], f"{name}.{op.lower()}")

    return convert


def _dropout(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    return x  # identity at inference: no node at all


def _flatten(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    return b.node("Flatten", [x], f"{name}.flatten", axis=1)  # (N, C*H*W)


def _reshape(b: GraphBuilder, layer, x: str, shape: tuple, name: str) -> str:
    return reshape(b, x, layer.shape, name)


def reshape(b: GraphBuilder, x: str, sample_shape: tuple, name: str) -> str:
    """``x`` reshaped to ``(N, *sample_shape)``; the 0 keeps the (dynamic) batch size."""
    target = b.const(f"{name}.shape", np.array((0, *sample_shape)), dtype=np.int64)
    return b.node("Reshape", [x, target], f"{name}.reshape")


#: Layer class name -> converter. A layer type missing here cannot be exported.
CONVERTERS: dict[str, Converter] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "MaxPool2D": _maxpool2d,
    "BatchNorm": _batchnorm,
    "ReLU": _elementwise("Relu"),
    "Sigmoid": _elementwise("Sigmoid"),
    "Tanh": _elementwise("Tanh"),
    "Dropout": _dropout,
    "Flatten": _flatten,
    "Reshape": _reshape,
}


def convert_layers(b: GraphBuilder, layers: list[Layer], x: str, shape: tuple) -> tuple[str, tuple]:
    """Add the nodes of ``layers`` applied in order to ``x`` (samples of ``shape``); return the
    name of the last output and one sample's shape there. ``ExportError`` names the first layer
    no converter knows."""
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        convert = CONVERTERS.get(kind)
        if convert is None:
            raise ExportError(
                f"cannot export layer {i} ({kind}): the ONNX exporter knows "
                f"{', '.join(sorted(CONVERTERS))}"
            )
        x = convert(b, layer, x, shape, f"layer{i}.{kind.lower()}")
        shape = tuple(int(s) for s in layer.output_shape(shape))
    return x, shape
