"""What every CLI command shares: the one-line usage error and argument types."""

from __future__ import annotations

import argparse


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


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line with a hint (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--data-dir`` option of every command that reads Fashion-MNIST."""
    parser.add_argument("--data-dir", default=None,
                        help="directory with the Fashion-MNIST .gz files (default: search "
                        "$SCRATCHNET_DATA, ~/.cache/scratchnet/fashion-mnist, "
                        "/usr/share/datasets/fashion-mnist)")
