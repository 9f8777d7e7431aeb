"""`python -m jupyter_mvdp.cli`: the same as `jupyter mvdp`."""

import sys

from . import main

sys.exit(main())
