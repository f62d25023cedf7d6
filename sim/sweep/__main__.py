"""``python -m sim.sweep SWEEP.toml ...``: the same as ``rbtc-sim sweep``."""

import sys

from sim.sweep.cli import main

sys.exit(main())
