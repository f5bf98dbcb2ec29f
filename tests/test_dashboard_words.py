"""The dashboard speaks plain Japanese (issue 21): every kind of timeline event, with the details
the code records, reads without an ASCII identifier; month lists start at the network's first month."""

from __future__ import annotations

import re

from test_dashboard_world import jst, make_network, post, respond, sign_in

from bot.web.dashboard.timeline import timeline
from models import EventKind, OrgKind, Outcome, ResponseKind
from models.casework import (
    add_response,
    correct,
    edit_summary,
    record_event,
    reopen,
    request_meeting,
    retract,
    set_outcome,
)
from models.connections import record_missing
from models.consent import set_consent
from models.thread import Consent

IDENTIFIER = re.compile(r"[A-Za-z_]{2,}")
ORGS = {"子ども食堂ひまわり": OrgKind.INFORMAL, "東部包括": OrgKind.FORMAL}


def every_kind_of_event(session):
    net = make_network(session, "Cgroup-words", "Ucoord-words", ORGS, jst(2026, 10, 1), "ことばのネット")
    poster, helper = net.members["子ども食堂ひまわり"], net.members["東部包括"]
    at = jst(2026, 10, 1, 10)
    thread = post(session, net, "子ども食堂ひまわり", "通院の付き添い", at, category="高齢")
    correct(session, thread, poster, at, category="健康")
    respond(session, net, thread, "東部包括", ResponseKind.CONNECTION, at, "移送サービス")
    response, _ = add_response(session, thread, helper, ResponseKind.COMMENT, "様子を見ます", at)
    add_response(session, thread, helper, ResponseKind.WATCH, None, at)
    request_meeting(session, thread, helper, at)
    for step in ("nudge", "check1", "check2", "accompany1:202610011000"):
        record_event(session, thread, EventKind.FOLLOWUP, at, via="job", step=step)
    record_event(session, thread, EventKind.FLAGGED, at, via="job", reason="no_response")
    record_event(session, thread, EventKind.DISCUSSED, at, actor=poster, meeting="2026-10-28")
    record_event(session, thread, EventKind.NOTE, at, via="dashboard", actor=poster)
    edit_summary(session, thread, "通院の付き添い 電話 090-1111-2222", at)
    record_event(session, thread, EventKind.EDITED, at, response_id=response.id)
    record_event(session, thread, EventKind.RETRACTED, at, actor=helper, response_id=response.id)
    record_event(session, thread, EventKind.RETRACTED, at, actor=poster, original_only=True)
    set_outcome(session, thread, poster, Outcome.REFERRED, at, referred_to="地域包括支援センター")
    reopen(session, thread, poster, at)
    set_consent(session, thread, poster, Consent.NO, at)
    record_missing(session, thread, poster, "移動手段", at)
    record_event(session, thread, EventKind.SHARED, at, actor=poster, via="dashboard", shared=True)
    retract(session, thread, at, actor=poster)
    session.flush()
    return net, thread


def test_every_timeline_entry_reads_in_plain_japanese(session):
    _, thread = every_kind_of_event(session)
    assert {event.kind for event in thread.events} == set(EventKind)  # every kind is in this thread

    entries = timeline(session, thread)
    for entry in entries:
        for words in (entry.title, *entry.lines):
            assert not IDENTIFIER.search(words), words
    titles = [entry.title for entry in entries]
    assert "フォローアップ（3日後の呼びかけ）" in titles
    assert "その後いかがですか（1回目）" in titles and "その後いかがですか（2回目）" in titles
    assert "伴走の様子うかがい（1回目）" in titles
    assert ["移動手段"] in [entry.lines for entry in entries if entry.title == "足りなかった資源"]
    assert ["未確認 → なし"] in [entry.lines for entry in entries if entry.title == "本人同意"]
    unsent = entries[-1]
    assert unsent.title == "投稿の取り消し（送信取消）"
    assert unsent.who.startswith("子ども食堂ひまわりの担当")  # the person who unsent, not 重ね（自動）
    assert "困りごとは受付中のままです。" in " ".join(unsent.lines)


def test_month_lists_start_at_the_networks_first_month(session, client, runtime, clock):
    net = make_network(session, "Cgroup-new", "Ucoord-new", ORGS, jst(2026, 9, 10), "新しいネット")
    post(session, net, "子ども食堂ひまわり", "九月の相談", jst(2026, 9, 12))
    session.commit()
    sign_in(client, runtime, net.coordinator)
    for page in ("report", "map", "organizations"):
        html = client.get(f"/dashboard/n/{net.id}/{page}").get_data(as_text=True)
        months = set(re.findall(r"<option[^>]*>(\d{4}-\d{2})</option>", html))
        assert months == {"2026-09", "2026-10"}, (page, months)
