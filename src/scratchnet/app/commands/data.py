"""``scratchnet data fetch``: get the Fashion-MNIST files (apt package or MD5-checked download)."""

from __future__ import annotations

import argparse
import sys

from scratchnet.app.commands.common import Parser


class _DeprecatedDir(argparse.Action):
    """``--dir``, the old name of ``--data-dir``: still accepted, with a warning on stderr."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: --dir is deprecated; use --data-dir", file=sys.stderr)
        setattr(namespace, self.dest, values)


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="get the Fashion-MNIST files")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    f = dsub.add_parser("fetch", help="install (apt) or download (MD5-checked) the dataset")
    f.add_argument(
        "--data-dir",
        default=None,
        help="download into this directory (default: apt-get install "
        "dataset-fashion-mnist when root on Debian, else ~/.cache/scratchnet/"
        "fashion-mnist); files already there with the right MD5 are kept",
    )
    f.add_argument("--dir", dest="data_dir", action=_DeprecatedDir, help=argparse.SUPPRESS)
    f.add_argument("--no-apt", action="store_true", help="never use apt-get, always download")
    f.set_defaults(func=cmd_data_fetch)


def cmd_data_fetch(args) -> int:
    from scratchnet.app.datasets import fetch

    where = fetch(dest=args.data_dir, use_apt=not args.no_apt)
    print(f"Fashion-MNIST ready in {where}")
    return 0
