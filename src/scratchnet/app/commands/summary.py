"""``scratchnet summary MODEL_DIR``: the layers, their output shapes and parameter counts."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "summary",
        help="layers, output shapes and parameter counts of a "
        "trained model (like Keras's model.summary())",
    )
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    p.set_defaults(func=cmd_summary)


def cmd_summary(args) -> int:
    from scratchnet.app.summary import model_summary
    from scratchnet.estimator.model_dir import load_model

    model = load_model(args.model_dir)
    record = model.record
    about = [
        f"preset {record.preset}" if record.preset else None,
        f"{record.epochs_run} epoch(s)" if record.epochs_run else None,
        f"test accuracy {record.metrics.test_accuracy:.4f}"
        if record.metrics.test_accuracy is not None
        else None,
    ]
    about = [a for a in about if a]
    print(f"Model: {args.model_dir}" + (f" ({', '.join(about)})" if about else ""))
    print(model_summary(model))
    return 0
