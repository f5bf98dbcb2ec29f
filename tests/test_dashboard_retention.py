"""Retention: five years from the 1st of April after a thread ended; counts survive erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from test_dashboard_world import ORGS, close, jst, make_network, october_case_log, post, respond

from bot.cli.main import main
from jobs.retention import erase_expired, erase_from
from models import Outcome, Response, ResponseKind, Thread, ThreadEvent
from models.dashboard import ThreadNote, add_note
from models.report import month_period, monthly_report, organization_stats, overlap_edges


@pytest.mark.parametrize(
    ("closed", "erased_from"),
    [
        (jst(2020, 5, 1), jst(2026, 4, 1)),  # fiscal 2020 → kept until 2026-03-31
        (jst(2021, 3, 31, 23, 30), jst(2026, 4, 1)),  # still fiscal 2020
        (jst(2021, 4, 1, 0, 0), jst(2027, 4, 1)),  # fiscal 2021
        (datetime(2021, 3, 31, 15, 30, tzinfo=UTC), jst(2027, 4, 1)),  # 2021-04-01 00:30 in Japan
        (datetime(2021, 3, 31, 14, 59, tzinfo=UTC), jst(2026, 4, 1)),  # 2021-03-31 23:59 in Japan
    ],
)
def test_erase_from(closed, erased_from):
    assert erase_from(closed, "Asia/Tokyo") == erased_from


@pytest.fixture
def old_threads(session):
    """Threads closed on both sides of the fiscal-year boundary, an open one, and a note."""
    net = make_network(session, "Cgroup-old", "Ucoord-old", ORGS, jst(2019, 4, 1))
    i1, f1 = "子ども食堂ひまわり", "東部包括"
    threads = {}
    for name, closed in (
        ("may2020", jst(2020, 5, 1)),
        ("mar2021", jst(2021, 3, 31, 23, 30)),
        ("apr2021", jst(2021, 4, 1, 0, 0)),
    ):
        thread = post(session, net, i1, f"{name} 090-1234-5678 の方の相談", jst(2020, 4, 10), category="高齢")
        respond(session, net, thread, f1, ResponseKind.CONNECTION, jst(2020, 4, 11), "包括で対応します")
        close(session, net, thread, i1, Outcome.RESOLVED, closed)
        add_note(session, thread, net.members[f1], "家族に連絡済み", closed)
        threads[name] = thread
    threads["open"] = post(session, net, i1, "ずっと伴走中", jst(2015, 4, 1), category="孤立")
    close(session, net, threads["open"], i1, Outcome.ACCOMPANYING, jst(2015, 5, 1))
    session.commit()
    return net, threads


def erased(session, threads) -> set[str]:
    session.expire_all()
    return {name for name, t in threads.items() if session.get(Thread, t.id).erased_at is not None}


def test_the_boundary(session, old_threads):
    net, threads = old_threads
    assert erase_expired(session, jst(2026, 3, 31, 23, 59, 59)) == 0
    assert erased(session, threads) == set()

    assert erase_expired(session, jst(2026, 4, 1, 0, 0)) == 2
    assert erased(session, threads) == {"may2020", "mar2021"}
    assert erase_expired(session, jst(2027, 3, 31, 23, 59)) == 0
    assert erase_expired(session, jst(2027, 4, 1)) == 1
    assert erased(session, threads) == {"may2020", "mar2021", "apr2021"}  # the open thread is kept


def test_only_text_goes(session, old_threads):
    net, threads = old_threads
    erase_expired(session, jst(2026, 4, 1))
    session.commit()
    session.expire_all()
    gone = session.get(Thread, threads["may2020"].id)
    assert gone.summary is None and gone.erased_at is not None
    assert (gone.category, gone.outcome, gone.connection_count) == ("高齢", "resolved", 1)
    assert all(r.text is None for r in session.scalars(select(Response).where(Response.thread_id == gone.id)))
    assert all(n.text is None for n in session.scalars(select(ThreadNote).where(ThreadNote.thread_id == gone.id)))
    kept = session.get(Thread, threads["apr2021"].id)
    assert kept.summary and session.scalar(select(Response.text).where(Response.thread_id == kept.id))


def test_correction_reasons_are_erased_too(session, old_threads):
    net, threads = old_threads
    from models.casework import set_outcome

    set_outcome(
        session, threads["may2020"], None, Outcome.EASED, jst(2020, 6, 1), reason="本人と面談して確認", via="dashboard"
    )
    erase_expired(session, jst(2026, 4, 1))
    events = session.scalars(select(ThreadEvent).where(ThreadEvent.thread_id == threads["may2020"].id))
    assert not any("reason" in (e.detail or {}) for e in events)


def test_counts_still_add_up_after_erasure(session, client, runtime):
    net = october_case_log(session)
    october = month_period(2026, 10, "Asia/Tokyo")
    before = (
        monthly_report(session, net.network, october),
        overlap_edges(session, net.network, october),
        organization_stats(session, net.network),
    )
    # Threads closed in October 2026 (fiscal 2026) are erased from 2032-04-01.
    # Closed: T2 T3 T4 T5 T6 T11 T12; open (kept): T1 T7 T8 T9, and T10 (unsent, never closed).
    assert erase_expired(session, jst(2032, 4, 1)) == 7
    session.commit()
    after = (
        monthly_report(session, net.network, october),
        overlap_edges(session, net.network, october),
        organization_stats(session, net.network),
    )
    assert after == before
    assert session.scalar(select(Thread).where(Thread.number == 8)).summary  # open: kept


def test_cli_retention_dry_run_then_for_real(tmp_path: Path, database_url, session, old_threads, capsys, monkeypatch):
    net, threads = old_threads
    for name in ("KASANE_DATABASE_URL", "KASANE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    # The CLI reads the real clock: which threads are due depends on today's date.
    now = datetime.now(UTC)
    due = {name for name, t in threads.items() if t.closed_at and erase_from(t.closed_at, "Asia/Tokyo") <= now}
    assert {"may2020", "mar2021"} <= due
    session.rollback()
    assert main(["--config", str(config), "retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"network {net.id}: {len(due)} threads closed before" in out and f"would erase {len(due)} threads" in out
    assert erased(session, threads) == set()
    session.rollback()

    assert main(["--config", str(config), "retention"]) == 0
    captured = capsys.readouterr()
    assert f"erased {len(due)} threads" in captured.out and f"network {net.id}: {len(due)}/{len(due)}" in captured.err
    assert erased(session, threads) == due


def test_a_contract_period_keeps_its_records_five_years_from_the_april_after_its_end(session, old_threads):
    """業務完了の翌年度4月1日から5年: a two-year contract 2020-04-01〜2022-03-31 keeps every thread
    closed inside it until 2027-03-31, though May 2020's own rule would let it go on 2026-04-01."""
    from models.contract import Contract

    net, threads = old_threads
    two_years = Contract(date(2020, 4, 1), date(2022, 3, 31))

    assert erase_expired(session, jst(2026, 4, 1), contract=two_years) == 0
    assert erase_expired(session, jst(2027, 3, 31, 23, 59), contract=two_years) == 0
    assert erase_expired(session, jst(2027, 4, 1), contract=two_years) == 3
    assert erased(session, threads) == {"may2020", "mar2021", "apr2021"}


