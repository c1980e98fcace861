"""The ``scratchnet`` command line; each subcommand lives in :mod:`scratchnet.app.commands`.

Every error the user can cause is printed as one line on stderr, never a traceback. Exit
status: 0 done; 1 a failed download or, for ``predict``, some file could not be classified;
2 a usage error (bad option, model directory or data); 130 Ctrl-C; 141 (128 + SIGPIPE, what a
shell reports for a command killed by a closed pipe) when stdout was closed early, as by
``scratchnet predict DIR | head -1``, with no message. ``main(argv)`` returns the exit status,
so tests call it directly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from scratchnet.app.commands.common import Parser, UsageError
from scratchnet.app.datasets import DatasetError
from scratchnet.estimator.model_dir import ModelFileError

#: Every subcommand, each in its module under ``scratchnet.app.commands`` with a
#: ``register(subparsers)`` that adds its parser; the order is the order of ``--help``.
COMMAND_MODULES = ("data", "lesson", "train", "demo", "use", "summary", "export", "serve", "sweep")
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="scratchnet", description="Neural networks from scratch in NumPy, on Fashion-MNIST."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"scratchnet.app.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet is left out
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
        return _flushed(int(exc.code or 0))
    try:
        return _flushed(args.func(args))
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
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


def _flushed(code: int) -> int:
    """Flush stdout now, so that a closed pipe is met here and not at exit (where Python
    would print "Exception ignored" and exit 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered
    does not fail again on the closed pipe (the recipe of Python's ``signal`` docs)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout has no descriptor (captured in a test): nothing to do
        pass


def _version() -> str:
    from scratchnet import __version__

    return f"scratchnet {__version__}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
