"""Using a trained model: ``scratchnet evaluate``, ``predict`` (your own photos) and ``report``."""

from __future__ import annotations

import json

import numpy as np

from scratchnet.app.commands.common import UsageError, add_data_dir, positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="test accuracy, per-class metrics, confusion matrix")
    p.add_argument("model_dir")
    add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("predict", help="classify your own photos (PNG/JPEG)")
    p.add_argument("model_dir")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--top", type=positive_int, default=3, help="classes to show per image")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("report", help="figures and an HTML page about a trained model")
    p.add_argument("model_dir")
    p.add_argument("--out", required=True, help="directory for index.html and the figures")
    p.add_argument("--tsne-samples", type=positive_int, default=1500,
                   help="test images in the t-SNE maps")
    p.add_argument("--seed", type=int, default=0)
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

    model = load_model_dir(args.model_dir)
    pixels = []
    for path in args.images:
        try:
            pixels.append(load_photo(path))
        except PhotoError as exc:
            raise UsageError(str(exc)) from None
    proba = model.predict_proba(np.stack(pixels))  # (N, C)
    names = model.class_names
    if args.json:
        rows = [{"file": str(path), "label": names[int(p.argmax())],
                 "probabilities": {n: round(float(v), 6) for n, v in zip(names, p, strict=True)}}
                for path, p in zip(args.images, proba, strict=True)]
        print(json.dumps(rows, indent=2))
        return 0
    for path, p in zip(args.images, proba, strict=True):
        top = np.argsort(p)[::-1][: args.top]
        print(f"{path}:")
        for k in top:
            print(f"  {names[k]:<12} {p[k]:7.2%}")
    return 0


def cmd_report(args) -> int:
    from scratchnet.app.report import write_report

    model = load_model_dir(args.model_dir)
    index = write_report(model, args.out, data_dir=args.data_dir, tsne_samples=args.tsne_samples,
                         seed=args.seed)
    print(f"report written: {index}")
    return 0


def load_model_dir(directory):
    from scratchnet.estimator.model_dir import load_model

    return load_model(directory)
