"""``scratchnet export MODEL_DIR OUT.onnx [--verify]``: the model as an ONNX file.

``--verify`` runs the file with ONNX Runtime on the 10,000 Fashion-MNIST test images, prints the
argmax agreement, the largest probability difference and both throughputs, and exits with
status 1 when a target is missed (see :mod:`scratchnet.app.export.verify`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scratchnet.app.commands.common import UsageError, add_data_dir


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a trained model as an ONNX file (raw pixels in, probabilities out)",
        description="Export a model directory to ONNX: input 'pixels' (N, 784) float32 in "
        "0..255, outputs 'probabilities' (N, 10) and 'label' (N,) int64.",
    )
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    p.add_argument("out", help="ONNX file to write (must end in .onnx)")
    p.add_argument(
        "--verify",
        action="store_true",
        help="compare ONNX Runtime with scratchnet on the 10,000 test images; exit 1 "
        "unless every label agrees and probabilities differ by <= 1e-5",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    # The suffix rule keeps a slip (`export runs/mlp runs/mlp/model.json`) from overwriting a
    # file the user owns; replacing an older .onnx export is what the user asked for.
    if out.suffix.lower() != ".onnx":
        raise UsageError(f"{out}: the output file name must end in .onnx")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; give a file name ending in .onnx")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such directory; create it first")
    try:
        from scratchnet.app.export import ExportError, save_onnx
    except ImportError as exc:
        raise UsageError(
            f"export needs the onnx package ({exc.name} is missing): "
            "pip install 'scratchnet[export]'"
        ) from None
    from scratchnet.estimator.model_dir import load_model

    model = load_model(args.model_dir)
    try:
        save_onnx(model, out)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    n_features, n_classes = model.scaler.mean.shape[0], len(model.class_names)
    print(
        f"wrote {out} ({_size(out.stat().st_size)}): pixels (N, {n_features}) float32 "
        f"0..255 -> probabilities (N, {n_classes}), label (N,)"
    )
    if not args.verify:
        return 0
    return _verify(model, out, args.data_dir)


def _verify(model, path: Path, data_dir) -> int:
    try:
        import onnxruntime  # noqa: F401  (the one-line error below instead of a traceback)

        from scratchnet.app.export.verify import verify
    except ImportError as exc:
        raise UsageError(
            f"--verify needs ONNX Runtime ({exc.name} is missing): pip install 'scratchnet[export]'"
        ) from None
    from scratchnet.app.datasets import load_fashion_mnist

    X, y = load_fashion_mnist("test", data_dir)
    if X.shape[1] != model.scaler.mean.shape[0]:
        raise UsageError(
            f"--verify runs the Fashion-MNIST test images ({X.shape[1]} pixels); "
            f"this model takes {model.scaler.mean.shape[0]} features"
        )
    result = verify(model, path, X, y)
    print("\n".join(result.lines()))
    return 0 if result.passed else 1


def _size(n_bytes: int) -> str:
    """``948502 -> '926 KiB, 948,502 bytes'``, ``1696158 -> '1.6 MiB, 1,696,158 bytes'``."""
    if n_bytes < 1 << 20:
        return f"{n_bytes / 1024:.0f} KiB, {n_bytes:,} bytes"
    return f"{n_bytes / (1 << 20):.1f} MiB, {n_bytes:,} bytes"
