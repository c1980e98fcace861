"""Checking an exported model with ONNX Runtime against scratchnet's own ``predict_proba``.

Both run on the same raw images; the figures compared are

- the argmax agreement: how many images get the same label from ONNX Runtime's ``label``
  output as from ``argmax(model.predict_proba(X))``; the target is all of them;
- the largest absolute difference between the two probability matrices, ONNX Runtime's float32
  ones against scratchnet's float64 softmax of its float32 logits; the target is ``1e-5``,
  roughly a hundred float32 roundings of a probability near 1.

Both are also timed (images per second over the whole set, after a small warm-up batch that
pays for first-call allocations), so a report can set the deployed speed beside scratchnet's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import onnx

from scratchnet.app.export.graph import INPUT, LABEL, PROBABILITIES
from scratchnet.estimator.trained_model import TrainedModel

#: The largest absolute probability difference a verification accepts.
TOLERANCE = 1e-5
_WARMUP = 64


@dataclass
class Verification:
    """What :func:`verify` measured; ``passed`` says whether both targets are met."""

    n_images: int
    argmax_agreement: int
    max_abs_diff: float
    onnx_images_per_s: float
    scratchnet_images_per_s: float
    tolerance: float = TOLERANCE
    runtime_version: str = ""
    #: Indices of the images whose labels differ (at most 20), to investigate.
    disagreements: list[int] = field(default_factory=list)
    #: Accuracy of ONNX Runtime's labels when the true labels were given.
    onnx_accuracy: float | None = None

    @property
    def passed(self) -> bool:
        return self.argmax_agreement == self.n_images and self.max_abs_diff <= self.tolerance

    def lines(self) -> list[str]:
        """The figures as lines of text for the CLI and reports."""
        out = [
            f"verified with ONNX Runtime {self.runtime_version} on {self.n_images:,} images:",
            f"  argmax agreement       {self.argmax_agreement:,}/{self.n_images:,} (target: all)",
            f"  max |p_onnx - p_ours|  {self.max_abs_diff:.2e} (target: <= {self.tolerance:.0e})",
            f"  throughput             ONNX Runtime {self.onnx_images_per_s:,.0f} images/s, "
            f"scratchnet {self.scratchnet_images_per_s:,.0f} images/s",
        ]
        if self.onnx_accuracy is not None:
            out.append(f"  accuracy (ONNX)        {self.onnx_accuracy:.2%}")
        if self.disagreements:
            out.append(f"  labels differ on images {self.disagreements}")
        out.append("verification passed" if self.passed else "verification FAILED")
        return out


def session(onnx_model: onnx.ModelProto | bytes | str | os.PathLike):
    """An ONNX Runtime inference session on the CPU for a model, its bytes or its file."""
    import onnxruntime as ort

    if isinstance(onnx_model, onnx.ModelProto):
        onnx_model = onnx_model.SerializeToString()
    elif not isinstance(onnx_model, bytes):
        onnx_model = os.fspath(onnx_model)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on the user's terminal
    return ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])


def verify(
    model: TrainedModel,
    onnx_model: onnx.ModelProto | bytes | str | os.PathLike,
    X_raw: np.ndarray,
    y: np.ndarray | None = None,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Run the exported model with ONNX Runtime on ``X_raw`` and compare with ``model``.

    Parameters
    ----------
    model : TrainedModel
        The model that was exported.
    onnx_model : onnx.ModelProto, bytes or path
        The export, in memory or as a ``.onnx`` file.
    X_raw : ndarray of shape (n_samples, n_features)
        Raw pixels 0..255 (any numeric dtype), e.g. the 10,000 Fashion-MNIST test images.
    y : ndarray of shape (n_samples,), optional
        Their true label indices; with them the result also gives ONNX Runtime's accuracy.
    tolerance : float, default=1e-5
        Largest accepted ``max |p_onnx - p_scratchnet|``.

    Returns
    -------
    Verification
    """
    import onnxruntime as ort

    X_raw = np.asarray(X_raw)
    if X_raw.ndim != 2 or X_raw.shape[0] == 0:
        raise ValueError(
            f"X_raw must be a non-empty (n_samples, n_features) array, got shape {X_raw.shape}"
        )
    if y is not None and np.shape(y) != (X_raw.shape[0],):
        raise ValueError(f"y must have shape ({X_raw.shape[0]},), got {np.shape(y)}")
    pixels = np.ascontiguousarray(X_raw, dtype=np.float32)  # (N, D); exact for 0..255
    sess = session(onnx_model)
    n = X_raw.shape[0]

    sess.run(None, {INPUT: pixels[:_WARMUP]})
    start = time.perf_counter()
    proba_onnx, label_onnx = sess.run([PROBABILITIES, LABEL], {INPUT: pixels})  # (N, C), (N,)
    onnx_seconds = time.perf_counter() - start

    model.predict_proba(X_raw[:_WARMUP])
    start = time.perf_counter()
    proba = model.predict_proba(X_raw)  # (N, C) float64
    ours_seconds = time.perf_counter() - start

    if proba_onnx.shape != proba.shape:
        raise ValueError(
            f"ONNX Runtime returned probabilities of shape {proba_onnx.shape}, "
            f"scratchnet {proba.shape}"
        )
    differ = np.flatnonzero(label_onnx != proba.argmax(axis=1))
    return Verification(
        n_images=n,
        argmax_agreement=int(n - differ.size),
        max_abs_diff=float(np.max(np.abs(proba_onnx.astype(np.float64) - proba))),
        onnx_images_per_s=n / max(onnx_seconds, 1e-9),
        scratchnet_images_per_s=n / max(ours_seconds, 1e-9),
        tolerance=tolerance,
        runtime_version=ort.__version__,
        disagreements=[int(i) for i in differ[:20]],
        onnx_accuracy=None if y is None else float(np.mean(label_onnx == np.asarray(y))),
    )
