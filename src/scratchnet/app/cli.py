"""The ``scratchnet`` command line: data, xor, train, evaluate, predict, report, tutorial, demo.

Every error the user can cause is printed as one line on stderr with exit status 2 (1 for a
failed download); no traceback reaches the user. ``main(argv)`` returns the exit status, so tests
call it directly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
from pathlib import Path

import numpy as np

from scratchnet.app.commands.common import Parser as _Parser
from scratchnet.app.commands.common import UsageError, add_data_dir
from scratchnet.app.commands.common import positive_int as _positive_int
from scratchnet.app.datasets import DatasetError
from scratchnet.app.presets import DEFAULT_PRESET, PRESETS
from scratchnet.estimator.model_dir import ModelFileError

#: Commands that live in their own module under ``scratchnet.app.commands``; each module's
#: ``register(subparsers)`` adds its subparser. A module that is not there yet is skipped.
COMMAND_MODULES = ("serve", "export", "sweep")


# --- commands ---------------------------------------------------------------------------------
def cmd_data_fetch(args) -> int:
    from scratchnet.app.datasets import fetch

    where = fetch(dest=args.dir, use_apt=not args.no_apt)
    print(f"Fashion-MNIST ready in {where}")
    return 0


def cmd_xor(args) -> int:
    from scratchnet.app.xor import XOR_X, XOR_Y, train_xor

    result = train_xor(n_hidden=args.hidden, epochs=args.epochs, learning_rate=args.learning_rate,
                       seed=args.seed)
    step = max(1, args.epochs // 10)
    print("epoch  squared error")
    for e in list(range(0, args.epochs, step)) + [args.epochs - 1]:
        print(f"{e + 1:5d}  {result.errors[e]:.6f}")
    print("\ninput   target  output")
    for x, t, p in zip(XOR_X, XOR_Y[:, 0], result.predictions[:, 0], strict=True):
        mark = "ok" if (p > 0.5) == (t > 0.5) else "WRONG"
        print(f"{int(x[0])} {int(x[1])}     {int(t)}       {p:.4f}  {mark}")
    print(f"\n{'all four right' if result.all_correct else 'not all right'}")
    return 0 if result.all_correct else 1


def cmd_train(args) -> int:
    from scratchnet.app.experiment import train_preset
    from scratchnet.estimator.model_dir import save_model

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    stop = _StopFlag()
    with stop.installed():
        model = train_preset(args.model, epochs=args.epochs, seed=args.seed, limit=args.limit,
                             data_dir=args.data_dir, verbose=not args.quiet,
                             should_stop=stop)
    save_model(model, out)
    record = model.record
    if stop.requested:
        which = "best" if record.restored_best_weights else "last"
        print(f"interrupted: kept the {which} model of {record.epochs_run} epoch(s)")
    print(f"trained {args.model} for {record.epochs_run} epoch(s) in "
          f"{record.metrics.training_seconds:.1f} s: test accuracy "
          f"{record.metrics.test_accuracy:.4f}")
    print(f"model saved to {out}")
    return 0


def cmd_evaluate(args) -> int:
    from scratchnet.app.evaluation import evaluate_model, format_evaluation

    model = _load(args.model_dir)
    result = evaluate_model(model, data_dir=args.data_dir)
    print(format_evaluation(result, model.class_names))
    return 0


def cmd_predict(args) -> int:
    from scratchnet.app.photos import PhotoError, load_photo

    model = _load(args.model_dir)
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

    model = _load(args.model_dir)
    index = write_report(model, args.out, data_dir=args.data_dir, tsne_samples=args.tsne_samples,
                         seed=args.seed)
    print(f"report written: {index}")
    return 0


def cmd_tutorial(args) -> int:
    from scratchnet.app.tutorial import TUTORIAL_ACCURACY, run_tutorial

    results = run_tutorial(epochs=args.epochs, out_dir=args.out, limit=args.limit,
                           data_dir=args.data_dir, seed=args.seed, verbose=not args.quiet)
    print(f"{'pixels':<10} {'test acc':>9} {'train acc':>10} {'tutorial':>9} {'seconds':>8}")
    for name, r in results.items():
        print(f"{name:<10} {r['test_accuracy']:9.2%} {r['train_accuracy']:10.2%} "
              f"{TUTORIAL_ACCURACY[name]:9.2%} {r['seconds']:8.1f}")
    if args.out:
        print(f"error curves written to {Path(args.out) / 'tutorial_error.png'}")
    return 0


def cmd_demo(args) -> int:
    from scratchnet.app.experiment import train_preset
    from scratchnet.estimator.model_dir import save_model

    model = train_preset(DEFAULT_PRESET, seed=args.seed, data_dir=args.data_dir,
                         verbose=not args.quiet)
    save_model(model, args.out)
    record = model.record
    print(f"trained the default preset '{DEFAULT_PRESET}' for {record.epochs_run} epochs in "
          f"{record.metrics.training_seconds:.1f} s")
    print(f"test accuracy on the 10,000 Fashion-MNIST test images: "
          f"{record.metrics.test_accuracy:.2%}")
    if args.report:
        from scratchnet.app.evaluation import evaluate_model, format_evaluation
        from scratchnet.app.report import write_report

        print(format_evaluation(evaluate_model(model, data_dir=args.data_dir), model.class_names))
        index = write_report(model, args.report, data_dir=args.data_dir, seed=args.seed)
        print(f"report: {Path(index).resolve()}")
    return 0


# --- plumbing ---------------------------------------------------------------------------------
def _load(directory):
    from scratchnet.estimator.model_dir import load_model

    return load_model(directory)


class _StopFlag:
    """Ctrl-C once: finish the current batch and keep the model (the best-validation one, or
    the last for a preset with ``restore_best_weights=False``). Twice: stop at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def installed(self):
        flag = self

        class _Ctx:
            def __enter__(self):
                self.previous = signal.getsignal(signal.SIGINT)

                def handler(signum, frame):
                    if flag.requested:
                        raise KeyboardInterrupt
                    flag.requested = True
                    print("\nCtrl-C: stopping after this batch (press again to abort)",
                          file=sys.stderr)

                signal.signal(signal.SIGINT, handler)
                return flag

            def __exit__(self, *exc):
                signal.signal(signal.SIGINT, self.previous)
                return False

        return _Ctx()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scratchnet", description="Neural networks from scratch in NumPy, on "
                     "Fashion-MNIST.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    data_dir = add_data_dir

    p = sub.add_parser("data", help="get the Fashion-MNIST files")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    f = dsub.add_parser("fetch", help="install (apt) or download (MD5-checked) the dataset")
    f.add_argument("--dir", default=None, help="download into this directory instead")
    f.add_argument("--no-apt", action="store_true", help="never use apt-get, always download")
    f.set_defaults(func=cmd_data_fetch)

    p = sub.add_parser("xor", help="the tutorial's backprop demo: a tiny net learns XOR")
    p.add_argument("--hidden", type=_positive_int, default=3, help="hidden units (>= 2)")
    p.add_argument("--epochs", type=_positive_int, default=5000)
    p.add_argument("--learning-rate", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_xor)

    p = sub.add_parser("train", help="train a preset on Fashion-MNIST and save a model directory")
    p.add_argument("--model", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                   help=f"preset (default {DEFAULT_PRESET}): " + "; ".join(
                       f"{k}: {v.description}" for k, v in sorted(PRESETS.items())))
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="epochs (default: the preset's)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="train on the first N training images only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy, per-class metrics, confusion matrix")
    p.add_argument("model_dir")
    data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify your own photos (PNG/JPEG)")
    p.add_argument("model_dir")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--top", type=_positive_int, default=3, help="classes to show per image")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("report", help="figures and an HTML page about a trained model")
    p.add_argument("model_dir")
    p.add_argument("--out", required=True, help="directory for index.html and the figures")
    p.add_argument("--tsne-samples", type=_positive_int, default=1500,
                   help="test images in the t-SNE maps")
    p.add_argument("--seed", type=int, default=0)
    data_dir(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("tutorial", help="the tutorial's experiment: raw vs scaled pixels")
    p.add_argument("--epochs", type=_positive_int, default=300)
    p.add_argument("--out", default=None, help="directory for the error curves")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="train on the first N training images only")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    data_dir(p)
    p.set_defaults(func=cmd_tutorial)

    p = sub.add_parser("demo", help="train the default preset, evaluate it, write the report")
    p.add_argument("--out", default="runs/mlp", help="model directory to write")
    p.add_argument("--report", default=None, help="also write the report here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    data_dir(p)
    p.set_defaults(func=cmd_demo)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"scratchnet.app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"scratchnet.app.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (UsageError, DatasetError, ModelFileError, MemoryError) as exc:
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, DatasetError) and "download" in str(exc) else 2
    except KeyboardInterrupt:
        print(f"scratchnet {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        # File-system trouble (permissions, full disk) or an invalid value: still one line.
        print(f"scratchnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _version() -> str:
    from scratchnet import __version__

    return f"scratchnet {__version__}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