def test_a_one_year_contract_changes_nothing_for_its_own_year(session, old_threads):
    """Contract 2020-04-01〜2021-03-31: its threads go from 2026-04-01 as by their own dates; April
    2021's thread belongs to the next period and goes from 2027-04-01."""
    from models.contract import Contract

    net, threads = old_threads
    one_year = Contract(date(2020, 4, 1), date(2021, 3, 31))

    assert erase_expired(session, jst(2026, 3, 31, 23, 59), contract=one_year) == 0
    assert erase_expired(session, jst(2026, 4, 1), contract=one_year) == 2
    assert erased(session, threads) == {"may2020", "mar2021"}
    assert erase_expired(session, jst(2027, 4, 1), contract=one_year) == 1


def test_the_daily_job_reads_the_contract_from_the_configuration(database_url, old_threads, clock, engine):
    """The scheduler hands the job [report] contract_end: the two-year contract keeps May 2020."""
    from conftest import make_config

    from bot.runtime import build_runtime
    from bot.scheduler import run_job
    from jobs import load_all

    config = make_config(
        database_url, "http://127.0.0.1:9", report={"contract_start": "2020-04-01", "contract_end": "2022-03-31"}
    )
    runtime = build_runtime(config, clock=clock, engine=engine)
    try:
        job = next(j for j in load_all() if j.name.endswith("erase_expired"))
        clock.set(jst(2026, 4, 1, 3, 41))
        run_job(runtime, job)
        with runtime.sessions() as session:
            assert erased(session, old_threads[1]) == set()
        clock.set(jst(2027, 4, 1, 3, 41))
        run_job(runtime, job)
        with runtime.sessions() as session:
            assert erased(session, old_threads[1]) == {"may2020", "mar2021", "apr2021"}
    finally:
        runtime.close()
