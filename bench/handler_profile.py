"""CPU time and SQL statements Kasane spends handling one webhook event, by event kind.

    .venv/bin/python -m bench.handler_profile                      # 2000 events on a temporary SQLite file
    .venv/bin/python -m bench.handler_profile --profile            # and a pyinstrument report of the handling
    .venv/bin/python -m bench.handler_profile --database-url postgresql://postgres@127.0.0.1:5432/kasane_bench --reset

The app is built in process (``create_app``) against the fake LINE platform; the networks are set
up as the load benchmark sets them up, then N events of the load's mix (``handler_profile_events``)
are recorded as the webhook records them (not measured) and handled by the worker's inbox, one
at a time: no HTTP, no signature check, and no sender (nothing is delivered: the outbox only
fills up). CPU is this thread's time (``time.thread_time``),
so the database server's own work on PostgreSQL is not in it. A PostgreSQL database must be one of
its own: ``--reset`` empties its tables first.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine.interfaces import CacheStats

from bench.handler_profile_events import EventMix, Step
from bench.loadgen.scenario import make_networks, next_meeting_day
from bot.app import create_app
from bot.clock import Clock
from bot.config import load_config
from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder
from bot.runtime import Runtime, build_runtime
from bot.store.db import is_sqlite, make_engine
from bot.store.migrate import upgrade
from models import Network, Thread, WebhookEvent

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 24, 10, 0, tzinfo=JST)  # a Tuesday morning, the day before the meeting
STEP = timedelta(seconds=2)  # between events: a pending 伝手 answer (10 minutes) stays fresh
SECRET = "handler-profile-channel-secret"
TOKEN = "handler-profile-access-token"


def record_one(runtime: Runtime, raw: dict[str, Any]) -> None:
    """What ``/callback`` does with the event (sealed into the inbox); not measured."""
    body = json.dumps({"destination": "U" + "0" * 32, "events": [raw]}).encode()
    runtime.door.accept(runtime.door.rows(body))


def handle_one(runtime: Runtime, raw: dict[str, Any]) -> str:
    """The worker's handling of the event just recorded: the part measured. Its outcome as recorded."""
    runtime.inbox.run_once()
    with runtime.sessions() as session:
        outcome = session.scalar(
            select(WebhookEvent.outcome).where(WebhookEvent.event_key == raw.get("webhookEventId"))
        )
    return outcome or "duplicate"


# --- what each event costs ---------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    cpu_ms: float
    outcome: str
    sql: list[str] = field(default_factory=list)  # the statements, in order
    compiled: list[str] = field(default_factory=list)  # compiled afresh, not taken from SQLAlchemy's cache

    @property
    def statements(self) -> int:
        return len(self.sql)


@dataclass
class StatementRecorder:
    """Records the SQL statements of the event being handled (a ``before_cursor_execute`` listener)."""

    sample: Sample | None = None

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.sample is None:
            return
        # Kept as given (tidied for the report later): this runs inside the measured CPU time.
        self.sample.sql.append(statement)
        # A statement compiled afresh (a cache miss, or one SQLAlchemy cannot cache) costs far
        # more CPU than a cached one: steady-state handling should compile nothing.
        if context is not None and context.compiled is not None and context.cache_hit is not CacheStats.CACHE_HIT:
            self.sample.compiled.append(statement)

    @contextmanager
    def recording(self, sample: Sample) -> Iterator[Sample]:
        self.sample = sample
        try:
            yield sample
        finally:
            self.sample = None


# --- the app and its world ------------------------------------------------------------------------
@dataclass
class Bench:
    runtime: Runtime
    engine: Engine
    clock: Clock
    mix: EventMix
    recorder: StatementRecorder


@contextmanager
def built_app(database_url: str | None, reset: bool, networks: int, members: int, seed: int) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="kasane-handler-profile-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'kasane.db'}"
        prepare_database(url, reset)
        clock = Clock(fixed=START)
        platform = FakeLinePlatform(TOKEN, clock=clock.now)
        with FakeLineServer(platform) as server:
            engine = make_engine(url)
            app = create_app(build_runtime(app_config(url, server.url), clock=clock, engine=engine))
            runtime: Runtime = app.extensions["kasane"]
            recorder = StatementRecorder()
            recorder.attach(engine)
            line = WebhookBuilder(platform)
            mix = EventMix(
                line, make_networks(networks, members, random.Random(seed)), next_meeting_day(START), seed=seed
            )
            try:
                yield Bench(runtime, engine, clock, mix, recorder)
            finally:
                runtime.close()
                engine.dispose()


def app_config(database_url: str, line_url: str) -> Any:
    return load_config(
        environ={},
        overrides={
            "line": {"channel_secret": SECRET, "channel_access_token": TOKEN, "api_base_url": line_url},
            "database": {"url": database_url},
            "server": {"secret_key": "handler-profile-not-secret"},
            "scheduler": {"enabled": False},
        },
    )


def prepare_database(url: str, reset: bool) -> None:
    upgrade(url)
    if is_sqlite(url):
        return
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.scalar(select(func.count()).select_from(Network)) and not reset:
                sys.exit(f"{url} already holds networks: use a database of its own, or --reset to empty it")
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename <> 'alembic_version'"
                )
            ).scalars()
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


# --- feeding events -------------------------------------------------------------------------------------
def run_step(bench: Bench, step: Step, profiler: Any = None) -> Sample:
    bench.clock.advance(STEP)
    record_one(bench.runtime, step.event)
    with bench.recorder.recording(Sample(step.kind, 0.0, "")) as sample:
        if profiler is not None:
            profiler.start()
        started = time.thread_time()
        sample.outcome = handle_one(bench.runtime, step.event)
        sample.cpu_ms = (time.thread_time() - started) * 1000
        if profiler is not None:
            profiler.stop()
    if step.post_message_id:
        learn_number(bench, step)
    return sample


