"""``scratchnet train`` and ``scratchnet demo``: train a preset and save a model directory;
Ctrl-C once keeps the model trained so far."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from scratchnet.app.commands.common import (
    UsageError,
    add_data_dir,
    bounded_int,
    positive_int,
)
from scratchnet.app.presets import DEFAULT_PRESET, PRESETS

MAX_EPOCHS = 10_000  # a bound, so that a typo (10**20) is an error instead of a run forever


def register(subparsers) -> None:
    p = subparsers.add_parser("train",
                              help="train a preset on Fashion-MNIST and save a model directory")
    p.add_argument("--model", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                   help=f"preset (default {DEFAULT_PRESET}): " + "; ".join(
                       f"{k}: {v.description}" for k, v in sorted(PRESETS.items())))
    p.add_argument("--epochs", type=bounded_int(1, MAX_EPOCHS), default=None,
                   help="epochs (default: the preset's)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=positive_int, default=None,
                   help="train on the first N training images only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_dir(p)
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("demo",
                              help="train the default preset, evaluate it, write the report")
    p.add_argument("--out", default="runs/mlp", help="model directory to write")
    p.add_argument("--report", default=None, help="also write the report here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_demo)


def cmd_train(args) -> int:
    from scratchnet.app.experiment import train_preset
    from scratchnet.estimator.model_dir import save_model

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    stop = StopFlag()
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


class StopFlag:
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
