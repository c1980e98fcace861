"""``scratchnet train``: train a preset, with any of its parameters changed, and save a model
directory; Ctrl-C once keeps the model trained so far. An existing model is replaced only with
``--force``. The training steps here are shared with ``scratchnet demo``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
from pathlib import Path

from scratchnet.app.commands.common import (
    UsageError,
    add_data_dir,
    add_force,
    bounded_int,
    directory_path,
    positive_int,
)
from scratchnet.app.commands.interrupt import StopFlag
from scratchnet.app.experiment import VALIDATION_FRACTION, preset_params, train_preset
from scratchnet.app.presets import DEFAULT_PRESET, PRESETS
from scratchnet.estimator.model_dir import CHECKPOINT_FILE

#: The options ``--resume`` takes from the checkpoint, with their defaults (given: an error).
RESUME_FIXED = {"model": DEFAULT_PRESET, "epochs": None, "limit": None, "learning_rate": None,
                "batch_size": None, "hidden": None}
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
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=directory_path,
                       help="model directory to write (a checkpoint is kept there after every "
                       "epoch until the run completes)")
    where.add_argument("--resume", type=directory_path, metavar="DIR",
                       help="finish the interrupted run whose checkpoint is in DIR, with that "
                       "run's settings, and save the model there")
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
    if args.resume is not None:
        args, overrides, resume = resumed_run(args)
        out, args.force = Path(args.resume), True  # the model replaced is this run's own
    else:
        overrides, resume, out = training_overrides(args), None, Path(args.out)
        check_out(out, args.force)
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(_open_log(args.log)) if args.log else None
        model, interrupted = run_training(args, overrides, log, out, resume)
    save_checked(model, out, args.force)
    if not interrupted:  # a completed run needs no checkpoint; an interrupted one keeps it
        (out / CHECKPOINT_FILE).unlink(missing_ok=True)
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
    print(f"model saved to {out}" + (f"; resume with `scratchnet train --resume {out}`"
                                     if interrupted else ""))
    return 0


def resumed_run(args):
    """``--resume DIR``: the options and checkpoint of the interrupted run; options that would
    change the run are refused, since the run continues with its own settings."""
    from scratchnet.app.checkpoint import CheckpointError, read_checkpoint

    changed = [f"--{name.replace('_', '-')}" for name in RESUME_FIXED
               if getattr(args, name) != RESUME_FIXED[name]]
    if changed:
        raise UsageError(f"--resume continues the run with its own settings; drop {changed[0]}")
    try:
        state, run = read_checkpoint(args.resume)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    overrides = {k: tuple(v) if isinstance(v, list) else v
                 for k, v in run.get("overrides", {}).items()}
    settings = {k: run.get(k) for k in ("model", "epochs", "seed", "limit",
                                        "validation_fraction")}
    return argparse.Namespace(**{**vars(args), **settings}), overrides, state


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


def run_training(args, overrides: dict, log_file, checkpoint_dir=None, resume=None):
    """Train as the options say, checkpointing into ``checkpoint_dir`` after every epoch;
    return the model and whether Ctrl-C ended the run."""
    from scratchnet.app.checkpoint import Checkpoint
    from scratchnet.app.epoch_log import EpochLines, JsonLinesLog

    epochs = preset_params(args.model, args.epochs, overrides)["epochs"]
    # A progress bar on a terminal; elsewhere (a log file, CI) one plain line per epoch.
    bar = not args.quiet and sys.stderr.isatty()
    callbacks = [] if args.quiet or bar else [EpochLines(epochs)]
    if log_file is not None:
        callbacks.append(JsonLinesLog(log_file))
    if checkpoint_dir is not None:
        run = {"model": args.model, "epochs": epochs, "seed": args.seed, "limit": args.limit,
               "validation_fraction": args.validation_fraction, "overrides": overrides}
        callbacks.append(Checkpoint(checkpoint_dir, run))
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
            resume=resume,
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
