"""Per-module figures of a mutmut run, written to bench/results/mutation.json.

    .venv/bin/mutmut run "bot.pipeline.webhook*"      # one module at a time ([tool.mutmut] in pyproject.toml)
    .venv/bin/python bench/mutation_summary.py        # reads mutants/**/*.meta; keeps the notes already written

Killed = the tests failed on the mutant (a timeout counts as killed: the mutant hung them);
survived = every test passed; "no tests" = no selected test runs that function. Modules that
were not run keep their earlier figures. Survivors are listed by name (``mutmut show NAME``
prints the change); ``harmless`` in the JSON says, per survivor kept, why it does not matter.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "mutation.json"
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 37: "type check"}


def summarise(meta: Path) -> dict[str, object] | None:
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    statuses = {name: STATUS.get(code, "not checked" if code is None else "suspicious") for name, code in codes.items()}
    counts = Counter(statuses.values())
    if counts["not checked"] == len(codes):
        return None
    killed = counts["killed"] + counts["timeout"]
    tested = killed + counts["survived"]
    return {
        "mutants": len(codes),
        "killed": killed,
        "survived": counts["survived"],
        "no_tests": counts["no tests"],
        "not_checked": counts["not checked"],
        "killed_percent": round(100 * killed / tested, 1) if tested else None,
        "survivors": sorted(name for name, status in statuses.items() if status == "survived"),
    }


def main() -> int:
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    modules = dict(previous.get("modules", {}))
    for meta in sorted((REPO / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(REPO / "mutants"))[: -len(".meta")]
        figures = summarise(meta)
        if figures is not None:
            # The judgements written by hand (harmless survivors, notes) stay; a survivor killed
            # since is no longer listed as harmless.
            kept = {key: value for key, value in modules.get(module, {}).items() if key not in figures}
            kept["harmless"] = {k: v for k, v in kept.get("harmless", {}).items() if k in figures["survivors"]}
            figures["run_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
            modules[module] = {**figures, **kept}
    OUT.write_text(json.dumps({**previous, "tool": "mutmut", "modules": modules}, ensure_ascii=False, indent=2) + "\n")
    for module, f in modules.items():
        print(f"{module:<36} {f['killed']:>4} killed {f['survived']:>4} survived  {f['killed_percent']}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
