"""``python -m ricci``: the command line (see :mod:`ricci.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
