"""Subcommands of the ``scratchnet`` CLI that live in their own module.

Each module here has ``register(subparsers)``: it adds its subparser and sets ``func`` to a
function ``(args) -> int``. Heavy dependencies (FastAPI, ONNX, Dask) are imported inside that
function, so ``scratchnet --help`` stays fast. ``scratchnet.app.cli.COMMAND_MODULES`` lists them.
"""
