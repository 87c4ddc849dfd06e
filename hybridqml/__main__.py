"""``python -m hybridqml``: the same as the ``hybridqml`` command."""

import sys

from hybridqml.cli import main

if __name__ == "__main__":
    sys.exit(main())
