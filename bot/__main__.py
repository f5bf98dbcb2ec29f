"""``python -m bot`` is the ``kasane`` command."""

import sys

from bot.cli import main

sys.exit(main())
