"""``scratchnet data fetch``: get the Fashion-MNIST files (apt package or MD5-checked download)."""

from __future__ import annotations

from scratchnet.app.commands.common import Parser


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="get the Fashion-MNIST files")
    dsub = p.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    f = dsub.add_parser("fetch", help="install (apt) or download (MD5-checked) the dataset")
    f.add_argument("--dir", default=None, help="download into this directory instead")
    f.add_argument("--no-apt", action="store_true", help="never use apt-get, always download")
    f.set_defaults(func=cmd_data_fetch)


def cmd_data_fetch(args) -> int:
    from scratchnet.app.datasets import fetch

    where = fetch(dest=args.dir, use_apt=not args.no_apt)
    print(f"Fashion-MNIST ready in {where}")
    return 0
