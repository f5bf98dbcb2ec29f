"""Soak: Kasane on PostgreSQL with two web processes and a worker, fed at a steady rate for a long time.

    .venv/bin/python bench/soak.py --minutes 30 --rate 10 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

It creates a fresh database (``kasane_soak_<pid>``) next to the one named, migrates it, starts
``kasane serve --no-worker`` twice and ``kasane worker`` once (real processes,
``python -m bot``), and a fake LINE platform in this process. Groups of four members post
困りごと, answer with 伝手 and offers, press buttons and record outcomes, each group in order,
spread over both web processes (LINE's load balancer would do the same). Every ``--every``
seconds it prints: requests and errors (non-200 or no answer; the target is 0), webhook latency,
the outbox (pending, oldest pending, send lag of what was sent: ``sent_at - created_at``) and
each process's memory (RSS). At the end it waits for the outbox to drain and checks that every
answer reached LINE exactly once. Not part of the test suite (see ``--minutes``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from faults import (  # noqa: E402
    KasaneProcess,
    check_outbox_delivered,
    free_port,
    post_webhook,
    signed,
    write_config,
)
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id  # noqa: E402
from bot.store.db import make_engine  # noqa: E402

SECRET = "soak-channel-secret"
TOKEN = "soak-channel-access-token"


# --- the database ------------------------------------------------------------------------------------


def fresh_database(url: str, name: str) -> str:
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


# --- the load ---------------------------------------------------------------------------------------------


@dataclass
class Group:
    id: str
    users: list[str]
    step: int = 0
    number: int = 0  # the last thread number this group posted

    def next_action(self, rng: random.Random) -> tuple[str, str, str]:
        """(kind, user, body): register first, then a never-ending cycle of casework."""
        self.step += 1
        if self.step == 1:
            return "join", "", ""
        if self.step <= 5:
            n = self.step - 2
            kinds = ["インフォーマル", "フォーマル", "インフォーマル", "フォーマル"]
            return "text", self.users[n], f"団体登録 団体{self.id[-6:]}-{n} {kinds[n]}"
        cycle = (self.step - 6) % 6
        if cycle == 0:
            self.number += 1
            topic = rng.choice(["配食サービス", "通院の付き添い", "学用品", "見守り", "買い物", "居場所"])
            return "text", self.users[0], f"困りごと {topic}を探している方がいます（{self.number}件目）"
        if cycle == 1:
            return "text", self.users[1], f"#{self.number} 伝手 社協の窓口が使えるかもしれません"
        if cycle == 2:
            return "text", self.users[3], f"#{self.number} 手伝えます 土曜なら付き添えます"
        if cycle == 3:
            return "postback", self.users[2], f"a=t.watch&n={self.number}"
        if cycle == 4:
            return "text", self.users[rng.randrange(4)], rng.choice(["一覧", f"#{self.number}", "ヘルプ"])
        outcome = rng.choice(["解決", "緩和", "つなぎ 社協", "終了 その他", "取り下げ"])
        return "text", self.users[0], f"#{self.number} {outcome}"


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    posts: int = 0

    def record(self, status: int | None, seconds: float) -> None:
        with self.lock:
            self.statuses[str(status) if status is not None else "no answer"] += 1
            self.latencies.append(seconds)
            if status == 200:
                self.sent += 1

    def take_latencies(self) -> list[float]:
        with self.lock:
            taken, self.latencies = self.latencies, []
        return taken

    @property
    def errors(self) -> int:
        with self.lock:
            return sum(n for status, n in self.statuses.items() if status != "200")


def client(line: WebhookBuilder, groups: list[Group], work: queue.Queue, urls: list[str], stats: Stats) -> None:
    rng = random.Random()
    while True:
        item = work.get()
        if item is None:
            return
        group = groups[item]
        kind, user, body = group.next_action(rng)
        if kind == "join":
            event = line.join(group.id)
        elif kind == "postback":
            event = line.postback(group.id, user, body)
        else:
            event = line.text(group.id, user, body)
        url = rng.choice(urls)
        started = time.monotonic()
        status = post_webhook(url, *signed(line, SECRET, event), timeout=10)
        if status != 200:  # as LINE: redeliver once, to the other web process
            other = urls[(urls.index(url) + 1) % len(urls)]
            status = post_webhook(other, *signed(line, SECRET, line.redelivery(event)))
        stats.record(status, time.monotonic() - started)


# --- measuring -------------------------------------------------------------------------------------------


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


NOW = "(now() AT TIME ZONE 'utc')"  # the outbox stores naive UTC
LAG = "extract(epoch FROM sent_at - created_at)"


def outbox_now(engine) -> dict[str, float]:
    with engine.connect() as c:
        row = c.execute(
            text(
                "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed'),"
                f" coalesce(extract(epoch FROM {NOW} - min(created_at) FILTER (WHERE status = 'pending')), 0)"
                " FROM outbox"
            )
        ).one()
        lag = c.execute(
            text(
                f"SELECT coalesce(avg({LAG}), 0), coalesce(max({LAG}), 0),"
                f" coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY {LAG}), 0)"
                f" FROM outbox WHERE status = 'sent' AND sent_at > {NOW} - make_interval(secs => :s)"
            ),
            {"s": 60},
        ).one()
    return {
        "pending": row[0],
        "failed": row[1],
        "oldest_pending_s": float(row[2]),
        "lag_avg_s": float(lag[0]),
        "lag_max_s": float(lag[1]),
        "lag_p99_s": float(lag[2]),
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the run -----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or f"/tmp/kasane-soak-{os.getpid()}")
    workdir.mkdir(parents=True, exist_ok=True)
    database = fresh_database(args.database_url, f"kasane_soak_{os.getpid()}")
    platform = FakeLinePlatform(TOKEN)
    platform.set_latency(args.line_latency)
    line = WebhookBuilder(platform)
    groups = []
    for _ in range(args.groups):
        group = Group(new_group_id(), [new_user_id() for _ in range(4)])
        platform.add_group(group.id, "ソークネット")
        for n, user in enumerate(group.users):
            platform.add_member(group.id, user, f"メンバー{n}")
        groups.append(group)
    processes: list[KasaneProcess] = []
    results: dict = {"samples": []}
    stats = Stats()
    with FakeLineServer(platform) as line_server:
        ports = [free_port(), free_port()]
        config = write_config(
            workdir / "kasane.toml",
            database_url=database,
            line_url=line_server.url,
            port=ports[0],
            secret=SECRET,
            token=TOKEN,
            scheduler=True,
            poll_interval=0.5,
            lease_seconds=30.0,
            threads=8,
        )
        import subprocess

        subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "db", "upgrade"],
            cwd=REPO,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("KASANE_")},
            capture_output=True,
        )
        web = [
            KasaneProcess(
                config,
                args=["--no-worker", "--port", str(p)],
                port=p,
                log_dir=workdir,
                name=f"web{n + 1}",
            )
            for n, p in enumerate(ports)
        ]
        worker = KasaneProcess(config, command="worker", log_dir=workdir, name="worker")
        processes = [*web, worker]
        engine = make_engine(database)
        try:
            for process in processes:
                process.start(fork=False)
            for process in web:
                process.wait_healthy(120)
            deadline = time.monotonic() + 120
            while "sending the outbox" not in worker.logs():
                if time.monotonic() > deadline or not worker.alive:
                    raise RuntimeError(f"the worker did not start:\n{worker.log_tail()}")
                time.sleep(0.2)
            urls = [p.url for p in web]
            queues = [queue.Queue() for _ in range(args.clients)]
            threads = [
                threading.Thread(target=client, args=(line, groups, q, urls, stats), daemon=True) for q in queues
            ]
            for thread in threads:
                thread.start()
            print(f"soak: {args.minutes} min at {args.rate}/s, {args.groups} groups, 2 web + 1 worker, db {database}")
            header = (
                f"{'t':>6} {'sent':>7} {'err':>4} {'p50ms':>6} {'p99ms':>6} {'pend':>5} {'oldest':>7} "
                f"{'lag avg':>8} {'lag p99':>8} {'fail':>4} {'web1MB':>7} {'web2MB':>7} {'workMB':>7}"
            )
            print(header)
            started = time.monotonic()
            end = started + args.minutes * 60
            next_report = started + args.every
            i = 0
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                due = started + i / args.rate
                if due > now:
                    time.sleep(min(due - now, max(0.0, next_report - now)) or 0.001)
                else:
                    group = i % len(groups)
                    queues[group % len(queues)].put(group)
                    i += 1
                if time.monotonic() >= next_report:
                    sample = report(stats, engine, processes, started)
                    results["samples"].append(sample)
                    next_report += args.every
            for q in queues:
                q.put(None)
            for thread in threads:
                thread.join(60)
            drain_started = time.monotonic()
            while outbox_now(engine)["pending"] and time.monotonic() - drain_started < 120:
                time.sleep(0.5)
            results["drain_s"] = time.monotonic() - drain_started
            results["final"] = report(stats, engine, processes, started)
            delivered = check_outbox_delivered(engine, platform)
            with engine.connect() as c:
                results["events_recorded"] = c.execute(text("SELECT count(*) FROM webhook_events")).scalar()
                results["threads"] = c.execute(text("SELECT count(*) FROM threads")).scalar()
            results.update(
                events_posted=i,
                events_acknowledged=stats.sent,
                errors=stats.errors,
                statuses=dict(stats.statuses),
                deliveries=delivered.deliveries,
                lost=delivered.lost,
                duplicated=delivered.duplicated,
            )
        finally:
            for process in processes:
                results.setdefault("exit_codes", {})[process.name] = process.stop()
            engine.dispose()
            if not args.keep:
                drop_database(database)
    return results


def report(stats: Stats, engine, processes: list[KasaneProcess], started: float) -> dict:
    latencies = stats.take_latencies()
    box = outbox_now(engine)
    memory = [rss_mb(p.pid) for p in processes]
    sample = {
        "t": round(time.monotonic() - started),
        "acknowledged": stats.sent,
        "errors": stats.errors,
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        **{k: round(v, 2) for k, v in box.items()},
        "rss_mb": [round(m, 1) for m in memory],
    }
    print(
        f"{sample['t']:>6} {sample['acknowledged']:>7} {sample['errors']:>4} {sample['p50_ms']:>6} "
        f"{sample['p99_ms']:>6} {box['pending']:>5} {box['oldest_pending_s']:>6.1f}s {box['lag_avg_s']:>7.2f}s "
        f"{box['lag_p99_s']:>7.2f}s {box['failed']:>4} " + " ".join(f"{m:>7.1f}" for m in memory),
        flush=True,
    )
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0, help="webhook events per second")
    parser.add_argument("--groups", type=int, default=12)
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders (each keeps its groups in order)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    parser.add_argument("--line-latency", type=float, default=0.02, help="the fake LINE's answer time (s)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KASANE_SOAK_DATABASE_URL") or os.environ.get("KASANE_TEST_POSTGRES_URL"),
        help="any database on the PostgreSQL server to use; a fresh one is created beside it",
    )
    parser.add_argument("--workdir", help="configs and process logs (default /tmp/kasane-soak-<pid>)")
    parser.add_argument("--json", help="write the samples and the summary to this file")
    parser.add_argument("--keep", action="store_true", help="keep the soak database")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("--database-url postgresql://… is needed (or KASANE_SOAK_DATABASE_URL)")
    results = run(args)
    final = results["final"]
    rss = [s["rss_mb"] for s in results["samples"]] or [final["rss_mb"]]
    growth = [round(last - first, 1) for first, last in zip(rss[0], final["rss_mb"], strict=False)]
    print(
        f"\nsummary: {results['events_posted']} events posted, {results['events_acknowledged']} acknowledged, "
        f"{results['errors']} errors {results['statuses']}; outbox drained in {results['drain_s']:.1f}s; "
        f"{results['deliveries']} messages delivered, lost {results['lost']}, duplicated {results['duplicated']}; "
        f"{results['threads']} threads; memory growth first→last sample (MB) web1/web2/worker: {growth}; "
        f"exit codes {results['exit_codes']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    ok = results["errors"] == 0 and results["lost"] == 0 and results["duplicated"] == 0
    ok = ok and results["events_recorded"] == results["events_acknowledged"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
