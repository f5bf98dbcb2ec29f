"""提出済みにする: the PDF and Excel handed in are kept byte for byte, with who and when, and shown
beside today's computation; nothing done afterwards changes them."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from test_dashboard_world import form_token, jst, october_case_log, sign_in

from models import Outcome, SubmittedReport
from models.casework import reopen, set_outcome


@pytest.fixture
def net(session):
    return october_case_log(session)


def submit_october(client, net):  # type: ignore[no-untyped-def]
    token = form_token(client, f"/dashboard/n/{net.id}/report?month=2026-10")
    return client.post(f"/dashboard/n/{net.id}/report/submit?month=2026-10", data={"csrf_token": token})


def test_a_submitted_report_is_byte_identical_later_whatever_changed(client, runtime, session, clock, net):
    sign_in(client, runtime, net.coordinator)

    done = submit_october(client, net)

    assert done.status_code == 302 and "saved=submitted" in done.headers["Location"]
    stored = session.scalars(select(SubmittedReport)).one()
    assert stored.label == "月報 2026年10月" and stored.submitted_by == "コーディネーター"
    assert stored.submitted_at == clock.now()
    session.commit()  # end the read: on SQLite every transaction holds the writer lock
    pdf_then = client.get(f"/dashboard/n/{net.id}/submitted/{stored.id}.pdf").data
    xlsx_then = client.get(f"/dashboard/n/{net.id}/submitted/{stored.id}.xlsx").data
    assert hashlib.sha256(pdf_then).hexdigest() == stored.pdf_sha256
    assert hashlib.sha256(xlsx_then).hexdigest() == stored.xlsx_sha256
    assert "2026年10月" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_then)).pages)

    # A month later: T3 (closed in October) reopened, T2's つなぎ corrected, a day's report made.
    clock.advance(timedelta(days=30))
    reopen(session, net.threads[2], None, jst(2026, 12, 20), via="dashboard")
    set_outcome(session, net.threads[1], None, Outcome.RESOLVED, jst(2026, 12, 21), reason="確認", via="dashboard")
    session.commit()
    client.get(f"/dashboard/n/{net.id}/report.pdf?month=2026-10")

    assert client.get(f"/dashboard/n/{net.id}/submitted/{stored.id}.pdf").data == pdf_then
    assert client.get(f"/dashboard/n/{net.id}/submitted/{stored.id}.xlsx").data == xlsx_then
    page = client.get(f"/dashboard/n/{net.id}/report?month=2026-10").get_data(as_text=True)
    assert "提出した報告（最新）と今日の集計の概要" in page and "（違いあり）" not in page
    assert '<th scope="row">受け付けた困りごと</th><td class="num">9</td><td class="num">9</td>' in page
    assert f"/submitted/{stored.id}.pdf" in page and "2026-11-24 10:00" in page


def test_a_period_not_yet_over_cannot_be_submitted(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    page = client.get(f"/dashboard/n/{net.id}/report?month=2026-11").get_data(as_text=True)
    token = form_token(client, f"/dashboard/n/{net.id}/report?month=2026-11")

    refused = client.post(f"/dashboard/n/{net.id}/report/submit?month=2026-11", data={"csrf_token": token})

    assert "期間が終わると「提出済みにする」が使えます" in page and "提出済みにする</button>" not in page
    assert refused.status_code == 400 and "期間が終わってから提出済みにできます" in refused.get_data(as_text=True)


def test_another_networks_copy_is_not_found(client, runtime, session, net):
    from test_dashboard_world import two_networks

    a, _ = two_networks(session, jst(2026, 11, 1))
    sign_in(client, runtime, net.coordinator)
    submit_october(client, net)
    stored = session.scalars(select(SubmittedReport)).one()
    session.commit()
    sign_in(client, runtime, a.coordinator)

    assert client.get(f"/dashboard/n/{a.id}/submitted/{stored.id}.pdf").status_code == 404
    assert client.get(f"/dashboard/n/{net.id}/submitted/{stored.id}.pdf").status_code == 404
