"""What every CLI command shares: the one-line usage error, argument types, and the help
formatter that shows each option's default."""

from __future__ import annotations

import argparse

#: ``write_report``'s default t-SNE sample, here so ``--help`` need not import the report.
REPORT_TSNE_SAMPLES = 1500


class UsageError(Exception):
    """Bad input from the user; ``scratchnet.app.cli.main`` prints it as one line (exit 2)."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def bounded_int(low: int, high: int):
    """argparse type: an integer in [low, high], with the bounds in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low}..{high}, got {value}")
        return value

    return parse


def bounded_float(low: float, high: float):
    """argparse type: a finite float in (low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low < value <= high:
            raise argparse.ArgumentTypeError(f"expected a number in ({low}, {high}], got {text}")
        return value

    return parse


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with ``(default: X)`` after every option that has a default.

    Left out where it would say nothing: a default of ``None`` or ``False`` (the help text says
    what happens then) and a help text that already names its default.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # Identity, not ==: a default of 0 is shown, False is not.
        quiet = action.default is None or action.default is False
        if (
            not action.option_strings
            or quiet
            or action.default == argparse.SUPPRESS
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line with a hint (exit 2) and whose
    ``--help`` shows the defaults (:class:`DefaultsFormatter`)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--data-dir`` option of every command that reads Fashion-MNIST."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="directory with the Fashion-MNIST .gz files (default: search "
        "$SCRATCHNET_DATA, ~/.cache/scratchnet/fashion-mnist, "
        "/usr/share/datasets/fashion-mnist)",
    )


def add_force(parser: argparse.ArgumentParser) -> None:
    """``--force``: the only way a command replaces the model in an existing model directory."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the model already in --out (without it, an existing model "
        "directory is refused)",
    )


def directory_path(text: str) -> str:
    """argparse type of an output directory: not empty (``Path("")`` would be the current
    directory, whose files are the user's)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a directory name")
    return text
