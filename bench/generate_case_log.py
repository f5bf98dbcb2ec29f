"""Generate a large case log for benchmarking the dashboard: one network, ~200,000 threads and
~1,000,000 timeline events over four years, on SQLite or PostgreSQL.

    .venv/bin/python bench/generate_case_log.py --database sqlite:///bench/case_log.db
    .venv/bin/python bench/generate_case_log.py --database postgresql://postgres@127.0.0.1:5432/kasane_bench

Rows are written with bulk INSERTs (SQLAlchemy Core, executemany) in batches, with explicit
ids so responses and events can point at their threads without reading anything back.
Data are random but shaped like the real thing: more 伝手 than offers, most threads closed,
recent ones open, a few discussed at meetings. Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from bot.store.db import make_engine, make_session_factory
from bot.store.migrate import upgrade
from models import (
    CATEGORIES,
    Area,
    Member,
    Network,
    Organization,
    OrgKind,
    Response,
    Role,
    Thread,
    ThreadEvent,
)

COORDINATOR = "Ubench-coordinator"
START = datetime(2022, 12, 1, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)
AREAS = ["東部", "西部", "南部", "北部", "中央", "荒木", "善導寺", "城島", "田主丸", "北野"]
AGENCIES = ["地域包括支援センター", "生活自立支援センター", "障害者相談支援", "子育て支援", "社協", "行政窓口"]
END_REASONS = ["本人が希望しない", "連絡が取れない", "対応できる資源がない（狭間）", "制度の要件外", "その他"]
OUTCOMES = [("resolved", 30), ("eased", 20), ("referred", 22), ("accompanying", 8), ("ended", 12), ("withdrawn", 8)]
PHRASES = [
    "通院の付き添い",
    "買い物の手伝い",
    "見守りの相談",
    "食料の支援",
    "住まいの片付け",
    "就労の相談",
    "子育ての悩み",
    "介護の相談",
    "ゴミ出しの手伝い",
    "話し相手",
    "手続きの同行",
    "学習支援",
]
BATCH = 5000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup_network(session: Any, rng: random.Random) -> tuple[int, list[tuple[int, int]]]:
    """The network, 40 organizations (15 formal), one member each, and the coordinator."""
    network = Network(group_id=f"Cbench{rng.randrange(10**9)}", name="ベンチマーク用ネットワーク", created_at=START)
    session.add(network)
    session.flush()
    session.add_all(Area(network_id=network.id, name=name) for name in AREAS)
    members = []
    for index in range(40):
        kind = OrgKind.FORMAL if index < 15 else OrgKind.INFORMAL
        org = Organization(network_id=network.id, name=f"団体{index + 1:02d}", kind=kind, created_at=START)
        session.add(org)
        session.flush()
        member = Member(
            network_id=network.id,
            line_user_id=f"Ubench{index:02d}",
            organization_id=org.id,
            display_name=f"担当{index + 1:02d}",
            registered_at=START,
        )
        session.add(member)
        session.flush()
        members.append((member.id, org.id))
    session.add(Member(network_id=network.id, line_user_id=COORDINATOR, role=Role.COORDINATOR, display_name="調整役"))
    session.commit()
    return network.id, members


def next_id(session: Any, model: Any) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def make_thread(
    rng: random.Random,
    ids: dict[str, int],
    network_id: int,
    number: int,
    members: list[tuple[int, int]],
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    posted = START + timedelta(seconds=rng.randrange(int((END - START).total_seconds())))
    poster, org = rng.choice(members)
    category = rng.choices(CATEGORIES, weights=[25, 10, 12, 12, 8, 6, 8, 12, 7])[0]
    area = rng.choice(AREAS) if rng.random() < 0.9 else None
    thread_id = ids["thread"]
    ids["thread"] += 1
    counts = {"connection": 0, "offer": 0, "comment": 0, "watch": 0}
    first = None
    events = [(posted, "posted", poster, org, {"category": category, "area": area})]
    at = posted
    for _ in range(min(8, round(rng.expovariate(1 / 2.0)))):
        at = at + timedelta(hours=rng.expovariate(1 / 12))
        kind = rng.choices(["connection", "offer", "comment", "watch"], weights=[35, 30, 25, 10])[0]
        member, member_org = rng.choice(members)
        counts[kind] += 1
        if kind in ("connection", "offer") and first is None:
            first = at
        response_id = ids["response"]
        ids["response"] += 1
        rows["responses"].append(
            dict(
                id=response_id,
                thread_id=thread_id,
                member_id=member,
                organization_id=member_org,
                kind=kind,
                text=None if kind == "watch" else f"{rng.choice(PHRASES)}ができます",
                created_at=at,
            )
        )
        event_kind = {"connection": "response", "offer": "response"}.get(kind, kind)
        events.append((at, event_kind, member, member_org, {"response_id": response_id, "response_kind": kind}))
    for step in range(rng.choice([0, 1, 1, 2, 2])):
        events.append((posted + timedelta(days=3 * (step + 1)), "followup", None, None, {"step": step + 1}))
    thread = dict(
        id=thread_id,
        network_id=network_id,
        number=number,
        poster_id=poster,
        organization_id=org,
        summary=f"{area or '市内'}で{rng.choice(PHRASES)}を探しています（{category}）",
        masked_kinds=[],
        category=category,
        area=area,
        state="open",
        outcome=None,
        referred_to=None,
        end_reason=None,
        retracted=False,
        meeting_requested=False,
        posted_at=posted,
        first_response_at=first,
        outcome_at=None,
        closed_at=None,
        connection_count=counts["connection"],
        offer_count=counts["offer"],
        comment_count=counts["comment"],
        watcher_count=counts["watch"],
    )
    age = (END - posted).days
    if age > 20 or rng.random() < age / 25:
        outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
        decided = min(END, at + timedelta(days=rng.expovariate(1 / 10)))
        thread.update(outcome=outcome, outcome_at=decided)
        if outcome == "referred":
            thread["referred_to"] = rng.choice(AGENCIES)
        if outcome == "ended":
            thread["end_reason"] = rng.choice(END_REASONS)
        if outcome != "accompanying":
            thread.update(state="closed", closed_at=decided)
        events.append((decided, "outcome", poster, org, {"before": {"outcome": None}, "outcome": outcome}))
    if rng.random() < 0.1:
        events.append((posted + timedelta(days=rng.randrange(5, 40)), "discussed", None, None, {}))
    rows["threads"].append(thread)
    for when, kind, actor, actor_org, detail in events:
        rows["events"].append(
            dict(
                thread_id=thread_id,
                at=when,
                kind=kind,
                actor_id=actor,
                organization_id=actor_org,
                via="chat",
                detail=detail,
            )
        )


def generate(url: str, count: int, seed: int) -> int:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    rng = random.Random(seed)
    started = time.monotonic()
    with sessions() as session:
        network_id, members = setup_network(session, rng)
        ids = {"thread": next_id(session, Thread), "response": next_id(session, Response)}
        written = {"threads": 0, "responses": 0, "events": 0}
        for first in range(1, count + 1, BATCH):
            rows: dict[str, list[dict[str, Any]]] = {"threads": [], "responses": [], "events": []}
            for number in range(first, min(count, first + BATCH - 1) + 1):
                make_thread(rng, ids, network_id, number, members, rows)
            # Core inserts on the tables: one executemany each (the ORM would split by columns set).
            session.execute(insert(Thread.__table__), rows["threads"])
            session.execute(insert(Response.__table__), rows["responses"])
            session.execute(insert(ThreadEvent.__table__), rows["events"])
            session.commit()
            for key in written:
                written[key] += len(rows[key])
            log(
                f"  {written['threads']:>7,}/{count:,} threads, {written['responses']:,} responses, "
                f"{written['events']:,} events ({time.monotonic() - started:.0f} s)"
            )
        session.execute(text("UPDATE networks SET thread_counter = :n WHERE id = :id"), {"n": count, "id": network_id})
        if engine.dialect.name == "postgresql":
            # Explicit ids were inserted: move the sequences past them.
            for table in ("threads", "thread_responses", "thread_events"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        else:
            session.execute(text("ANALYZE"))  # the planner statistics a live database would have
        session.commit()
    if engine.dialect.name == "postgresql":
        # Statistics and the visibility map (index-only scans), as autovacuum would leave them.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    log(f"network {network_id}: {count:,} threads in {time.monotonic() - started:.0f} s (coordinator {COORDINATOR})")
    return network_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="sqlite:///path.db or postgresql://...")
    parser.add_argument("--threads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    generate(args.database, args.threads, args.seed)


if __name__ == "__main__":
    main()
