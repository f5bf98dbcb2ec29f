"""The house's rules that import-linter cannot see: importing a wing builds nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from faults import REPO, clean_environment

PROBE = """
import json, sys
import bot, bot.replies.cards, handlers, jobs
wings = ('bot.web', 'bot.app', 'bot.simulator', 'bot.fakeline')
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'werkzeug', 'waitress'})
                 + sorted(m for m in sys.modules if m.startswith(wings))))
"""


def test_handlers_jobs_and_replies_load_no_web_framework_and_no_web_app():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=clean_environment(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
