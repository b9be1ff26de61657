"""``python -m replicasym ...`` is the same program as the ``replicasym`` console script."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
