"""``python -m isoinit.cli``: the ``isoinit`` command."""

import sys

from . import main

sys.exit(main())
