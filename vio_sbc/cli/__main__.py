"""`python -m vio_sbc.cli`: the same as the `vio-sbc` command."""

import sys

from vio_sbc.cli import main

sys.exit(main())
