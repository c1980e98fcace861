"""The ``scratchnet`` command line; each subcommand lives in :mod:`scratchnet.app.commands`.

Every error the user can cause is printed as one line on stderr with exit status 2 (1 for a
failed download); no traceback reaches the user. ``main(argv)`` returns the exit status, so tests
call it directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from scratchnet.app.commands.common import Parser, UsageError
from scratchnet.app.datasets import DatasetError
from scratchnet.estimator.model_dir import ModelFileError

#: Every subcommand, each in its module under ``scratchnet.app.commands`` with a
#: ``register(subparsers)`` that adds its parser; the order is the order of ``--help``.
COMMAND_MODULES = ("data", "lesson", "train", "use", "export", "serve", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="scratchnet", description="Neural networks from scratch in NumPy, on "
                    "Fashion-MNIST.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"scratchnet.app.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (UsageError, DatasetError, ModelFileError, MemoryError, FloatingPointError) as exc:
        # FloatingPointError: training diverged (the message says which weights were kept).
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
