"""``python -m scratchnet``: the same command line as ``scratchnet``."""

import sys

from scratchnet.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
