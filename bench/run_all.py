"""Webhook load benchmark: Kasane against the floor and against the usual LINE-bot pattern.

    python -m bench.run_all              # the full run (about 18 minutes on 2 cores, 14 of them the memory run)
    python -m bench.run_all --quick      # every phase, a few seconds each (about 3 minutes)

Every server runs under waitress in its own process, as does the fake LINE platform (100 ms of
added latency); the load generator (bench/loadgen) is a third process. Prints a table and writes
the whole result as JSON (default: bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/run_all.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen.procs import (  # noqa: E402
    REPO,
    Proc,
    RssSampler,
    child_env,
    cpu_seconds,
    free_port,
    slope,
    start,
    wait_healthy,
)
from bench.loadgen.procs import run as run_command  # noqa: E402
from bench.loadgen.runner import LoadGenerator  # noqa: E402
from bench.loadgen.runner import cpu_seconds as own_cpu_seconds  # noqa: E402
from bench.loadgen.stats import Sample, distribution_ms  # noqa: E402

SECRET = "bench-channel-secret"
TOKEN = "bench-channel-access-token"
RESULTS = REPO / "bench" / "results" / "latest.json"


@dataclass
class Options:
    duration: float = 15.0  # open loop at --rate
    saturation: float = 10.0  # closed loop
    warmup: float = 1.0  # closed loop: seconds not measured
    rate: float = 100.0
    concurrency: int = 16
    latency: float = 0.1
    networks: int = 12
    members: int = 6
    seed_threads: int = 6  # 困りごと posted per network before the load
    drain: float = 20.0
    memory_events: int = 100_000
    memory_rate: float = 0.0  # 0: closed loop (the server's own pace); else an open-loop rate
    memory_concurrency: int = 8
    postgres: str = "postgresql://postgres@127.0.0.1:5432"
    skip_postgres: bool = False
    skip_memory: bool = False
    kasane_path: str | None = None
    keep: Path | None = None
    profile: Path | None = None  # py-spy each server process into this directory
    seed: int = 1


# --- one server, measured ---------------------------------------------------------------------------
async def measure(
    urls: list[str],
    platform_url: str,
    opts: Options,
    pids: dict[str, int],
    *,
    replies: bool,
    numbers: bool,
    platform_pid: int | None = None,
) -> dict[str, Any]:
    """Setup, then the open loop at ``opts.rate`` (with end-to-end reply times), then saturation.

    ``replies``: the server answers through LINE (wait for its replies); ``numbers``: its replies
    to a 困りごと name the thread's number (Kasane), else threads are numbered in posting order.
    """
    async with LoadGenerator(
        urls,
        platform_url,
        SECRET,
        networks=opts.networks,
        members=opts.members,
        seed_threads=opts.seed_threads,
        seed=opts.seed,
    ) as load:
        await load.set_latency(0.0)  # the setup's own replies need not wait
        setup = await load.setup(expect_replies=numbers)
        await load.set_latency(opts.latency)
        load.start_background()

        line = {"fake_line": platform_pid} if platform_pid else {}
        cpu, line_cpu = _cpu(pids), _cpu(line)
        phase = await load.open_loop(opts.rate, opts.duration)
        at_rate = load.result(phase, with_replies=False)
        at_rate["server_cpu_ms_per_request"] = _cpu_per_request(cpu, _cpu(pids), len(phase.samples))
        if replies:
            at_rate["drain"] = await load.drain(phase, opts.drain)
            at_rate.update({k: v for k, v in load.result(phase).items() if k in ("e2e_ms", "replies")})
        # The fake LINE platform's CPU (SDK validation of every call) is the benchmark's, not the bot's.
        at_rate["fake_line_cpu_ms_per_request"] = _cpu_per_request(line_cpu, _cpu(line), len(phase.samples))

        cpu, own = _cpu(pids), own_cpu_seconds()
        phase = await load.closed_loop(opts.concurrency, opts.saturation, opts.warmup)
        saturation = load.result(phase, with_replies=False)
        saturation["concurrency"] = opts.concurrency
        saturation["server_cpu_ms_per_request"] = _cpu_per_request(cpu, _cpu(pids), len(phase.samples))
        saturation["loadgen_cpu_ms_per_request"] = round(
            (own_cpu_seconds() - own) * 1000 / max(1, len(phase.samples)), 3
        )
        return {"setup": setup, "at_rate": at_rate, "saturation": saturation, "line_calls": dict(load.replies.counts)}


async def memory(urls: list[str], platform_url: str, opts: Options) -> dict[str, Any]:
    """``opts.memory_events`` events at the pace the server sustains (closed loop), or at a fixed rate."""
    async with LoadGenerator(
        urls, platform_url, SECRET, networks=opts.networks, members=opts.members, seed=opts.seed + 7
    ) as load:
        await load.set_latency(0.0)
        await load.setup(expect_replies=True)
        await load.set_latency(opts.latency)
        load.start_background()
        started = time.monotonic()
        if opts.memory_rate:
            phase = await load.open_loop(opts.memory_rate, opts.memory_events / opts.memory_rate)
        else:
            phase = await load.closed_loop(opts.memory_concurrency, None, 0.0, requests=opts.memory_events)
        ended = time.monotonic()
        result = load.result(phase, with_replies=False)
        result["by_tenth"] = by_tenth(phase.samples)
        result["drain"] = await load.drain(phase, 5.0)
        result.update({k: v for k, v in load.result(phase).items() if k in ("e2e_ms", "replies")})
        result["line_calls"] = dict(load.replies.counts)
    mode = (
        f"open loop at {opts.memory_rate:g}/s"
        if opts.memory_rate
        else f"closed loop, {opts.memory_concurrency} concurrent"
    )
    return {"mode": mode, "load": result, "window": (started, ended)}


def by_tenth(samples: list[Sample]) -> list[dict[str, Any]]:
    """Throughput and ack latency per tenth of a long run: does the server slow down as data grows?"""
    ordered = sorted(samples, key=lambda s: s.due_wall)
    size = max(1, len(ordered) // 10)
    tenths = []
    for i in range(0, size * 10, size):
        chunk = ordered[i : i + size]
        if len(chunk) < 2:
            break
        span = chunk[-1].due_wall - chunk[0].due_wall
        ack = distribution_ms([s.ack for s in chunk])
        tenths.append({"rps": round(len(chunk) / span, 1) if span > 0 else None, "p50": ack["p50"], "p99": ack["p99"]})
    return tenths


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) or 0.0 for name, pid in pids.items()}


def _cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> float:
    spent = sum(after[name] - before[name] for name in before)
    return round(spent * 1000 / max(1, requests), 3)


# --- the servers ------------------------------------------------------------------------------------
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

    def profiled(self, proc: Proc) -> None:
        """With --profile, py-spy samples the server until it exits (then writes collapsed stacks)."""
        if self.opts.profile is None:
            return
        self.opts.profile.mkdir(parents=True, exist_ok=True)
        output = self.opts.profile.resolve() / f"{proc.name}.txt"
        args = [
            "record",
            "--pid",
            str(proc.pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--nonblocking",
            "--gil",
            "--output",
            str(output),
        ]
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        subprocess.Popen([spy, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _stop(self, *procs: Proc) -> None:
        for proc in procs:
            proc.stop()
            self.procs.remove(proc)

    def simple(self, name: str, module: str, extra: list[str], *, replies: bool) -> dict[str, Any]:
        """The floor or the SDK pattern: one waitress process."""
        port = free_port()
        server = self._start(name, ["-m", module, "--port", str(port), "--secret", SECRET, *extra])
        self.platform_ready()
        wait_healthy(server, f"http://127.0.0.1:{port}/healthz")
        self.profiled(server)
        urls = [f"http://127.0.0.1:{port}/callback"]
        try:
            with RssSampler({name: server.pid}) as rss:
                result = asyncio.run(
                    measure(
                        urls,
                        self.platform_url,
                        self.opts,
                        {name: server.pid},
                        replies=replies,
                        numbers=False,
                        platform_pid=self.fake_line.pid,
                    )
                )
            result["rss_peak_mb"] = rss.peak_mb(name)
        finally:
            self._stop(server)
        return result

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
        )
        return path

    def kasane_sqlite(self, name: str) -> tuple[list[Proc], list[str]]:
        config = self.kasane_config(name, f"sqlite:///{self.workdir / (name + '.db')}")
        port = free_port()
        serve = self._start(name, ["-m", "bot", "--config", str(config), "serve", "--port", str(port)])
        self.platform_ready()
        wait_healthy(serve, f"http://127.0.0.1:{port}/healthz")
        return [serve], [f"http://127.0.0.1:{port}/callback"]

    def kasane_postgres(self, name: str, database: str) -> tuple[list[Proc], list[str]]:
        config = self.kasane_config(name, f"{self.opts.postgres}/{database}")
        run_command(["-m", "bot", "--config", str(config), "db", "upgrade"], self.workdir, self.env)
        procs, urls = [], []
        for i in (1, 2):
            port = free_port()
            args = ["-m", "bot", "--config", str(config), "serve", "--no-sender", "--no-scheduler", "--port", str(port)]
            web = self._start(f"{name}_web{i}", args)
            procs.append(web)
            wait_healthy(web, f"http://127.0.0.1:{port}/healthz")
            urls.append(f"http://127.0.0.1:{port}/callback")
        procs.append(self._start(f"{name}_worker", ["-m", "bot", "--config", str(config), "worker"]))
        self.platform_ready()
        time.sleep(1.0)
        if procs[-1].popen.poll() is not None:
            raise RuntimeError(f"kasane worker exited:\n{procs[-1].tail()}")
        return procs, urls

    def kasane(self, name: str, procs: list[Proc], urls: list[str]) -> dict[str, Any]:
        pids = {p.name: p.pid for p in procs}
        for proc in procs:
            self.profiled(proc)
        try:
            with RssSampler(pids) as rss:
                result = asyncio.run(
                    measure(
                        urls,
                        self.platform_url,
                        self.opts,
                        pids,
                        replies=True,
                        numbers=True,
                        platform_pid=self.fake_line.pid,
                    )
                )
            result["rss_peak_mb"] = {p.name: rss.peak_mb(p.name) for p in procs}
            if name == "kasane_sqlite":
                result["outbox"] = outbox_counts(self.workdir / "kasane_sqlite.db")
            result["errors_in_log"] = sum(_log_errors(p) for p in procs)
        finally:
            self._stop(*procs)
        return result

    def memory_run(self) -> dict[str, Any]:
        procs, urls = self.kasane_sqlite("kasane_memory")
        serve = procs[0]
        try:
            with RssSampler({"serve": serve.pid}) as rss:
                result = asyncio.run(memory(urls, self.platform_url, self.opts))
            result["outbox"] = outbox_counts(self.workdir / "kasane_memory.db")
            result["errors_in_log"] = _log_errors(serve)
        finally:
            self._stop(*procs)
        started, ended = result.pop("window")
        points = [(t, kb / 1024) for t, kb in rss.samples.get("serve", [])]
        during = [(t, mb) for t, mb in points if started <= t <= ended] or points
        half = started + (ended - started) / 2
        second_half = [(t, mb) for t, mb in during if t >= half]
        per_min = slope(second_half) * 60
        result["rss_mb"] = {
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
        return result


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


# --- postgres ------------------------------------------------------------------------------------------
def psql(base_url: str, sql: str) -> None:
    # base_url: postgresql://user@host:port
    rest = base_url.split("://", 1)[1]
    user, _, hostport = rest.rpartition("@")
    host, _, port = hostport.partition(":")
    command = ["psql", "-h", host, "-p", port or "5432", "-U", user or "postgres", "-q", "-c", sql]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)


# --- report ---------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for package in ("waitress", "flask", "line-bot-sdk", "sqlalchemy", "psycopg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    pg = None
    if shutil.which("psql"):
        try:
            pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pg = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": pyplatform.release(),
        "load_average_at_start": _load_average(),
        "python": pyplatform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql_client": pg,
        "packages": versions,
    }


def kasane_source(kasane_path: str | None) -> dict[str, Any]:
    """Which Kasane was measured: the repo's commit, and how many of its files differ from it."""
    if kasane_path:
        return {"path": kasane_path}
    info: dict[str, Any] = {"path": str(REPO)}
    try:
        git = ["git", "-C", str(REPO)]
        info["commit"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--", "bot", "handlers", "models", "jobs"], capture_output=True, text=True
        ).stdout.splitlines()
        info["uncommitted_files"] = len(changed)
    except OSError:
        pass
    return info


