"""How fast the dashboard answers on a large case log, on SQLite and on PostgreSQL.

    # once: create the data (about 200,000 threads and 1,000,000 events each)
    .venv/bin/python bench/generate_case_log.py --database sqlite:////tmp/kasane-bench/case_log.db
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE kasane_bench'
    .venv/bin/python bench/generate_case_log.py --database postgresql://postgres@127.0.0.1:5432/kasane_bench
    # then
    .venv/bin/python bench/dashboard_bench.py \\
        --sqlite /tmp/kasane-bench/case_log.db --postgres postgresql://postgres@127.0.0.1:5432/kasane_bench

Each page is requested through the real application (routing, access check, SQL, template)
with Flask's test client: one warm-up, then ``--repeat`` timed requests; the table shows the
median and the slowest. The PostgreSQL URL may also come from KASANE_BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

from sqlalchemy import select

from bot.app import create_app
from bot.config import load_config
from bot.runtime import build_runtime
from models import Member, Role, Thread

COORDINATOR = "Ubench-coordinator"
TARGET_MS = 300
PAGES = [
    ("困りごと一覧（条件なし）", "threads"),
    ("困りごと一覧（受付中・高齢）", "threads?state=open&category=高齢"),
    ("困りごと一覧（2026-10・新しい順）", "threads?month=2026-10"),
    ("困りごと一覧（ことばで検索）", "threads?q=通院"),
    ("困りごと一覧（完了日の新しい順）", "threads?sort=closed"),
    ("困りごと一覧（1000ページ目）", "threads?page=1000"),
    ("一件（経過つき）", "threads/{number}"),
    ("月報（2026-10）", "report?month=2026-10"),
    ("年度実績報告（2026年度、月別12か月つき）", "report?fy=2026"),
    ("月報のPDF（2026-10）", "report.pdf?month=2026-10"),
    ("重なりの図（12か月）", "map"),
    ("団体", "organizations"),
]
GATED = {"困りごと一覧（条件なし）", "月報（2026-10）"}  # the two pages the 300 ms goal is about


def signed_in_client(url: str) -> tuple[Any, int, int]:
    config = load_config(
        environ={},
        overrides={
            "database": {"url": url},
            "server": {"secret_key": "bench"},
            "scheduler": {"enabled": False},
            # build_runtime refuses an empty channel; nothing is sent to LINE here.
            "line": {"channel_secret": "bench", "channel_access_token": "bench"},
        },
    )
    app = create_app(build_runtime(config))
    runtime = app.extensions["kasane"]
    with runtime.sessions.begin() as session:
        member = session.scalar(
            select(Member).where(Member.line_user_id == COORDINATOR, Member.role == Role.COORDINATOR)
        )
        if member is None:
            sys.exit(f"{url}: no benchmark data (run bench/generate_case_log.py first)")
        number = session.scalar(
            select(Thread.number).where(Thread.network_id == member.network_id).limit(1).offset(12345)
        )
        link = runtime.links.issue_sign_in(session, COORDINATOR, runtime.clock.now(), via="cli")
    client = app.test_client()
    path = "/" + link.split("/", 3)[3]
    page = client.get(path).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    return client, member.network_id, number or 1


def measure(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    client, network_id, number = signed_in_client(url)
    results = {}
    for label, page in PAGES:
        path = f"/dashboard/n/{network_id}/" + page.format(number=number)
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        results[label] = (statistics.median(times), max(times))
        print(f"  {label}: {results[label][0]:.0f} ms", file=sys.stderr, flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", default="/tmp/kasane-bench/case_log.db", help="SQLite file made by the generator")
    parser.add_argument("--postgres", default=os.environ.get("KASANE_BENCH_POSTGRES_URL"), help="PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    databases = [("SQLite", f"sqlite:///{args.sqlite}")] if args.sqlite else []
    if args.postgres:
        databases.append(("PostgreSQL", args.postgres))
    results = {}
    for name, url in databases:
        print(f"{name}: {url}", file=sys.stderr)
        results[name] = measure(url, args.repeat)
    names = list(results)
    print("| ページ | " + " | ".join(f"{n} 中央値（最大）" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    slow = []
    for label, _ in PAGES:
        cells = []
        for name in names:
            median, worst = results[name][label]
            cells.append(f"{median:.0f} ms（{worst:.0f}）")
            if label in GATED and median > TARGET_MS:
                slow.append(f"{name} {label}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    if slow:
        print(f"over {TARGET_MS} ms: {', '.join(slow)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
