"""``python -m modelkit``: the same as the ``modelkit`` console script."""

import sys

from modelkit.cli import main

sys.exit(main())
