"""What one server is put through: setup, the open loop at a fixed rate, saturation, the memory run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen.procs import cpu_seconds
from bench.loadgen.runner import LoadGenerator, Phase
from bench.loadgen.runner import cpu_seconds as own_cpu_seconds
from bench.loadgen.stats import Sample, distribution_ms

SECRET = "bench-channel-secret"
TOKEN = "bench-channel-access-token"

# How many events wait in Kasane's inbox (recorded, not yet handled); None when unknown.
Backlog = Callable[[], int | None]


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
    rounds: int = 3  # saturation rounds per server, taken in turn
    backlog_timeout: float = 300.0  # after saturation: how long the worker may take to catch up
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


@dataclass
class Target:
    """A server under test: where LINE posts, its processes, and what it does with events."""

    name: str
    urls: list[str]
    pids: dict[str, int]
    replies: bool  # it answers through LINE: wait for its replies
    numbers: bool  # its reply to a 困りごと names the thread's number (Kasane)
    backlog: Backlog | None = None  # Kasane's inbox: how far handling lags behind acknowledging
    database_cpu: Callable[[], float] | None = None  # CPU seconds of its database server (PostgreSQL)


async def measure_all(targets: list[Target], platform_url: str, opts: Options, platform_pid: int) -> dict[str, Any]:
    """Each server's setup and open loop at ``opts.rate``; then ``opts.rounds`` rounds of saturation
    that take the servers in turn, so that a ratio compares figures taken minutes, not a quarter of
    an hour, apart: this machine's speed drifts more than the differences measured."""
    results: dict[str, dict[str, Any]] = {}
    async with AsyncExitStack() as stack:
        loads = {}
        for target in targets:
            load = LoadGenerator(
                target.urls,
                platform_url,
                SECRET,
                networks=opts.networks,
                members=opts.members,
                seed_threads=opts.seed_threads,
                seed=opts.seed,
            )
            loads[target.name] = await stack.enter_async_context(load)
        for target in targets:
            load = loads[target.name]
            await load.set_latency(0.0)  # the setup's own replies need not wait
            setup = await load.setup(expect_replies=target.numbers)
            await load.set_latency(opts.latency)
            load.start_background()
            at_rate = await rate_phase(load, target, opts, platform_pid)
            await load.stop_background()
            results[target.name] = {"setup": setup, "at_rate": at_rate}
        rounds: dict[str, list[dict[str, Any]]] = {target.name: [] for target in targets}
        for _ in range(opts.rounds):
            for target in targets:
                load = loads[target.name]
                load.start_background()
                rounds[target.name].append(await saturation_phase(load, target, opts))
                await load.stop_background()
        for target in targets:
            ordered = sorted(rounds[target.name], key=lambda r: r["throughput_rps"])
            results[target.name]["saturation"] = ordered[len(ordered) // 2]  # the median round
            results[target.name]["saturation_rounds"] = [r["throughput_rps"] for r in rounds[target.name]]
            results[target.name]["line_calls"] = dict(loads[target.name].replies.counts)
    return results


async def rate_phase(load: LoadGenerator, target: Target, opts: Options, platform_pid: int) -> dict[str, Any]:
    """The open loop at ``opts.rate``, with end-to-end reply times."""
    line = {"fake_line": platform_pid}
    cpu, line_cpu = _cpu(target), _cpu(line)
    phase = await load.open_loop(opts.rate, opts.duration)
    at_rate = load.result(phase, with_replies=False)
    at_rate.update(_cpu_figures(cpu, _cpu(target), len(phase.samples)))
    if target.replies:
        at_rate["drain"] = await load.drain(phase, opts.drain)
        at_rate.update({k: v for k, v in load.result(phase).items() if k in ("e2e_ms", "replies")})
    # The fake LINE platform's CPU (SDK validation of every call) is the benchmark's, not the bot's.
    at_rate["fake_line_cpu_ms_per_request"] = _cpu_per_request(line_cpu, _cpu(line), len(phase.samples))
    if target.backlog is not None:
        await caught_up(target.backlog, opts.backlog_timeout)  # the next phase starts from an empty inbox
    return at_rate


async def saturation_phase(load: LoadGenerator, target: Target, opts: Options) -> dict[str, Any]:
    """``opts.concurrency`` POSTs at a time for ``opts.saturation`` s; then Kasane's catching up."""
    cpu, own = _cpu(target), own_cpu_seconds()
    phase = await load.closed_loop(opts.concurrency, opts.saturation, opts.warmup)
    saturation = load.result(phase, with_replies=False)
    saturation["concurrency"] = opts.concurrency
    saturation.update(_cpu_figures(cpu, _cpu(target), len(phase.samples)))
    saturation["loadgen_cpu_ms_per_request"] = round((own_cpu_seconds() - own) * 1000 / max(1, len(phase.samples)), 3)
    if target.backlog is not None:
        saturation["handling"] = await handling(target.backlog, phase, opts.backlog_timeout)
    return saturation


def _cpu_figures(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, Any]:
    """Kasane's own processes; its PostgreSQL server's CPU apart (``DATABASE``), not in the total."""
    own = {name: value for name, value in before.items() if name != DATABASE}
    figures: dict[str, Any] = {
        "server_cpu_ms_per_request": _cpu_per_request(own, after, requests),
        "cpu_ms_per_request_by_process": {name: _cpu_per_request({name: own[name]}, after, requests) for name in own},
    }
    if DATABASE in before:
        figures["database_cpu_ms_per_request"] = _cpu_per_request({DATABASE: before[DATABASE]}, after, requests)
    return figures


async def caught_up(backlog: Backlog, timeout: float) -> float | None:
    """Seconds until the inbox is empty (None: not within ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if backlog() == 0:
            return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.1)
    return None


async def handling(backlog: Backlog, phase: Phase, timeout: float) -> dict[str, Any]:
    """Acknowledged is not handled: how far the worker was behind when the burst ended, how long
    it took to catch up, and so the rate at which events were handled over the whole burst."""
    waiting = backlog()
    cleared = await caught_up(backlog, timeout)
    recorded = sum(1 for s in phase.samples if s.status == 200 and s.kind not in ("redelivery", "bad_signature"))
    total = phase.elapsed + (cleared or 0.0)
    return {
        "waiting_at_end": waiting,
        "cleared_after_s": cleared,
        "events": recorded,
        "handled_rps": round(recorded / total, 1) if cleared is not None and total > 0 else None,
    }


async def memory(urls: list[str], platform_url: str, opts: Options, backlog: Backlog | None) -> dict[str, Any]:
    """``opts.memory_events`` events at the pace the server sustains (closed loop), or at a fixed
    rate; then, for Kasane, until its worker has handled them all (its memory counts too)."""
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
        acknowledged = time.monotonic()
        result = load.result(phase, with_replies=False)
        result["by_tenth"] = by_tenth(phase.samples)
        if backlog is not None:
            result["handling"] = await handling(backlog, phase, opts.backlog_timeout * 10)
        ended = time.monotonic()
        result["drain"] = await load.drain(phase, 5.0)
        result.update({k: v for k, v in load.result(phase).items() if k in ("e2e_ms", "replies")})
        result["line_calls"] = dict(load.replies.counts)
    mode = (
        f"open loop at {opts.memory_rate:g}/s"
        if opts.memory_rate
        else f"closed loop, {opts.memory_concurrency} concurrent"
    )
    result["acknowledged_after_s"] = round(acknowledged - started, 1)
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


DATABASE = "postgresql_server"


def _cpu(target: Target | dict[str, int]) -> dict[str, float]:
    pids = target if isinstance(target, dict) else target.pids
    cpu = {name: cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
    if isinstance(target, Target) and target.database_cpu is not None:
        cpu[DATABASE] = target.database_cpu()
    return cpu


def _cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> float:
    spent = sum(after[name] - before[name] for name in before)
    return round(spent * 1000 / max(1, requests), 3)
