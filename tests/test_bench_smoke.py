"""The webhook benchmark, in miniature: the same code path as ``python -m bench.run_all``.

Real processes (fake LINE platform, the floor app, ``kasane serve`` on SQLite), real signed
POSTs, a couple of seconds each at a low rate. It checks that the benchmark works and that
nothing answers wrongly; it asserts no timing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import Options  # noqa: E402
from bench.report import table, targets  # noqa: E402
from bench.servers import Bench  # noqa: E402

ACK_FIELDS = {"n", "p50", "p95", "p99", "max", "mean"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    opts = Options(
        duration=1.5,
        saturation=1.0,
        warmup=0.2,
        rate=20.0,
        concurrency=4,
        latency=0.01,
        networks=2,
        members=3,
        seed_threads=2,
        drain=8.0,
        rounds=2,
    )
    with Bench(opts, tmp_path_factory.mktemp("bench")) as running:
        yield running


def check_phases(result: dict) -> None:  # type: ignore[type-arg]
    for phase in ("at_rate", "saturation"):
        figures = result[phase]
        assert figures["requests"] > 0
        assert figures["throughput_rps"] > 0
        assert set(figures["ack_ms"]) == ACK_FIELDS
        assert figures["errors"] == 0, figures["error_kinds"]
    assert result["setup"]["failures"] == {}
    # Bad signatures were sent and refused (they count as errors otherwise).
    assert (
        result["at_rate"]["by_kind"].get("bad_signature", 0) + result["saturation"]["by_kind"].get("bad_signature", 0)
        > 0
    )


def test_kasane_on_sqlite_and_the_floor(bench: Bench) -> None:
    measured = bench.measure([bench.kasane_sqlite(), bench.floor()])
    kasane, floor = measured["kasane_sqlite"], measured["floor"]
    check_phases(kasane)
    assert kasane["setup"]["settled"], "Kasane's answers to the setup never reached the fake LINE platform"
    replies = kasane["at_rate"]["replies"]
    assert replies["received"] > 0, replies
    assert kasane["at_rate"]["e2e_ms"]["p50"] is not None
    assert kasane["line_calls"].get("reply 200", 0) > 0
    assert kasane["saturation"]["handling"]["cleared_after_s"] is not None, "the worker never caught up"
    assert set(kasane["rss_peak_mb"]) == {"kasane_sqlite_web", "kasane_sqlite_worker", "kasane_sqlite_sender"}
    # Each figure is of a process that did the work (not of one that had exited).
    assert all(cpu > 0 for cpu in kasane["at_rate"]["cpu_ms_per_request_by_process"].values()), kasane["at_rate"]
    check_phases(floor)

    result = {"servers": {"floor": floor, "kasane_sqlite": kasane}, "targets": []}
    printed = table(result, bench.opts)
    for column in ("sat req/s", "ack p50", "p99", "e2e p99", "errors", "peak RSS MB", "handled/s", "caught up"):
        assert column in printed
    assert "kasane_sqlite" in printed and "floor" in printed


def test_memory_targets_count_each_process_and_the_three_together() -> None:
    def figures(peak: float, growth: float) -> dict:  # type: ignore[type-arg]
        return {"peak": peak, "second_half_growth_mb": growth}

    memory = {
        "load": {"requests": 100_000},
        "rss_mb": {
            "web": figures(158.0, 0.0),
            "worker": figures(151.2, 3.1),
            "sender": figures(142.7, 0.2),
            "pss_total": figures(237.9, 3.3),
        },
    }
    checks = {c["target"]: c["met"] for c in targets({"servers": {}, "memory": memory}, Options())}
    assert checks["kasane serve (web) peak RSS, 100,000 events"] is True
    assert checks["kasane serve (worker) RSS growth, second half"] is True
    # Three processes each under 200 MB are still one `kasane serve` that costs 238 MB.
    assert checks["kasane serve, all three processes (PSS), 100,000 events"] is False


def test_kasane_on_postgresql_is_measured_with_its_sender(bench: Bench) -> None:
    """``kasane worker`` forks a short-lived schema check before its sender: the benchmark must
    measure the sender, the worker's long-lived child."""
    from conftest import require_postgres

    from bench.servers import psql

    url = require_postgres()
    base, _, _ = url.rpartition("/")
    database = f"kasane_bench_smoke_{os.getpid()}"
    bench.opts.postgres = base
    psql(base, f"DROP DATABASE IF EXISTS {database}")
    psql(base, f"CREATE DATABASE {database}")
    running = bench.kasane_postgres(database)
    try:
        pids = running.target.pids
        time.sleep(1.0)  # the schema check has long exited by now; the sender has not
        for name, pid in pids.items():
            assert Path(f"/proc/{pid}").exists(), f"{name} ({pid}) is not running"
        sender_parent = Path(f"/proc/{pids['kasane_postgres_sender']}/stat").read_text().rsplit(")", 1)[1].split()[1]
        assert int(sender_parent) == pids["kasane_postgres_worker"]
    finally:
        for proc in running.procs:
            proc.stop()
        psql(base, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
