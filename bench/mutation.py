"""Mutation testing (mutmut) of the modules whose promises matter most, one module at a time,
each against its own fast tests. Not in .ci/run: minutes per module on 2 cores.

    .venv/bin/pip install mutmut
    .venv/bin/python bench/mutation.py webhook privacy     # or: all
    .venv/bin/mutmut show NAME                             # what a surviving mutant changed

For each module it writes mutmut's ``[mutmut]`` configuration (setup.cfg, removed afterwards: the
module and its tests), runs ``mutmut run`` on that module's mutants and merges the figures into
bench/results/mutation.json (bench/mutation_summary.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# module: (its file, the fast tests that make its promises)
MODULES = {
    "webhook": ("bot/pipeline/webhook.py", ["tests/test_webhook.py", "tests/test_inbox_writer.py"]),
    "inbox": ("bot/pipeline/inbox.py", ["tests/test_inbox.py", "tests/test_webhook.py"]),
    "outbox": ("bot/pipeline/outbox.py", ["tests/test_outbox_queue.py"]),
    "sender": ("bot/pipeline/sender.py", ["tests/test_sender_decisions.py"]),
    "delivery_state": ("bot/pipeline/delivery_state.py", ["tests/test_delivery_state.py"]),
    "privacy": ("models/privacy.py", ["tests/test_privacy.py"]),
    "outcomes": ("models/casework.py", ["tests/test_threads.py", "tests/test_case_log_events.py"]),
}
SETUP_CFG = """[mutmut]
source_paths =
    bot
    models
also_copy =
    handlers
    jobs
    bench
only_mutate = {path}
pytest_add_cli_args =
    -p
    no:randomly
    -p
    no:cacheprovider
    -q
pytest_add_cli_args_test_selection =
{tests}
"""


def run(name: str) -> int:
    path, tests = MODULES[name]
    cfg = REPO / "setup.cfg"
    if cfg.exists():
        raise SystemExit("setup.cfg exists: this script writes its own and removes it")
    shutil.rmtree(REPO / "mutants", ignore_errors=True)
    cfg.write_text(SETUP_CFG.format(path=path, tests="\n".join(f"    {t}" for t in tests)))
    try:
        module = path.removesuffix(".py").replace("/", ".")
        subprocess.run([str(REPO / ".venv" / "bin" / "mutmut"), "run", f"{module}*"], cwd=REPO, check=False)
    finally:
        cfg.unlink()
    return subprocess.run([sys.executable, str(REPO / "bench" / "mutation_summary.py")], cwd=REPO).returncode


def main(argv: list[str]) -> int:
    names = list(MODULES) if argv == ["all"] else argv
    unknown = [n for n in names if n not in MODULES]
    if not names or unknown:
        print(f"usage: bench/mutation.py all | {' '.join(MODULES)}", file=sys.stderr)
        return 2
    return max(run(name) for name in names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
