"""``scratchnet demo``: train the default preset, evaluate it and write the report, as
``make demo`` does (``--no-report`` for the model alone)."""

from __future__ import annotations

from pathlib import Path

from scratchnet.app.commands.common import (
    REPORT_TSNE_SAMPLES,
    UsageError,
    add_force,
    directory_path,
    positive_int,
)
from scratchnet.app.commands.train import (
    add_training_options,
    check_out,
    run_training,
    save_checked,
    training_overrides,
)
from scratchnet.app.experiment import VALIDATION_FRACTION
from scratchnet.app.presets import DEFAULT_PRESET, PRESETS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train the default preset, evaluate it and write "
        "the report (skip the report with --no-report)",
    )
    p.add_argument("--out", type=directory_path, default="runs/mlp",
                   help="model directory to write")
    add_force(p)
    p.add_argument(
        "--report",
        default="runs/mlp-report",
        help="directory for the report (index.html and figures)",
    )
    p.add_argument("--no-report", action="store_true", help="skip the evaluation and report")
    p.add_argument(
        "--tsne-samples",
        type=positive_int,
        default=REPORT_TSNE_SAMPLES,
        help="test images in the report's t-SNE maps",
    )
    add_training_options(p, f"{PRESETS[DEFAULT_PRESET].params['epochs']}")
    p.set_defaults(
        func=cmd_demo,
        model=DEFAULT_PRESET,
        learning_rate=None,
        batch_size=None,
        hidden=None,
        validation_fraction=VALIDATION_FRACTION,
        log=None,
    )


def cmd_demo(args) -> int:
    overrides = training_overrides(args)
    out = Path(args.out)
    check_out(out, args.force)
    report = Path(args.report)
    if not args.no_report and report.exists() and not report.is_dir():
        raise UsageError(f"--report {report}: exists and is not a directory")
    model, _ = run_training(args, overrides, None)
    save_checked(model, out, args.force)
    record = model.record
    print(
        f"trained the default preset '{DEFAULT_PRESET}' for {record.epochs_run} epoch(s) in "
        f"{record.metrics.training_seconds:.1f} s on {record.n_train:,} training images"
    )
    print(
        f"test accuracy on the 10,000 Fashion-MNIST test images: {record.metrics.test_accuracy:.2%}"
    )
    print(f"model saved to {out}")
    if not args.no_report:
        from scratchnet.app.evaluation import evaluate_model, format_evaluation
        from scratchnet.app.report import write_report

        print(format_evaluation(evaluate_model(model, data_dir=args.data_dir), model.class_names))
        index = write_report(
            model,
            args.report,
            data_dir=args.data_dir,
            tsne_samples=args.tsne_samples,
            seed=args.seed,
        )
        print(f"report: {Path(index).resolve()}")
    return 0
