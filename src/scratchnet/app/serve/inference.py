"""What the server computes for one image: probabilities, the saliency map, the model card.

The probabilities come from ``TrainedModel.predict_proba`` on the pixels of
:func:`scratchnet.app.photos.load_photo_bytes`, the very calls ``scratchnet predict`` makes, so
the API and the CLI agree to the last digit.

The saliency map is ``|d logit_k / d z|`` for the winning class ``k``
(:func:`scratchnet.nn.saliency.saliency`), where ``z = (p - mean) / std`` are the standardised
pixels the network takes as its input: how much the winning score moves when a pixel moves by
one of its own training standard deviations. Per raw gray level (``d logit / d p =
(d logit / d z) / std``) the map would be useless to look at: pixels that are almost always
black in the training set have a tiny ``std`` (0.08 gray levels at a corner), and measured on
test images the maximum then always sat on that one corner pixel. The map is scaled to its
maximum (1 at the most influential pixel).

Thread safety: the forward pass of the shared network writes to nothing but fresh arrays (no
layer keeps a buffer at inference), and the saliency pass runs on private copies of the
layers, so requests may run in parallel threads (the concurrency test checks it).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.saliency import saliency

SIDE = 28  # the network's image side


@dataclass(frozen=True)
class Prediction:
    """One image's answer: ``probabilities`` (n_classes,) float64 and, when asked, the
    saliency magnitude ``|d logit / d z|`` (784,) scaled to 0..1 (1 at the most influential
    pixel)."""

    probabilities: np.ndarray
    saliency: np.ndarray | None


def predict(model: TrainedModel, pixels: np.ndarray, explain: bool = True) -> Prediction:
    """Classify one image of 784 raw pixels (uint8, light object on black).

    Parameters
    ----------
    model : TrainedModel
    pixels : ndarray of shape (784,), dtype uint8
    explain : bool, default=True
        Also compute the saliency map (one backward pass).
    """
    batch = pixels.reshape(1, -1)  # (1, 784)
    proba = model.predict_proba(batch)[0]  # (C,), exactly as `scratchnet predict`
    if not explain:
        return Prediction(proba, None)
    z = model.preprocess(batch)  # (1, *input_shape), standardised
    _, grad = saliency(model.network.layers, z, target=int(proba.argmax()))
    magnitude = np.abs(grad.reshape(-1).astype(np.float64))  # (784,) |d logit / d z|
    peak = magnitude.max()
    return Prediction(proba, magnitude / peak if peak > 0 else magnitude)


def top_k(model: TrainedModel, proba: np.ndarray, k: int) -> list[dict]:
    """The ``k`` most probable classes, most probable first (ties: the lower class index)."""
    order = np.argsort(-proba, kind="stable")[:k]
    return [{"label": model.class_names[i], "index": int(i),
             "probability": float(proba[i])} for i in order]


def gray_png(pixels: np.ndarray) -> str:
    """The 28 x 28 image as a PNG data URL (what the network sees)."""
    return _data_url(Image.fromarray(pixels.reshape(SIDE, SIDE).astype(np.uint8), "L"))


def saliency_png(magnitude: np.ndarray) -> str:
    """The saliency magnitude (784,) in 0..1 as a transparent 28 x 28 heat overlay: hue from
    yellow (strongest) to red, opacity proportional to the magnitude (drawn over the dimmed
    input, the strong pixels stand out and the weak ones let the garment show through)."""
    m = np.clip(magnitude.reshape(SIDE, SIDE), 0.0, 1.0)  # (28, 28)
    rgba = np.empty((SIDE, SIDE, 4), dtype=np.uint8)  # (28, 28, 4)
    rgba[..., 0] = 255
    rgba[..., 1] = np.rint(255 * m).astype(np.uint8)  # red -> yellow as it grows
    rgba[..., 2] = 0
    rgba[..., 3] = np.rint(255 * m).astype(np.uint8)
    return _data_url(Image.fromarray(rgba, "RGBA"))


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def model_card(model: TrainedModel) -> dict:
    """What the page's model card shows, from the model's typed training record."""
    record = model.record
    accuracy = record.metrics.test_accuracy
    return {
        "preset": record.preset,
        "architecture": [describe_layer(layer.config()) for layer in model.network.layers],
        "parameters": int(model.network.n_parameters()),
        "test_accuracy": float(accuracy) if accuracy is not None else None,
        "trained": record.created,
        "epochs": record.epochs_run or None,
        "classes": list(model.class_names),
        "input_shape": list(model.input_shape),
    }


def describe_layer(config: dict) -> str:
    """``{"type": "Dense", "in_features": 784, "out_features": 256, ...}`` -> ``Dense
    784→256``: the layer in a few words for the model card."""
    kind = config.get("type", "?")
    if kind == "Dense":
        return f"Dense {config['in_features']}→{config['out_features']}"
    if kind == "Conv2D":
        k = config["kernel_size"]
        k = f"{k}x{k}" if isinstance(k, int) else "x".join(map(str, k))
        return f"Conv2D {config['in_channels']}→{config['out_channels']} {k}"
    if kind == "Dropout":
        return f"Dropout {config['p']:g}"
    if kind == "MaxPool2D":
        return f"MaxPool2D {config['kernel_size']}"
    if kind == "Reshape":
        return "Reshape " + "x".join(map(str, config["shape"]))
    return kind
