"""The benchmark's report: the machine, what was measured, the targets, the table."""

from __future__ import annotations

import os
import platform as pyplatform
import shutil
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.loadgen.procs import REPO
from bench.measure import Options


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
        "sched_autogroup": _autogroup(),
    }


def _autogroup() -> bool | None:
    """Linux's autogroup: CPU shared out by session first. Each PostgreSQL backend starts a session
    of its own, so each weighs as much as all of Kasane's processes together, niced or not: the
    PostgreSQL figures depend on it (README, "Webhook load benchmark")."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


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

    sqlite_floor = ratio(servers, "kasane_sqlite", "floor")
    if sqlite_floor is not None:
        check("Kasane SQLite saturation vs floor", f"{sqlite_floor:.0%}", ">= 60%", sqlite_floor >= 0.6)
    postgres_sqlite = ratio(servers, "kasane_postgres", "kasane_sqlite")
    if postgres_sqlite is not None:
        check("Kasane PostgreSQL x2 vs SQLite", f"{postgres_sqlite:.0%}", ">= 100%", postgres_sqlite >= 1.0)
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
        events = mem["load"]["requests"]
        for process in ("web", "worker", "sender"):
            rss = mem["rss_mb"].get(process) or {}
            if not rss:
                continue
            peak, growth = rss["peak"], rss["second_half_growth_mb"]
            check(f"kasane serve ({process}) peak RSS, {events:,} events", peak, "< 200 MB", peak < 200)
            check(f"kasane serve ({process}) RSS growth, second half", growth, "< 5 MB (no trend)", abs(growth) < 5)
        # The three processes share the pages of the code they imported before forking: their
        # proportional set sizes add up to what `kasane serve` costs the machine in all.
        pss = mem["rss_mb"].get("pss_total") or {}
        if pss.get("peak") is not None:
            total, growth = pss["peak"], pss["second_half_growth_mb"]
            check(f"kasane serve, all three processes (PSS), {events:,} events", total, "< 200 MB", total < 200)
            check("kasane serve, all three processes (PSS), growth", growth, "< 5 MB (no trend)", abs(growth) < 5)
    return checks


def ratio(servers: dict[str, Any], name: str, base: str) -> float | None:
    """The median over saturation rounds of ``name``'s throughput over ``base``'s in the same round
    (the rounds take the servers in turn, so each pair was measured minutes apart)."""
    ours = servers.get(name, {}).get("saturation_rounds")
    theirs = servers.get(base, {}).get("saturation_rounds")
    if not ours or not theirs:
        return None
    pairs = sorted(a / b for a, b in zip(ours, theirs, strict=False) if b)
    return pairs[len(pairs) // 2] if pairs else None


def _cpu_text(at_rate: dict[str, Any]) -> str:
    text = f"{at_rate['server_cpu_ms_per_request']:.2f}"
    if at_rate.get("database_cpu_ms_per_request") is not None:
        text += f" +db {at_rate['database_cpu_ms_per_request']:.2f}"
    return text


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
            "handled/s",
            "caught up",
        )
    ]
    servers = result["servers"]
    for name, data in servers.items():
        if "error" in data:
            rows.append((name, "failed: " + data["error"][:80], *[""] * 13))
            continue
        sat, at_rate = data["saturation"], data["at_rate"]
        ack, e2e = at_rate["ack_ms"], at_rate.get("e2e_ms") or {}
        replies = at_rate.get("replies") or {}
        rss = data.get("rss_peak_mb")
        rss_text = "+".join(f"{v:g}" for v in rss.values() if v) if isinstance(rss, dict) else f"{rss or ''}"
        handling = sat.get("handling") or {}
        rows.append(
            (
                name,
                f"{sat['throughput_rps']:.0f}",
                f"{ratio(servers, name, 'floor'):.0%}" if ratio(servers, name, "floor") is not None else "",
                _ms(ack["p50"]),
                _ms(ack["p95"]),
                _ms(ack["p99"]),
                _ms(ack["max"]),
                _ms(e2e.get("p50")),
                _ms(e2e.get("p99")),
                f"{replies.get('received', 0)}/{replies.get('expected', 0)}" if name != "floor" else "-",
                f"{at_rate['errors']}+{sat['errors']}",
                _cpu_text(at_rate),
                rss_text,
                f"{handling['handled_rps']:.0f}" if handling.get("handled_rps") else "-",
                f"{handling['cleared_after_s']:.1f} s" if handling.get("cleared_after_s") is not None else "-",
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
        f"{opts.concurrency} concurrent, {opts.saturation:g} s, median of {opts.rounds} rounds taking the servers "
        f"in turn (vs floor: median of the rounds' ratios); LINE latency {opts.latency * 1000:g} ms",
        "saturation rounds (req/s): "
        + "; ".join(
            f"{name} " + " ".join(f"{value:.0f}" for value in data.get("saturation_rounds", []))
            for name, data in servers.items()
            if "error" not in data
        ),
        "errors = unexpected statuses at rate + at saturation; cpu = server CPU per request at rate "
        "(+db: the PostgreSQL server's own)",
        "handled/s = Kasane's worker over the saturation burst and its catching up; caught up = seconds after "
        "the burst until every acknowledged event was handled",
    ]
    autogroup = result.get("machine", {}).get("sched_autogroup")
    if autogroup is not None:
        notes.append(f"kernel autogroup scheduling: {'on' if autogroup else 'off'} (see README)")
    mem = result.get("memory")
    if mem:
        load = mem["load"]
        handled = load.get("handling") or {}
        notes.append(
            f"memory: {load['requests']:,} events ({mem['mode']}, acknowledged at {load['throughput_rps']:.0f} req/s, "
            f"handled at {handled.get('handled_rps') or '-'}/s): ack p50 {_ms(load['ack_ms']['p50'])} p99 "
            f"{_ms(load['ack_ms']['p99'])} ms, errors {load['errors']}, outbox after: {mem.get('outbox')}"
        )
        for process, rss in mem["rss_mb"].items():
            if rss:
                notes.append(
                    f"  {process}: before load {rss['before_load']} MB, peak {rss['peak']} MB, end {rss['end']} MB, "
                    f"second-half slope {rss['second_half_slope_mb_per_min']} MB/min"
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
