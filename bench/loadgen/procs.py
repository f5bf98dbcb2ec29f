"""Server processes for the benchmark: start, wait until healthy, sample RSS and CPU, stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(kasane_path: str | None = None) -> dict[str, str]:
    """The environment of a server: no KASANE_* overrides from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASANE_")}
    paths = [p for p in (kasane_path, str(REPO)) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def start(name: str, args: list[str], workdir: Path, env: dict[str, str], url: str = "") -> Proc:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen([sys.executable, *args], cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return Proc(name, popen, log, url)


def run(args: list[str], workdir: Path, env: dict[str, str], timeout: float = 120.0) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def wait_healthy(proc: Proc, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not healthy at {url} after {timeout}s:\n{proc.tail()}")


def _kb(path: str, field: str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kb(pid: int) -> int | None:
    return _kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int | None:
    """Proportional set size: shared pages split among the processes that share them (a forked
    worker shares the web process's imported code), so PSS figures add up where RSS ones do not."""
    return _kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def started_child(log: Path, name: str, timeout: float = 30.0) -> int:
    """The pid of the child process ``name`` that a Kasane process logged starting ("sender started
    (pid 123)"). Not just any child: ``kasane worker`` first forks a short-lived one that checks the
    schema, and measuring that one would leave the sender out of the figures."""
    pattern = re.compile(rf"\b{re.escape(name)} started \(pid (\d+)\)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = pattern.search(log.read_text(errors="replace"))
        except OSError:
            found = None
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise RuntimeError(f"no '{name} started' in {log} within {timeout}s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_server_cpu_seconds() -> float:
    """CPU time of the local PostgreSQL server: its processes, and those it has reaped.

    Kasane on PostgreSQL shares these 2 cores with its database server, whose backends run the
    web processes' inserts and the worker's queries at normal priority: their CPU belongs in the
    comparison with SQLite, where that work is done inside Kasane's own processes."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        if comm != "postgres":
            continue
        total += int(fields[11]) + int(fields[12])
        if _comm(int(fields[1])) != "postgres":  # the postmaster: also the backends it has reaped
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass
class RssSampler:
    """Samples VmRSS (kB, at time.monotonic()) of some processes every ``every`` seconds, in a thread."""

    pids: dict[str, int]
    every: float = 1.0
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            total = 0
            for name, pid in self.pids.items():
                value = rss_kb(pid)
                if value is not None:
                    self.samples.setdefault(name, []).append((time.monotonic(), value))
                total += pss_kb(pid) or 0
            if len(self.pids) > 1 and total:
                self.samples.setdefault("pss_total", []).append((time.monotonic(), total))
            if self._stop.wait(self.every):
                return

    def peak_mb(self, name: str) -> float | None:
        values = [kb for _, kb in self.samples.get(name, [])]
        return round(max(values) / 1024, 1) if values else None


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return 0.0 if var == 0 else sum((x - mean_x) * (y - mean_y) for x, y in points) / var
