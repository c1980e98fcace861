"""ONNX export of trained models, verified by ONNX Runtime (needs ``pip install
'scratchnet[export]'``).

- :mod:`~scratchnet.app.export.ops`: each layer type as ONNX nodes;
- :mod:`~scratchnet.app.export.graph`: :func:`to_onnx` / :func:`save_onnx`, the whole graph from
  raw pixels to probabilities and label, with metadata;
- :mod:`~scratchnet.app.export.verify`: :func:`verify`, ONNX Runtime against ``predict_proba``.

Example::

    from scratchnet.app.export import save_onnx, verify
    from scratchnet.estimator.model_dir import load_model

    model = load_model("runs/mlp")
    save_onnx(model, "mlp.onnx")
    print(verify(model, "mlp.onnx", X_test).lines())
"""

from scratchnet.app.export.graph import INPUT, LABEL, OPSET, PROBABILITIES, save_onnx, to_onnx
from scratchnet.app.export.ops import CONVERTERS, ExportError
from scratchnet.app.export.verify import TOLERANCE, Verification, verify

__all__ = [
    "CONVERTERS",
    "INPUT",
    "LABEL",
    "OPSET",
    "PROBABILITIES",
    "TOLERANCE",
    "ExportError",
    "Verification",
    "save_onnx",
    "to_onnx",
    "verify",
]
