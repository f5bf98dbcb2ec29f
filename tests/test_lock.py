"""The lock file (requirements.lock, with hashes) pins every dependency pyproject.toml names,
so that `.ci/run` installs exactly what was audited (README: Dependencies you can audit)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_is_pinned_with_hashes_in_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE))
    pinned = {canonical(name): version for name, version in pinned.items()}
    missing = [str(r) for r in wanted if canonical(r.name) not in pinned]
    assert not missing, f"regenerate requirements.lock (README: Dependencies you can audit): {missing}"
    outside = [f"{r.name}=={pinned[canonical(r.name)]}" for r in wanted if pinned[canonical(r.name)] not in r.specifier]
    assert not outside, f"pinned outside pyproject.toml's range: {outside}"
    # Every pin carries hashes, and nothing points at one machine's own package folders.
    assert lock.count("==") == len(re.findall(r"==\S+ \\\n\s+--hash=sha256:", lock))
    assert "file://" not in lock and "--find-links" not in lock.replace("--no-emit-find-links", "")
