"""The servers under test, each in processes of its own: start them all, measure them together, stop.

- ``floor`` and ``sdk_pattern``: one waitress process each (bench/floor_app.py, bench/sdk_pattern_app.py);
- ``kasane_sqlite``: ``kasane serve`` as a user runs it: the web process, the worker it forks and
  the worker's sender;
- ``kasane_postgres``: two ``kasane serve --no-worker`` and one ``kasane worker`` (with its sender)
  on a fresh database.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen.procs import (
    Proc,
    RssSampler,
    child_env,
    free_port,
    postgres_server_cpu_seconds,
    slope,
    start,
    started_child,
    wait_healthy,
)
from bench.loadgen.procs import run as run_command
from bench.measure import SECRET, TOKEN, Backlog, Options, Target, measure_all, memory

PENDING = "SELECT count(*) FROM inbox"


@dataclass
class Running:
    """A started server: what the measurement needs, and its processes to stop."""

    target: Target
    procs: list[Proc]
    sqlite_path: Path | None = None


class Bench:
    def __init__(self, opts: Options, workdir: Path) -> None:
        self.opts = opts
        self.workdir = workdir
        self.env = child_env(opts.kasane_path)
        self.procs: list[Proc] = []
        self.platform_url = ""

    def __enter__(self) -> Bench:
        # Started now, waited for by the first server: both import line-bot-sdk (seconds) in parallel.
        port = free_port()
        args = ["-m", "bench.loadgen.fake_platform", "--port", str(port), "--token", TOKEN]
        self.fake_line = self._start("fake_line", args, f"http://127.0.0.1:{port}")
        self.platform_url = self.fake_line.url
        self._platform_ready = False
        return self

    def platform_ready(self) -> None:
        if not self._platform_ready:
            wait_healthy(self.fake_line, self.platform_url + "/_fake/health")
            self._platform_ready = True

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def _start(self, name: str, args: list[str], url: str = "") -> Proc:
        proc = start(name, args, self.workdir, self.env, url)
        self.procs.append(proc)
        return proc

    def _stop(self, *procs: Proc) -> None:
        for proc in procs:
            proc.stop()
            self.procs.remove(proc)

    def profiled(self, name: str, pid: int) -> None:
        """With --profile, py-spy samples the process until it exits (then writes collapsed stacks)."""
        if self.opts.profile is None:
            return
        self.opts.profile.mkdir(parents=True, exist_ok=True)
        output = self.opts.profile.resolve() / f"{name}.txt"
        args = ["record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--nonblocking", "--gil"]
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        subprocess.Popen([spy, *args, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # --- the floor and the SDK pattern ---------------------------------------------------------------
    def simple(self, name: str, module: str, extra: list[str], *, replies: bool) -> Running:
        port = free_port()
        server = self._start(name, ["-m", module, "--port", str(port), "--secret", SECRET, *extra])
        self.platform_ready()
        wait_healthy(server, f"http://127.0.0.1:{port}/healthz")
        target = Target(name, [f"http://127.0.0.1:{port}/callback"], {name: server.pid}, replies, numbers=False)
        return Running(target, [server])

    def floor(self) -> Running:
        return self.simple("floor", "bench.floor_app", [], replies=False)

    def sdk_pattern(self) -> Running:
        return self.simple(
            "sdk_pattern", "bench.sdk_pattern_app", ["--token", TOKEN, "--api-base", self.platform_url], replies=True
        )

    # --- all together ----------------------------------------------------------------------------------
    def measure(self, servers: list[Running]) -> dict[str, dict[str, Any]]:
        """Measure the started servers together (bench/measure.py ``measure_all``), then stop them."""
        pids = {name: pid for server in servers for name, pid in server.target.pids.items()}
        for name, pid in pids.items():
            self.profiled(name, pid)
        try:
            with RssSampler(pids) as rss:
                targets = [server.target for server in servers]
                results = asyncio.run(measure_all(targets, self.platform_url, self.opts, self.fake_line.pid))
            for server in servers:
                result = results[server.target.name]
                peaks = {name: rss.peak_mb(name) for name in server.target.pids}
                result["rss_peak_mb"] = peaks if len(peaks) > 1 else next(iter(peaks.values()))
                if server.sqlite_path is not None:
                    result["outbox"] = outbox_counts(server.sqlite_path)
                result["errors_in_log"] = sum(_log_errors(p) for p in server.procs)
        finally:
            self._stop(*(proc for server in servers for proc in server.procs))
        return results

    # --- Kasane ------------------------------------------------------------------------------------------
    def kasane_config(self, name: str, database_url: str) -> Path:
        path = self.workdir / f"{name}.toml"
        path.write_text(
            "[line]\n"
            f'channel_secret = "{SECRET}"\n'
            f'channel_access_token = "{TOKEN}"\n'
            f'api_base_url = "{self.platform_url}"\n'
            "[database]\n"
            f'url = "{database_url}"\n'
            "[server]\n"
            'host = "127.0.0.1"\n'
            "[networks]\n"
            'approval = "automatic"\n'  # the load's groups are networks at once
        )
        return path

    def kasane_sqlite(self, name: str = "kasane_sqlite") -> Running:
        """``kasane serve`` with its defaults: the web process forks its worker."""
        path = self.workdir / f"{name}.db"
        config = self.kasane_config(name, f"sqlite:///{path}")
        port = free_port()
        serve = self._start(name, ["-m", "bot", "--config", str(config), "serve", "--port", str(port)])
        self.platform_ready()
        wait_healthy(serve, f"http://127.0.0.1:{port}/healthz")
        worker, sender = started_child(serve.log, "worker"), started_child(serve.log, "sender")
        pids = {f"{name}_web": serve.pid, f"{name}_worker": worker, f"{name}_sender": sender}
        urls = [f"http://127.0.0.1:{port}/callback"]
        backlog = sqlite_backlog(path.with_name(f"{name}-inbox.db"))
        return Running(Target(name, urls, pids, True, True, backlog), [serve], path)

    def kasane_postgres(self, database: str, name: str = "kasane_postgres") -> Running:
        url = f"{self.opts.postgres}/{database}"
        config = self.kasane_config(name, url)
        run_command(["-m", "bot", "--config", str(config), "db", "upgrade"], self.workdir, self.env)
        procs, urls = [], []
        for i in (1, 2):
            port = free_port()
            args = ["-m", "bot", "--config", str(config), "serve", "--no-worker", "--port", str(port)]
            web = self._start(f"{name}_web{i}", args)
            procs.append(web)
            wait_healthy(web, f"http://127.0.0.1:{port}/healthz")
            urls.append(f"http://127.0.0.1:{port}/callback")
        worker = self._start(f"{name}_worker", ["-m", "bot", "--config", str(config), "worker"])
        procs.append(worker)
        self.platform_ready()
        pids = {p.name: p.pid for p in procs} | {f"{name}_sender": started_child(worker.log, "sender")}
        if worker.popen.poll() is not None:
            raise RuntimeError(f"kasane worker exited:\n{worker.tail()}")
        local = self.opts.postgres.split("@")[-1].split(":")[0] in ("127.0.0.1", "localhost", "")
        database_cpu = postgres_server_cpu_seconds if local else None
        return Running(Target(name, urls, pids, True, True, postgres_backlog(url), database_cpu), procs)

    def memory_run(self) -> dict[str, Any]:
        kasane = self.kasane_sqlite("kasane_memory")
        target = kasane.target
        try:
            with RssSampler(target.pids) as rss:
                result = asyncio.run(memory(target.urls, self.platform_url, self.opts, target.backlog))
            result["outbox"] = outbox_counts(kasane.sqlite_path) if kasane.sqlite_path else None
            result["errors_in_log"] = sum(_log_errors(p) for p in kasane.procs)
        finally:
            self._stop(*kasane.procs)
        window = result.pop("window")
        result["rss_mb"] = {
            "web": rss_figures(rss, "kasane_memory_web", window),
            "worker": rss_figures(rss, "kasane_memory_worker", window),
            "sender": rss_figures(rss, "kasane_memory_sender", window),
            "pss_total": rss_figures(rss, "pss_total", window),
        }
        return result


def rss_figures(rss: RssSampler, name: str, window: tuple[float, float]) -> dict[str, Any]:
    """Start, peak, end and the slope over the second half of one process's memory during the run."""
    started, ended = window
    points = [(t, kb / 1024) for t, kb in rss.samples.get(name, [])]
    if not points:
        return {}
    during = [(t, mb) for t, mb in points if started <= t <= ended] or points
    half = started + (ended - started) / 2
    per_min = slope([(t, mb) for t, mb in during if t >= half]) * 60
    return {
        "before_load": round(max((mb for t, mb in points if t <= started), default=during[0][1]), 1),
        "start": round(during[0][1], 1),
        "peak": round(max(mb for _, mb in points), 1),
        "end": round(during[-1][1], 1),
        "second_half_slope_mb_per_min": round(per_min, 3),
        "second_half_growth_mb": round(per_min * (ended - half) / 60, 2),
        "samples": len(points),
        # (seconds since the load started, MB), at most ~60 points: the shape of the curve
        "series": [(round(t - started), round(mb, 1)) for t, mb in during[:: max(1, len(during) // 60)]],
    }


def sqlite_backlog(path: Path) -> Backlog:
    def waiting() -> int | None:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return int(db.execute(PENDING).fetchone()[0])
        except sqlite3.Error:
            return None

    return waiting


def postgres_backlog(url: str) -> Backlog:
    def waiting() -> int | None:
        import psycopg

        try:
            with psycopg.connect(url, connect_timeout=5) as db:
                row = db.execute(PENDING).fetchone()
                return int(row[0]) if row else None
        except psycopg.Error:
            return None

    return waiting


def outbox_counts(path: Path) -> dict[str, int] | None:
    """Kasane's outbox after the run, by status: how far the sender was behind."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return {status: n for status, n in db.execute("SELECT status, count(*) FROM outbox GROUP BY status")}
    except sqlite3.Error:
        return None


def _log_errors(proc: Proc) -> int:
    try:
        text = proc.log.read_text(errors="replace")
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)


def psql(base_url: str, sql: str) -> None:
    # base_url: postgresql://user@host:port
    rest = base_url.split("://", 1)[1]
    user, _, hostport = rest.rpartition("@")
    host, _, port = hostport.partition(":")
    command = ["psql", "-h", host, "-p", port or "5432", "-U", user or "postgres", "-q", "-c", sql]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
