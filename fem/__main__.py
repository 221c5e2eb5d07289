"""``python -m fem``: the mtz command line."""

import sys

from fem.cli import main

sys.exit(main())