def learn_number(bench: Bench, step: Step) -> None:
    """A post's thread number, as the load benchmark reads it from the bot's card."""
    with bench.runtime.sessions() as session:
        number = session.scalar(select(Thread.number).where(Thread.message_id == step.post_message_id))
    if number is not None and step.post_message_id:
        bench.mix.learned(step.network, number, step.post_message_id)


def set_up(bench: Bench, seed_threads: int) -> None:
    for network in bench.mix.networks:
        for build in bench.mix.setup(network, seed_threads):
            sample = run_step(bench, build())
            if sample.outcome != "handled":
                sys.exit(f"setup step {sample.kind} was {sample.outcome}")


def feed(bench: Bench, count: int, warmup: int, profiler: Any) -> list[Sample]:
    for _ in range(warmup):  # first calls compile statements and fill caches: not what a burst costs
        run_step(bench, bench.mix.next())
    return [run_step(bench, bench.mix.next(), profiler) for _ in range(count)]


# --- the report -----------------------------------------------------------------------------------------
def summary(samples: list[Sample]) -> dict[str, Any]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    verbs = Counter(statement.split(None, 1)[0].upper() for s in samples for statement in s.sql)
    return {
        "events": len(samples),
        "cpu_ms_mean": statistics.fmean(s.cpu_ms for s in samples),
        "statements_mean": statistics.fmean(s.statements for s in samples),
        "statements_by_verb": {verb: n / len(samples) for verb, n in verbs.most_common()},
        "compiled_per_event": statistics.fmean(len(s.compiled) for s in samples),
        "kinds": {kind: kind_figures(group) for kind, group in sorted(by_kind.items())},
    }


def kind_figures(samples: list[Sample]) -> dict[str, Any]:
    cpu = sorted(s.cpu_ms for s in samples)
    return {
        "n": len(samples),
        "cpu_ms_mean": statistics.fmean(cpu),
        "cpu_ms_p50": cpu[len(cpu) // 2],
        "cpu_ms_p95": cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))],
        "statements_mean": statistics.fmean(s.statements for s in samples),
        "outcomes": dict(Counter(s.outcome for s in samples)),
    }


def print_report(figures: dict[str, Any], database: str) -> None:
    print(f"database: {database}   events: {figures['events']}")
    print(f"mean CPU per event: {figures['cpu_ms_mean']:.2f} ms   statements: {figures['statements_mean']:.2f}")
    verbs = ", ".join(f"{verb} {n:.2f}" for verb, n in figures["statements_by_verb"].items())
    print(f"statements per event: {verbs}   compiled afresh: {figures['compiled_per_event']:.3f}")
    print(f"\n{'kind':<18}{'n':>6}{'cpu mean':>10}{'p50':>8}{'p95':>8}{'stmts':>8}")
    for kind, row in figures["kinds"].items():
        print(
            f"{kind:<18}{row['n']:>6}{row['cpu_ms_mean']:>10.2f}{row['cpu_ms_p50']:>8.2f}"
            f"{row['cpu_ms_p95']:>8.2f}{row['statements_mean']:>8.2f}"
        )


def print_statements(samples: list[Sample], top: int, kinds: list[str]) -> None:
    if top:
        print(f"\nmost frequent statements over {len(samples)} events:")
        for statement, n in Counter(_flat(q)[:150] for s in samples for q in s.sql).most_common(top):
            print(f"{n:>7}  {statement}")
        compiled = Counter(f"{s.kind}: {_flat(q)[:130]}" for s in samples for q in s.compiled)
        print("\ncompiled afresh (cache misses):" if compiled else "\nno statement was compiled afresh")
        for statement, n in compiled.most_common(top):
            print(f"{n:>7}  {statement}")
    for kind in kinds:
        first = next((s for s in samples if s.kind == kind), None)
        print(f"\nstatements of the first {kind!r} event:" if first else f"\nno {kind!r} event was measured")
        for statement in first.sql if first else []:
            print(f"    {_flat(statement)[:150]}")


def _flat(statement: str) -> str:
    return " ".join(statement.split())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events measured (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="events handled first, not measured")
    parser.add_argument("--networks", type=int, default=12)
    parser.add_argument("--members", type=int, default=6, help="members per network")
    parser.add_argument("--seed-threads", type=int, default=6, help="困りごと posted per network in the setup")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--reset", action="store_true", help="empty the PostgreSQL database's tables first")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument report of the handling")
    parser.add_argument("--profile-html", type=Path, help="also write the pyinstrument report as HTML")
    parser.add_argument("--top-sql", type=int, default=0, help="list the N most frequent statements")
    parser.add_argument("--show", action="append", default=[], metavar="KIND", help="list one KIND event's statements")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    profiler = None
    if args.profile or args.profile_html:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    with built_app(args.database_url, args.reset, args.networks, args.members, args.seed) as bench:
        set_up(bench, args.seed_threads)
        samples = feed(bench, args.events, args.warmup, profiler)
        database = bench.engine.dialect.name
    figures = summary(samples)
    print_report(figures, database)
    print_statements(samples, args.top_sql, args.show)
    if args.json:
        args.json.write_text(json.dumps({"database": database, **figures}, indent=2, ensure_ascii=False))
    if profiler is not None:
        if args.profile:
            print("\n(pyinstrument adds its own overhead: read the CPU figures above from a run without --profile)")
            print(profiler.output_text(unicode=True, color=False))
        if args.profile_html:
            args.profile_html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
