"""The architecture part of the ``model.json`` schema: each layer config checked and walked.

:func:`walk_layers` goes through the layer configs in order, carrying the per-sample shape (``(D,)``
for rows, ``(C, H, W)`` for images): each layer checks its arguments (types and bounds), that it
accepts the shape it receives, and yields its output shape and the shapes of its parameters and
buffers (``"3.weight": (D_in, D_out)``). Nothing is allocated: the shapes are Python ints, and
every one is bounded before it is multiplied, so no product can overflow or grow large.
"""

from __future__ import annotations

import math

from scratchnet.nn.initializers import INITIALIZERS

MAX_LAYERS = 256
MAX_UNITS = 1 << 16  # Dense widths and BatchNorm features
MAX_CHANNELS = 4096
MAX_WINDOW = 64  # kernel sizes, strides and paddings
MAX_FEATURES = 1 << 16  # values per input image (256 x 256)
MAX_ACTIVATION = 1 << 20  # values per image after any layer (x 2048 images x 4 bytes = 8 GB)
MAX_PARAMETERS = 1 << 25  # 33.5 M parameters, 128 MB in float32 (the CNN preset has 420 k)
_ANY = object()


class SchemaError(ValueError):
    """A ``model.json`` field is missing, of the wrong type, out of range or inconsistent."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r}: {problem}")
        self.field = field


def check_int(value, field: str, lo: int, hi: int) -> int:
    """``value`` if it is a JSON integer (not a boolean) in ``[lo, hi]``."""
    if type(value) is not int:
        raise SchemaError(field, f"must be an integer, got {_show(value)}")
    if not lo <= value <= hi:
        raise SchemaError(field, f"must be from {lo:,} to {hi:,}, got {_show(value)}")
    return value


def check_number(value, field: str, lo: float, hi: float, hi_open: bool = False) -> float:
    """``value`` if it is a finite JSON number in ``[lo, hi]`` (``[lo, hi)`` with ``hi_open``)."""
    # abs() < 1e300 first: math.isfinite(10**400) raises OverflowError (ints compare exactly).
    if type(value) not in (int, float) or not abs(value) < 1e300:
        raise SchemaError(field, f"must be a finite number, got {_show(value)}")
    if not lo <= value <= hi or (hi_open and value == hi):
        raise SchemaError(
            field, f"must be in [{lo:g}, {hi:g}{')' if hi_open else ']'}, got {value!r}"
        )
    return float(value)


def walk_layers(
    architecture, input_shape: tuple[int, ...], n_classes: int
) -> dict[str, tuple[int, ...]]:
    """Check every layer config and return the tensor shapes the weights file must hold."""
    if not isinstance(architecture, list) or not 1 <= len(architecture) <= MAX_LAYERS:
        raise SchemaError("architecture", f"must be a list of 1 to {MAX_LAYERS} layer configs")
    shape, tensors, total = tuple(input_shape), {}, 0
    for i, config in enumerate(architecture):
        where = f"architecture[{i}]"
        if not isinstance(config, dict):
            raise SchemaError(where, "must be a layer config object")
        kind = config.get("type")
        if not isinstance(kind, str) or kind not in _LAYERS:
            raise SchemaError(
                f"{where}.type", f"unknown layer type {_show(kind)}; known: {sorted(_LAYERS)}"
            )
        check, allowed = _LAYERS[kind]
        unknown = sorted(set(config) - set(allowed) - {"type"})
        if unknown:
            raise SchemaError(where, f"layer {kind} does not take {unknown}")
        args = {k: config.get(k, default) for k, default in allowed.items()}
        for k, default in allowed.items():
            if default is _ANY and k not in config:
                raise SchemaError(f"{where}.{k}", "missing")
        shape, params = check(args, shape, where)
        if math.prod(shape) > MAX_ACTIVATION:
            raise SchemaError(
                where, f"output {list(shape)} has more than {MAX_ACTIVATION:,} values per image"
            )
        for name, pshape in params.items():
            tensors[f"{i}.{name}"] = pshape
            total += math.prod(pshape)
        if total > MAX_PARAMETERS:
            raise SchemaError(where, f"the network has more than {MAX_PARAMETERS:,} parameters")
    if shape != (n_classes,):
        raise SchemaError(
            "architecture",
            f"the network's output has shape {list(shape)}, but "
            f"class_names lists {n_classes} classes",
        )
    return tensors


def _dense(a, shape, where):
    n_in = check_int(a["in_features"], f"{where}.in_features", 1, MAX_UNITS)
    n_out = check_int(a["out_features"], f"{where}.out_features", 1, MAX_UNITS)
    _choice(a["init"], f"{where}.init", INITIALIZERS)
    if shape != (n_in,):
        raise SchemaError(
            f"{where}.in_features", f"is {n_in}, but the layer receives shape {list(shape)}"
        )
    params = {"weight": (n_in, n_out)}
    if _bool(a["bias"], f"{where}.bias"):
        params["bias"] = (n_out,)
    return (n_out,), params


def _conv(a, shape, where):
    c_in = check_int(a["in_channels"], f"{where}.in_channels", 1, MAX_CHANNELS)
    c_out = check_int(a["out_channels"], f"{where}.out_channels", 1, MAX_CHANNELS)
    kh, kw = _pair(a["kernel_size"], f"{where}.kernel_size", 1)
    sh, sw = _pair(a["stride"], f"{where}.stride", 1)
    ph, pw = _pair(a["padding"], f"{where}.padding", 0)
    _choice(a["init"], f"{where}.init", INITIALIZERS)
    h, w = _image(shape, c_in, where)
    out = (c_out, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
    if min(out[1:]) < 1:
        raise SchemaError(
            f"{where}.kernel_size",
            f"a {kh}x{kw} window does not fit the {h}x{w} input with padding {ph}x{pw}",
        )
    params = {"weight": (c_out, c_in, kh, kw)}
    if _bool(a["bias"], f"{where}.bias"):
        params["bias"] = (c_out,)
    return out, params


def _pool(a, shape, where):
    k = check_int(a["kernel_size"], f"{where}.kernel_size", 1, MAX_WINDOW)
    s = k if a["stride"] is None else check_int(a["stride"], f"{where}.stride", 1, MAX_WINDOW)
    if len(shape) != 3:
        raise SchemaError(where, f"MaxPool2D takes (C, H, W) images, gets shape {list(shape)}")
    c, h, w = shape
    out = (c, (h - k) // s + 1, (w - k) // s + 1)
    if min(out[1:]) < 1:
        raise SchemaError(f"{where}.kernel_size", f"{k} is larger than the {h}x{w} input")
    return out, {}


def _batch_norm(a, shape, where):
    c = check_int(a["num_features"], f"{where}.num_features", 1, MAX_UNITS)
    check_number(a["momentum"], f"{where}.momentum", 0.0, 1.0)
    if check_number(a["eps"], f"{where}.eps", 0.0, 1.0) <= 0:
        raise SchemaError(f"{where}.eps", "must be > 0")
    if len(shape) not in (1, 3) or shape[0] != c:
        raise SchemaError(
            f"{where}.num_features", f"is {c}, but the layer receives shape {list(shape)}"
        )
    return shape, {name: (c,) for name in ("weight", "bias", "running_mean", "running_var")}


def _dropout(a, shape, where):
    check_number(a["p"], f"{where}.p", 0.0, 1.0, hi_open=True)
    return shape, {}


def _activation(a, shape, where):
    _bool(a["inplace"], f"{where}.inplace")
    return shape, {}


def _flatten(a, shape, where):
    return (math.prod(shape),), {}


def _reshape(a, shape, where):
    target = a["shape"]
    if not isinstance(target, list) or not 1 <= len(target) <= 3:
        raise SchemaError(f"{where}.shape", "must be a list of 1 to 3 positive integers")
    target = tuple(
        check_int(s, f"{where}.shape[{j}]", 1, MAX_ACTIVATION) for j, s in enumerate(target)
    )
    if math.prod(target) != math.prod(shape):
        raise SchemaError(
            f"{where}.shape",
            f"{list(target)} does not hold the {math.prod(shape)} values of shape {list(shape)}",
        )
    return target, {}


# type -> (check, {argument: default}); _ANY marks a required argument.
_LAYERS = {
    "Dense": (_dense, {"in_features": _ANY, "out_features": _ANY, "init": "glorot", "bias": True}),
    "Conv2D": (
        _conv,
        {
            "in_channels": _ANY,
            "out_channels": _ANY,
            "kernel_size": _ANY,
            "stride": 1,
            "padding": 0,
            "bias": True,
            "init": "he",
        },
    ),
    "MaxPool2D": (_pool, {"kernel_size": 2, "stride": None}),
    "BatchNorm": (_batch_norm, {"num_features": _ANY, "momentum": 0.1, "eps": 1e-5}),
    "Dropout": (_dropout, {"p": 0.5}),
    "ReLU": (_activation, {"inplace": False}),
    "Sigmoid": (_activation, {"inplace": False}),
    "Tanh": (_activation, {"inplace": False}),
    "Flatten": (_flatten, {}),
    "Reshape": (_reshape, {"shape": _ANY}),
}


def _image(shape, channels: int, where: str) -> tuple[int, int]:
    if len(shape) != 3 or shape[0] != channels:
        raise SchemaError(
            f"{where}.in_channels",
            f"is {channels}, but the layer receives shape {list(shape)} (needs (C, H, W))",
        )
    return shape[1], shape[2]


def _pair(value, field: str, lo: int) -> tuple[int, int]:
    if isinstance(value, list):
        if len(value) != 2:
            raise SchemaError(field, "must be an integer or a list of two")
        return (
            check_int(value[0], field, lo, MAX_WINDOW),
            check_int(value[1], field, lo, MAX_WINDOW),
        )
    v = check_int(value, field, lo, MAX_WINDOW)
    return v, v


def _bool(value, field: str) -> bool:
    if type(value) is not bool:
        raise SchemaError(field, f"must be true or false, got {_show(value)}")
    return value


def _choice(value, field: str, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise SchemaError(field, f"must be one of {sorted(choices)}, got {_show(value)}")


def _show(value) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
