"""Using a trained model: ``scratchnet evaluate``, ``predict`` (your own photos) and ``report``.

``predict`` classifies every file it can and reports each one it cannot on its own line of
stderr; its exit status is 1 when any failed, 2 for a usage error (a bad model directory).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

from scratchnet.app.commands.common import (
    REPORT_TSNE_SAMPLES,
    UsageError,
    add_data_dir,
    positive_int,
)


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="test accuracy, per-class metrics, confusion matrix")
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("predict", help="classify your own photos (PNG, JPEG...)")
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    p.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, or directories: every image file in one (sorted by name, not recursive)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: per image its top classes, most probable first, and all probabilities",
    )
    p.add_argument("--top", type=positive_int, default=3, help="classes shown per image")
    p.add_argument(
        "--save-input",
        metavar="DIR",
        default=None,
        help="write the 28x28 image the network saw of each photo to DIR/NAME-28x28.png",
    )
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("report", help="figures and an HTML page about a trained model")
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    p.add_argument("--out", required=True, help="directory for index.html and the figures")
    p.add_argument(
        "--tsne-samples",
        type=positive_int,
        default=REPORT_TSNE_SAMPLES,
        help="test images in the t-SNE maps",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the t-SNE maps' sample")
    p.add_argument(
        "--self-contained",
        action="store_true",
        help="write one index.html with the images inlined (no PNG files)",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_report)


def cmd_evaluate(args) -> int:
    from scratchnet.app.evaluation import evaluate_model, format_evaluation

    model = load_model_dir(args.model_dir)
    result = evaluate_model(model, data_dir=args.data_dir)
    print(format_evaluation(result, model.class_names))
    return 0


def cmd_predict(args) -> int:
    from scratchnet.app.photos import PhotoError, load_photo

    save_dir = Path(args.save_input) if args.save_input is not None else None
    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise UsageError(f"--save-input {save_dir}: exists and is not a directory")
    model = load_model_dir(args.model_dir)
    paths, errors = image_files(args.images)
    loaded, pixels = [], []
    for path in paths:
        try:
            pixels.append(load_photo(path))  # (784,) uint8
            loaded.append(path)
        except PhotoError as exc:
            errors.append(str(exc))
    for message in errors:  # each on its own line; the other images are still classified
        print(f"scratchnet predict: error: {message}", file=sys.stderr)
    saved = save_inputs(save_dir, loaded, pixels) if save_dir is not None and pixels else None
    names = model.class_names
    proba = model.predict_proba(np.stack(pixels)) if pixels else np.empty((0, len(names)))
    k = min(args.top, len(names))
    rows = []
    for i, (path, p) in enumerate(zip(loaded, proba, strict=True)):
        top = np.argsort(p, kind="stable")[::-1][:k]
        row = {
            "file": str(path),
            "label": names[int(top[0])],
            "top": [{"class": names[int(c)], "probability": round(float(p[c]), 6)} for c in top],
            "probabilities": {n: round(float(v), 6) for n, v in zip(names, p, strict=True)},
        }
        if saved is not None:
            row["input_png"] = str(saved[i])
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['file']}:")
            for entry in row["top"]:
                print(f"  {entry['class']:<12} {entry['probability']:7.2%}")
            if "input_png" in row:
                print(f"  network input saved to {row['input_png']}")
    return 1 if errors else 0


def image_files(args: list[str]) -> tuple[list[Path], list[str]]:
    """The files named in ``args``, a directory standing for the image files in it (sorted by
    name, hidden files and other files left out); and an error line for each directory that
    cannot be listed or holds no image. A missing or unreadable *file* is left for
    ``load_photo`` to report."""
    suffixes = image_suffixes()
    files, errors = [], []
    for arg in args:
        path = Path(arg)
        if not path.is_dir():
            files.append(path)
            continue
        try:
            found = sorted(
                (
                    p
                    for p in path.iterdir()
                    if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
                ),
                key=lambda p: p.name,
            )
        except OSError as exc:
            errors.append(f"{path}: cannot list the directory ({exc.strerror or exc})")
            continue
        if not found:
            errors.append(
                f"{path}: no image files in this directory (looked for "
                f"{', '.join(sorted(suffixes & {'.png', '.jpg', '.jpeg', '.webp'}))} "
                "and the other formats Pillow reads)"
            )
        files.extend(found)
    return files, errors


def image_suffixes() -> set[str]:
    """File name endings of the formats Pillow can open (``.png``, ``.jpg``, ``.webp``...)."""
    from PIL import Image

    Image.init()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def save_inputs(directory: Path, paths: list[Path], pixels: list[np.ndarray]) -> list[Path]:
    """Write each 28 x 28 network input as ``directory/STEM-28x28.png`` (``STEM-2-28x28.png``
    and so on when two inputs share a stem), atomically; return the paths written."""
    from PIL import Image

    from scratchnet.estimator.atomic import atomic_write_bytes

    directory.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written = []
    for path, image in zip(paths, pixels, strict=True):
        stem, n = path.stem or "image", 1
        while (name := f"{stem}{f'-{n}' if n > 1 else ''}-28x28.png") in used:
            n += 1
        used.add(name)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(image, dtype=np.uint8).reshape(28, 28)).save(buffer, "PNG")
        atomic_write_bytes(directory / name, buffer.getvalue())
        written.append(directory / name)
    return written


def cmd_report(args) -> int:
    from scratchnet.app.report import write_report

    model = load_model_dir(args.model_dir)
    index = write_report(
        model,
        args.out,
        data_dir=args.data_dir,
        tsne_samples=args.tsne_samples,
        seed=args.seed,
        self_contained=args.self_contained,
    )
    print(f"report written: {index}")
    return 0


def load_model_dir(directory):
    from scratchnet.estimator.model_dir import load_model

    return load_model(directory)
