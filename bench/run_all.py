"""Webhook load benchmark: Kasane against the floor and against the usual LINE-bot pattern.

    python -m bench.run_all              # the full run (about 25 minutes on 2 cores, most of it the memory run)
    python -m bench.run_all --quick      # every phase, a few seconds each (about 3 minutes)

Every server runs under waitress in processes of its own (bench/servers.py), as does the fake
LINE platform (100 ms of added latency); the load generator (bench/loadgen) is another process.
Prints a table and writes the whole result as JSON (default: bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/run_all.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadgen.procs import REPO  # noqa: E402
from bench.measure import Options  # noqa: E402
from bench.report import _load_average, kasane_source, machine, table, targets  # noqa: E402
from bench.servers import Bench, psql  # noqa: E402

RESULTS = REPO / "bench" / "results" / "latest.json"


# --- main ---------------------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> tuple[Options, Path, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="a few seconds per phase and 3,000 events for memory")
    add("--duration", type=float, help="seconds of open loop at --rate (default 15)")
    add("--saturation", type=float, help="seconds of closed loop (default 10)")
    add("--rate", type=float, help="offered events/s for the latency figures (default 100)")
    add("--concurrency", type=int, help="closed-loop senders (default 16)")
    add("--rounds", type=int, help="saturation rounds per server, taken in turn (default 3; --quick: 1)")
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
        opts.rounds = 1
    for name in (
        "duration",
        "saturation",
        "rate",
        "concurrency",
        "rounds",
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
        starts: list[tuple[str, Any]] = [
            ("floor", bench.floor),
            ("sdk_pattern", bench.sdk_pattern),
            ("kasane_sqlite", bench.kasane_sqlite),
        ]
        with_postgres = not opts.skip_postgres and "kasane_postgres" in wanted
        if with_postgres:
            starts.append(("kasane_postgres", lambda: bench.kasane_postgres(_create(opts, database))))
        running = []
        for name, start_server in starts:
            if name not in wanted:
                continue
            print(f"[bench] starting {name} ...", file=sys.stderr, flush=True)
            try:
                running.append(start_server())
            except Exception as exc:  # one server failing must not lose the others' figures
                result["servers"][name] = {"error": f"{exc.__class__.__name__}: {exc}"}
                print(f"[bench] {name} failed: {exc}", file=sys.stderr, flush=True)
        try:
            names = ", ".join(server.target.name for server in running)
            print(f"[bench] measuring {names}: {opts.rounds} saturation rounds ...", file=sys.stderr, flush=True)
            result["servers"].update(bench.measure(running))
        finally:
            if with_postgres:
                _drop(opts, database)
        if not opts.skip_memory and "kasane_sqlite" in wanted:
            print(f"[bench] memory: {opts.memory_events} events ...", file=sys.stderr, flush=True)
            try:
                result["memory"] = bench.memory_run()
            except Exception as exc:
                result["memory_error"] = f"{exc.__class__.__name__}: {exc}"
                print(f"[bench] memory run failed: {exc}", file=sys.stderr, flush=True)
    # In the order of the table, whatever order they were measured in.
    order = ["floor", "sdk_pattern", "kasane_sqlite", "kasane_postgres"]
    result["servers"] = {name: result["servers"][name] for name in order if name in result["servers"]}
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


def _create(opts: Options, database: str) -> str:
    psql(opts.postgres, f"CREATE DATABASE {database}")
    return database


def _drop(opts: Options, database: str) -> None:
    try:
        psql(opts.postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    except (subprocess.SubprocessError, OSError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
