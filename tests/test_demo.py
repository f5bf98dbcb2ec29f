"""``kasane demo``: a fictional network for workshops, and the report it feeds."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from test_cli import write_config

from bot.cli import demo_data
from bot.cli.demo import OUTBOX_NOTE, generate_demo
from bot.cli.main import main
from bot.clock import Clock
from bot.replies.messages import END_REASONS, REFERRAL_DESTINATIONS
from jobs import load_all
from models import (
    CATEGORIES,
    EventKind,
    MeetingAttendance,
    MeetingRecord,
    Member,
    Network,
    Organization,
    OrgKind,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Response,
    ResponseKind,
    Role,
    Thread,
    ThreadEvent,
)
from models.membership import network_for_group
from models.privacy import mask

JST = ZoneInfo("Asia/Tokyo")


def run(tmp_path: Path, database_url: str, *args: str) -> int:
    return main(["--config", str(write_config(tmp_path, database_url)), "demo", *args])


def test_demo_fills_a_fresh_database_that_the_report_reads(
    tmp_path: Path, database_url: str, engine: Engine, clock: Clock, capsys: pytest.CaptureFixture[str]
):
    status = run(tmp_path, database_url, "--months", "2", "--now", clock.now().isoformat())

    out, err = capsys.readouterr()
    assert status == 0, err
    assert "threads 10/80" in err and "threads 80/80" in err and "meetings 1/1" in err  # progress on stderr
    with Session(engine) as session:
        network = session.scalars(select(Network)).one()
        assert "デモ" in network.name and re.fullmatch(r"C[0-9a-f]{32}", network.group_id)
        assert not network.active  # no job may queue anything for a group that is not on LINE
        organizer = session.scalars(select(Member).where(Member.role == Role.ORGANIZER)).one()
        assert f"login-link --user {organizer.line_user_id}" in out and f"demo network {network.id}" in out
        assert f"report --network {network.id} --month 2026-10" in out and "/simulator" in out

        kinds = Counter(session.scalars(select(Organization.kind)))
        assert kinds[OrgKind.FORMAL] >= 3 and kinds[OrgKind.INFORMAL] >= 3
        people = session.scalars(select(Member)).all()
        assert all(m.display_name.startswith("デモ ") and m.registered for m in people)
        assert {m.role for m in people} == {Role.ORGANIZER, Role.COORDINATOR, Role.MEMBER}

        threads = session.scalars(select(Thread)).all()
        assert len(threads) == 80
        outcomes = Counter(t.outcome for t in threads if not t.retracted)
        assert all(outcomes[str(o)] > 0 for o in Outcome) and outcomes[None] > 0, outcomes
        assert any(t.referred_to for t in threads) and any(t.end_reason for t in threads)
        assert {t.referred_to for t in threads if t.referred_to} <= set(REFERRAL_DESTINATIONS)
        assert {t.end_reason for t in threads if t.end_reason} <= set(END_REASONS)
        responses = Counter(session.scalars(select(Response.kind)))
        assert all(responses[str(kind)] > 0 for kind in ResponseKind)
        events = Counter(session.scalars(select(ThreadEvent.kind)))
        for kind in (EventKind.FOLLOWUP, EventKind.FLAGGED, EventKind.DISCUSSED, EventKind.CORRECTED):
            assert events[str(kind)] > 0, kind
        assert session.scalar(select(func.count()).select_from(MeetingRecord)) > 0
        assert session.scalar(select(func.count()).select_from(MeetingAttendance)) > 0
        # Both kinds of organization answered troubles of the other kind.
        poster_kind = {t.id: t.organization.kind for t in threads}
        crossed = {
            (poster_kind[r.thread_id], r.organization.kind)
            for r in session.scalars(select(Response).where(Response.kind == ResponseKind.CONNECTION))
        }
        assert {(OrgKind.FORMAL, OrgKind.INFORMAL), (OrgKind.INFORMAL, OrgKind.FORMAL)} <= crossed

        # Everything happened in working hours, before "now", after the network was made.
        now = clock.now()
        assert all(network.created_at <= t.posted_at <= now for t in threads)
        assert all(9 <= t.posted_at.astimezone(JST).hour < 20 for t in threads)

        # Nothing is waiting to be sent to LINE: the follow-ups the job queued are marked sent.
        outbox = session.scalars(select(OutboxMessage)).all()
        assert outbox and all(row.status == OutboxStatus.SENT and row.last_error == OUTBOX_NOTE for row in outbox)

        # Nothing stored looks like a personal identifier.
        answers = session.scalars(select(Response.text).where(Response.text.is_not(None))).all()
        texts = [t.summary for t in threads if t.summary] + list(answers)
        assert texts and not [text for text in texts if mask(text).changed]
        assert all(t.masked_kinds == [] for t in threads)

        october = session.scalar(
            select(func.count()).where(
                Thread.network_id == network.id,
                Thread.retracted.is_(False),
                Thread.posted_at >= datetime(2026, 10, 1, tzinfo=JST),
                Thread.posted_at < datetime(2026, 11, 1, tzinfo=JST),
            )
        )
    # Nor will anything be: the scheduled jobs of a later `kasane serve` leave the demo network alone.
    with Session(engine) as session, session.begin():
        for day in (1, 2, 8, 30):
            for job in load_all():
                job.run(session, now + timedelta(days=day), links=None)
    assert main(["--config", str(tmp_path / "config.toml"), "outbox"]) == 0
    assert "nothing failed or pending" in capsys.readouterr().out

    # The done-criterion: the report of the last full month shows the demo's figures.
    config = str(tmp_path / "config.toml")
    status = main(["--config", config, "report", "--network", str(network.id), "--month", "2026-10"])
    report = capsys.readouterr().out
    assert status == 0
    received = re.search(r"受け付けた困りごと\t(\d+)", report)
    assert received and int(received[1]) == october > 0
    for figure in ("伝手", "申し出", "フォーマルとインフォーマルがともに関わった困りごと"):
        value = re.search(rf"\n  {figure}\t(\d+)", report)
        assert value and int(value[1]) > 0, figure


def fingerprint(session: Session, network: Network) -> list[tuple[object, ...]]:
    """A network's content without database ids (two networks of one seed must match)."""
    org_names = {org_id: name for org_id, name in session.execute(select(Organization.id, Organization.name))}
    rows: list[tuple[object, ...]] = []
    for thread in session.scalars(select(Thread).where(Thread.network_id == network.id).order_by(Thread.number)):
        rows.append(
            (
                thread.number,
                thread.summary,
                thread.category,
                thread.area,
                thread.posted_at,
                thread.state,
                thread.outcome,
                thread.referred_to,
                thread.end_reason,
                org_names[thread.organization_id],
            )
        )
        rows += [(r.kind, r.text, r.created_at, org_names[r.organization_id]) for r in thread.responses]
        rows += [(e.kind, e.at, e.via) for e in thread.events]
    return rows


