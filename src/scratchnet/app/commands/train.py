"""``scratchnet train``: train a preset, with any of its parameters changed, and save a model
directory; Ctrl-C once keeps the model trained so far. An existing model is replaced only with
``--force``. The training steps here are shared with ``scratchnet demo``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import signal
import sys
from pathlib import Path

from scratchnet.app.commands.common import (
    UsageError,
    add_data_dir,
    add_force,
    bounded_int,
    positive_int,
)
from scratchnet.app.experiment import VALIDATION_FRACTION, preset_params, train_preset
from scratchnet.app.presets import DEFAULT_PRESET, PRESETS

MAX_EPOCHS = 10_000  # a bound, so that a typo (10**20) is an error instead of a run forever
DEFAULT_SEED = inspect.signature(train_preset).parameters["seed"].default
#: Each option that sets an estimator parameter, by the parameter's name.
OPTIONS = {
    "learning_rate": "--learning-rate",
    "batch_size": "--batch-size",
    "n_hidden_units": "--hidden",
    "random_state": "--seed",
    "validation_fraction": "--validation-fraction",
}

#: What is allowed, in the command line's words where the estimator's would mislead.
CLI_ALLOWED = {
    "n_hidden_units": "positive widths like 256,128, or 'none'",
    "random_state": "an integer >= 0",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a preset on Fashion-MNIST and save a model directory"
    )
    p.add_argument(
        "--model",
        default=DEFAULT_PRESET,
        choices=sorted(PRESETS),
        help="preset: " + "; ".join(f"{k}: {v.description}" for k, v in sorted(PRESETS.items())),
    )
    p.add_argument("--out", required=True, help="model directory to write")
    add_force(p)
    add_training_options(p, f"the preset's: {_per_preset('epochs')}")
    p.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        metavar="LR",
        help=f"step size (default: the preset's: {_per_preset('learning_rate')})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="samples per mini-batch (default: the preset's: "
        f"{_per_preset('batch_size', none='25 batches per epoch')})",
    )
    p.add_argument(
        "--hidden",
        type=_widths,
        default=None,
        metavar="W1,W2",
        help="hidden layer widths, e.g. 256,128, or 'none' for no hidden layer; "
        "MLP presets only (default: the preset's: "
        f"{_per_preset('n_hidden_units', none='fixed')})",
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=VALIDATION_FRACTION,
        metavar="F",
        help="share of the images held out to pick the best epoch "
        "(default: 1/12, 5,000 of the 60,000)",
    )
    p.add_argument(
        "--log",
        metavar="FILE",
        default=None,
        help="append one JSON line per epoch to FILE (loss, accuracy, validation "
        "loss and accuracy, learning rate, seconds)",
    )
    p.set_defaults(func=cmd_train)


def add_training_options(p, epochs: str) -> None:
    """The options ``train`` and ``demo`` share; ``epochs`` says what the default is."""
    p.add_argument(
        "--epochs",
        type=bounded_int(1, MAX_EPOCHS),
        default=None,
        help=f"passes over the training images (default: {epochs})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the validation split, the weights, shuffling and dropout",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="train on N images only, with N * F / (1 - F) more held out for "
        "validation (F: the validation fraction) (default: all 55,000)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (on a terminal) or per-epoch lines (otherwise)",
    )
    add_data_dir(p)


def cmd_train(args) -> int:
    overrides = training_overrides(args)
    out = Path(args.out)
    check_out(out, args.force)
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(_open_log(args.log)) if args.log else None
        model, interrupted = run_training(args, overrides, log)
    save_checked(model, out, args.force)
    record = model.record
    if interrupted:
        which = "best" if record.restored_best_weights else "last"
        print(f"interrupted: kept the {which} model of {record.epochs_run} epoch(s)")
    changed = ", ".join(f"{k}={v}" for k, v in overrides.items())
    print(
        f"trained {args.model}{f' ({changed})' if changed else ''} for {record.epochs_run} "
        f"epoch(s) in {record.metrics.training_seconds:.1f} s on {record.n_train:,} training "
        f"images ({record.n_validation:,} more held out for validation): test accuracy "
        f"{record.metrics.test_accuracy:.4f} on the test set"
    )
    print(f"model saved to {out}")
    return 0


def training_overrides(args) -> dict:
    """The estimator parameters the options set, each checked by the estimator's own rules
    before any data is read; a bad value is a :class:`UsageError` naming the option."""
    from scratchnet.estimator.params import CHECKS, validate_params

    overrides = {
        name: value
        for name, value in [
            ("learning_rate", args.learning_rate),
            ("batch_size", args.batch_size),
            ("n_hidden_units", args.hidden),
        ]
        if value is not None
    }
    if args.hidden is not None and PRESETS[args.model].params.get("architecture") == "cnn":
        raise UsageError(
            f"--hidden: the {args.model} preset's layers are fixed; "
            "use --model mlp or tutorial to set hidden widths"
        )
    checked = {
        **overrides,
        "random_state": args.seed,
        "validation_fraction": args.validation_fraction,
    }
    for name, value in checked.items():
        try:
            validate_params({name: value})
        except ValueError:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            allowed = CLI_ALLOWED.get(name, CHECKS[name][1])
            raise UsageError(f"{OPTIONS[name]} {shown}: invalid; use {allowed}") from None
    return overrides


def run_training(args, overrides: dict, log_file):
    """Train as the options say; return the model and whether Ctrl-C ended the run."""
    from scratchnet.app.epoch_log import EpochLines, JsonLinesLog

    epochs = preset_params(args.model, args.epochs, overrides)["epochs"]
    # A progress bar on a terminal; elsewhere (a log file, CI) one plain line per epoch.
    bar = not args.quiet and sys.stderr.isatty()
    callbacks = [] if args.quiet or bar else [EpochLines(epochs)]
    if log_file is not None:
        callbacks.append(JsonLinesLog(log_file))
    stop = StopFlag()
    with stop.installed():
        model = train_preset(
            args.model,
            epochs=args.epochs,
            seed=args.seed,
            limit=args.limit,
            data_dir=args.data_dir,
            verbose=bar,
            should_stop=stop,
            validation_fraction=args.validation_fraction,
            overrides=overrides,
            callbacks=callbacks,
        )
    return model, stop.requested


def check_out(out: Path, force: bool) -> None:
    """Refuse ``--out`` before training when it cannot be written (a file, a foreign
    directory: :func:`check_output_dir`) or holds a model and ``force`` is not given."""
    from scratchnet.estimator.model_dir import MODEL_JSON, check_output_dir

    check_output_dir(out)
    meta = out / MODEL_JSON
    if not force and (meta.exists() or meta.is_symlink()):
        raise UsageError(
            f"--out {out}: already holds a trained model; pass --force to replace "
            "it, or choose another directory"
        )


def save_checked(model, out: Path, force: bool) -> None:
    """Save under the model directory's lock, checking again inside it: another run may have
    saved a model there while this one trained."""
    from scratchnet.estimator.atomic import directory_lock
    from scratchnet.estimator.model_dir import LOCK_WAIT, save_model

    out.mkdir(parents=True, exist_ok=True)
    with directory_lock(out, wait=LOCK_WAIT):  # re-entrant: save_model takes it again
        check_out(out, force)
        save_model(model, out)


@contextlib.contextmanager
def _open_log(path: str):
    """``--log``: opened for appending before training, its folder made as ``--out``'s is."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        file = open(path, "a", encoding="utf-8")  # closed by the with below
    except OSError as exc:
        raise UsageError(f"--log {path}: cannot be opened ({exc.strerror or exc})") from None
    with file:
        yield file


def _per_preset(name: str, none: str = "none") -> str:
    def show(value) -> str:
        if value is None:
            return none
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)

    return ", ".join(f"{k} {show(v.params.get(name))}" for k, v in sorted(PRESETS.items()))


def _widths(text: str) -> tuple[int, ...]:
    """argparse type of ``--hidden``: ``256,128`` -> (256, 128); ``none`` -> ()."""
    if text.strip().lower() in ("none", ""):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected widths like 256,128 or 'none', got {text!r}"
        ) from None


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
                    print(
                        "\nCtrl-C: stopping after this batch (press again to abort)",
                        file=sys.stderr,
                    )

                signal.signal(signal.SIGINT, handler)
                return flag

            def __exit__(self, *exc):
                signal.signal(signal.SIGINT, self.previous)
                return False

        return _Ctx()