def _load_average() -> list[float] | None:
    """Other work on the machine skews every figure: record how busy it was."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def targets(result: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    servers = result["servers"]
    checks: list[dict[str, Any]] = []

    def check(name: str, value: Any, goal: str, ok: bool | None) -> None:
        checks.append({"target": name, "value": value, "goal": goal, "met": ok})

    def sat(name: str) -> float | None:
        return servers.get(name, {}).get("saturation", {}).get("throughput_rps")

    floor, sqlite, postgres = sat("floor"), sat("kasane_sqlite"), sat("kasane_postgres")
    if floor and sqlite:
        check("Kasane SQLite saturation vs floor", f"{sqlite / floor:.0%}", ">= 60%", sqlite / floor >= 0.6)
    if sqlite and postgres:
        check("Kasane PostgreSQL x2 vs SQLite", f"{postgres / sqlite:.0%}", ">= 100%", postgres >= sqlite)
    for name in ("kasane_sqlite", "kasane_postgres"):
        at_rate = servers.get(name, {}).get("at_rate")
        if not at_rate:
            continue
        p99 = at_rate["ack_ms"]["p99"]
        check(f"{name} ack p99 at {opts.rate:g}/s", p99, "< 50 ms", p99 is not None and p99 < 50)
        e2e = at_rate.get("e2e_ms", {}).get("p99")
        check(f"{name} end-to-end reply p99 at {opts.rate:g}/s", e2e, "< 500 ms", e2e is not None and e2e < 500)
    sdk = servers.get("sdk_pattern", {}).get("at_rate")
    if sdk:
        p50 = sdk["ack_ms"]["p50"]
        goal = f">= {opts.latency * 1000:g} ms (LINE's latency)"
        check("SDK pattern ack p50 bounded below by latency", p50, goal, p50 is not None and p50 >= opts.latency * 1000)
    mem = result.get("memory")
    if mem:
        rss = mem["rss_mb"]
        events = mem["load"]["requests"]
        check(f"kasane serve peak RSS after {events:,} events", rss["peak"], "< 200 MB", rss["peak"] < 200)
        growth = rss["second_half_growth_mb"]
        check("RSS growth over the second half", growth, "< 5 MB (no trend)", abs(growth) < 5)
    return checks


def table(result: dict[str, Any], opts: Options) -> str:
    rows = [
        (
            "server",
            "sat req/s",
            "vs floor",
            "ack p50",
            "p95",
            "p99",
            "max",
            "e2e p50",
            "e2e p99",
            "replies",
            "errors",
            "cpu ms/req",
            "peak RSS MB",
        )
    ]
    servers = result["servers"]
    floor = servers.get("floor", {}).get("saturation", {}).get("throughput_rps")
    for name, data in servers.items():
        if "error" in data:
            rows.append((name, "failed: " + data["error"][:80], *[""] * 11))
            continue
        sat, at_rate = data["saturation"], data["at_rate"]
        ack, e2e = at_rate["ack_ms"], at_rate.get("e2e_ms") or {}
        replies = at_rate.get("replies") or {}
        rss = data.get("rss_peak_mb")
        rss_text = "+".join(f"{v:g}" for v in rss.values() if v) if isinstance(rss, dict) else f"{rss or ''}"
        rows.append(
            (
                name,
                f"{sat['throughput_rps']:.0f}",
                f"{sat['throughput_rps'] / floor:.0%}" if floor else "",
                _ms(ack["p50"]),
                _ms(ack["p95"]),
                _ms(ack["p99"]),
                _ms(ack["max"]),
                _ms(e2e.get("p50")),
                _ms(e2e.get("p99")),
                f"{replies.get('received', 0)}/{replies.get('expected', 0)}" if name != "floor" else "-",
                f"{at_rate['errors']}+{sat['errors']}",
                f"{at_rate['server_cpu_ms_per_request']:.2f}",
                rss_text,
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            str(cell).rjust(w) if i else str(cell).ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    notes = [
        f"latencies in ms at {opts.rate:g} req/s offered (open loop, {opts.duration:g} s); sat = closed loop, "
        f"{opts.concurrency} concurrent, {opts.saturation:g} s; LINE latency {opts.latency * 1000:g} ms",
        "errors = unexpected statuses at rate + at saturation; cpu = server CPU per request at rate",
    ]
    mem = result.get("memory")
    if mem:
        rss = mem["rss_mb"]
        load = mem["load"]
        notes.append(
            f"memory: {load['requests']:,} events ({mem['mode']}, {load['throughput_rps']:.0f} req/s): "
            f"kasane serve RSS before load {rss['before_load']} MB, peak {rss['peak']} MB, end {rss['end']} MB, "
            f"second-half slope {rss['second_half_slope_mb_per_min']} MB/min; ack p50 {_ms(load['ack_ms']['p50'])} p99 "
            f"{_ms(load['ack_ms']['p99'])} ms, errors {load['errors']}, outbox after: {mem.get('outbox')}"
        )
        if load.get("by_tenth"):
            tenths = ", ".join(f"{t['rps']:.0f}/s p50 {_ms(t['p50'])}" for t in load["by_tenth"] if t["rps"])
            notes.append(f"memory run by tenths: {tenths}")
    checks = result.get("targets", [])
    if checks:
        notes.append("targets:")
        for c in checks:
            mark = "MET " if c["met"] else "MISS"
            notes.append(f"  [{mark}] {c['target']}: {c['value']} (goal {c['goal']})")
    return "\n".join(lines + [""] + notes)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --- main ---------------------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> tuple[Options, Path, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="a few seconds per phase and 3,000 events for memory")
    add("--duration", type=float, help="seconds of open loop at --rate (default 15)")
    add("--saturation", type=float, help="seconds of closed loop (default 10)")
    add("--rate", type=float, help="offered events/s for the latency figures (default 100)")
    add("--concurrency", type=int, help="closed-loop senders (default 16)")
    add("--latency", type=float, help="LINE's added latency in seconds (default 0.1)")
    add("--networks", type=int, help="networks (LINE groups) in the mix (default 12)")
    add("--memory-events", type=int, help="events in the memory run (default 100000)")
    add("--memory-rate", type=float, help="open-loop events/s for the memory run (default: closed loop, 8 concurrent)")
    add("--postgres", help="PostgreSQL server URL without database (default postgresql://postgres@127.0.0.1:5432)")
    add("--skip-postgres", action="store_true")
    add("--skip-memory", action="store_true")
    add("--only", action="append", choices=["floor", "sdk_pattern", "kasane_sqlite", "kasane_postgres"], default=[])
    add("--kasane-path", help="import Kasane (bot/, handlers/, models/) from this directory instead of the repo")
    add("--keep", type=Path, help="keep the servers' logs and databases in this directory")
    add("--profile", type=Path, help="record each server with py-spy (collapsed stacks) into this directory")
    add("--out", type=Path, default=RESULTS, help="JSON output (default bench/results/latest.json)")
    args = parser.parse_args(argv)
    opts = Options()
    if args.quick:
        opts.duration, opts.saturation, opts.memory_events, opts.drain, opts.networks = 4.0, 4.0, 3000, 10.0, 6
    for name in (
        "duration",
        "saturation",
        "rate",
        "concurrency",
        "latency",
        "networks",
        "memory_events",
        "memory_rate",
        "postgres",
    ):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    opts.skip_postgres, opts.skip_memory, opts.kasane_path = args.skip_postgres, args.skip_memory, args.kasane_path
    opts.keep, opts.profile = args.keep, args.profile
    return opts, args.out, args.only


def main(argv: list[str] | None = None) -> int:
    opts, out, only = parse(argv)
    wanted = set(only) or {"floor", "sdk_pattern", "kasane_sqlite", "kasane_postgres"}
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "options": vars(opts) | {"kasane_path": None, "keep": None, "profile": None},
        "kasane": kasane_source(opts.kasane_path),
        "servers": {},
    }
    database = f"kasane_bench_{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="kasane-bench-") as tmp, Bench(opts, _workdir(opts, tmp)) as bench:
        steps: list[tuple[str, Any]] = [
            ("floor", lambda: bench.simple("floor", "bench.floor_app", [], replies=False)),
            (
                "sdk_pattern",
                lambda: bench.simple(
                    "sdk_pattern",
                    "bench.sdk_pattern_app",
                    ["--token", TOKEN, "--api-base", bench.platform_url],
                    replies=True,
                ),
            ),
            ("kasane_sqlite", lambda: bench.kasane("kasane_sqlite", *bench.kasane_sqlite("kasane_sqlite"))),
        ]
        if not opts.skip_postgres:
            steps.append(("kasane_postgres", lambda: _postgres(bench, opts, database)))
        for name, step in steps:
            if name not in wanted:
                continue
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            try:
                result["servers"][name] = step()
            except Exception as exc:  # one server failing must not lose the others' figures
                result["servers"][name] = {"error": f"{exc.__class__.__name__}: {exc}"}
                print(f"[bench] {name} failed: {exc}", file=sys.stderr, flush=True)
        if not opts.skip_memory and "kasane_sqlite" in wanted:
            print(f"[bench] memory: {opts.memory_events} events ...", file=sys.stderr, flush=True)
            try:
                result["memory"] = bench.memory_run()
            except Exception as exc:
                result["memory_error"] = f"{exc.__class__.__name__}: {exc}"
                print(f"[bench] memory run failed: {exc}", file=sys.stderr, flush=True)
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    result["machine"]["load_average_at_end"] = _load_average()
    result["targets"] = targets(result, opts)
    text = table(result, opts)
    result["table"] = text.splitlines()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"\nwritten: {out}")
    return 0


def _workdir(opts: Options, tmp: str) -> Path:
    if opts.keep is None:
        return Path(tmp)
    opts.keep.mkdir(parents=True, exist_ok=True)
    return opts.keep.resolve()


def _postgres(bench: Bench, opts: Options, database: str) -> dict[str, Any]:
    psql(opts.postgres, f"CREATE DATABASE {database}")
    try:
        return bench.kasane("kasane_postgres", *bench.kasane_postgres("kasane_postgres", database))
    finally:
        try:
            psql(opts.postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        except (subprocess.SubprocessError, OSError):
            pass


if __name__ == "__main__":
    raise SystemExit(main())