def test_the_same_seed_gives_the_same_demo(database_url: str, engine: Engine, clock: Clock):
    with Session(engine) as session, session.begin():
        first = generate_demo(session, clock.now(), 1, 7, per_month=12)
        second = generate_demo(session, clock.now(), 1, 7, per_month=12)
        other = generate_demo(session, clock.now(), 1, 8, per_month=12)
    with Session(engine) as session:
        networks = {n.id: n for n in session.scalars(select(Network))}
        a, b, c = (fingerprint(session, networks[r.network_id]) for r in (first, second, other))
        assert a and a == b and a != c
        # The second demo is a network of its own: its own group and people.
        assert first.group_id != second.group_id and first.organizer_user_id != second.organizer_user_id
        assert networks[second.network_id].name.endswith("（2）")
    assert first.counts == second.counts


def test_refuses_a_database_with_networks_unless_forced(
    tmp_path: Path, database_url: str, engine: Engine, clock: Clock, capsys: pytest.CaptureFixture[str]
):
    with Session(engine) as session, session.begin():
        network_for_group(session, "C" + "0" * 32, clock.now())
    now = clock.now().isoformat()

    assert run(tmp_path, database_url, "--months", "1", "--per-month", "5", "--now", now) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already has 1 network" in err and "--force" in err

    assert run(tmp_path, database_url, "--months", "1", "--per-month", "5", "--now", now, "--force") == 0
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Network)) == 2
        real = session.scalar(select(Network).where(Network.group_id == "C" + "0" * 32))
        assert real is not None and real.active  # the operator's network is left alone
        assert session.scalar(select(func.count()).select_from(Thread).where(Thread.network_id == real.id)) == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--months", "0"], "--months must be between 1 and 24"),
        (["--per-month", "0"], "--per-month must be between 1 and 400"),
        (["--now", "yesterday"], "--now: 'yesterday' is not an ISO-8601 time"),
    ],
)
def test_bad_arguments_are_one_line(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
):
    assert run(tmp_path, database_url, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err


def test_demo_texts_carry_no_identifiers_and_use_the_bots_own_lists():
    for text in demo_data.all_texts():
        for shown in (text, *(f"{text}（{area}）" for area in demo_data.AREAS)):
            assert not mask(shown).changed, shown
    assert set(demo_data.TROUBLES) == set(CATEGORIES) == set(demo_data.CONNECTIONS)
    assert set(demo_data.END_REASON_WEIGHTS) == set(END_REASONS)
    assert set(demo_data.REFERRAL_BY_CATEGORY.values()) <= set(REFERRAL_DESTINATIONS)
    names = [f"{demo_data.DEMO_FAMILY_NAME} {given}" for org in demo_data.ORGANIZATIONS for given in org.people]
    assert len(names) == len(set(names))
    assert all(2 <= len(org.people) <= 3 for org in demo_data.ORGANIZATIONS)
