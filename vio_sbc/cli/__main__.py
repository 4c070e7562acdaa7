"""`python -m vio_sbc.cli`: the same as the `vio-sbc` command."""

import sys

from vio_sbc.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports it (sttpool.py)
    sys.exit(main())
