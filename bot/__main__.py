"""``python -m bot`` is the ``kasane`` command."""

import sys

from bot.cli.main import main

sys.exit(main())
