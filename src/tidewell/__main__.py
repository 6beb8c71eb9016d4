"""``python -m tidewell`` is the ``tidewell`` command."""

import sys

from tidewell.cli import main

sys.exit(main())
