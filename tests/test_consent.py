"""本人同意 (consent): set in chat or on the dashboard, kept in the timeline; without あり the group
sees a thread's number, 分野 and 地区 only, and the dashboard lists it for the 支援会議; the
report counts the received threads by consent as it stood at the period's end."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import JST
from test_dashboard_world import form_token, jst, october_case_log, sign_in
from test_followups import tick

from models.consent import set_consent
from models.report import month_period, monthly_report
from models.thread import Consent


@pytest.fixture
def net(session):
    return october_case_log(session)


@pytest.fixture
def chat(world):
    """A group with 民生委員の会 (Carol) registered, as in test_followups."""
    group = world.group()
    world.invite_bot(group)
    carol = world.person("Carol")
    group.add(carol)
    carol.says(group, "団体登録 民生委員の会")
    world.deliver()
    return group, carol


def test_a_nudge_without_consent_shows_the_number_only(world, chat):
    group, carol = chat
    carol.says(group, "困りごと 配食サービスを探しています")

    nudge = tick(world, datetime(2026, 11, 27, 10, 5, tzinfo=JST))

    assert nudge.text == (
        "#1 にまだ返信がありません。\n伝手やお手伝いできることがあれば、お知らせください。\n"
        "（本人同意が「あり」ではないため、要約はグループに表示しません）\n[伝手あり]\n[手伝えます]"
    )
    assert "配食" not in nudge.messages[0]["altText"]  # the notification preview neither


def test_a_nudge_with_consent_repeats_the_summary(world, chat):
    group, carol = chat
    carol.says(group, "困りごと 配食サービスを探しています")
    assert carol.says(group, "#1 同意あり").text == "#1 の本人同意を「あり」として記録しました。"
    assert carol.says(group, "#1 同意あり").text == "#1 の本人同意は、すでに「あり」です。"

    nudge = tick(world, datetime(2026, 11, 27, 10, 5, tzinfo=JST))

    assert nudge.text == (
        "#1 にまだ返信がありません。\n伝手やお手伝いできることがあれば、お知らせください。\n"
        "配食サービスを探しています\n[伝手あり]\n[手伝えます]"
    )
    assert nudge.messages[0]["altText"].endswith("配食サービスを探しています")


def test_the_dashboard_sets_consent_and_lists_the_threads_for_the_support_meeting(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    path = f"/dashboard/n/{net.id}/threads/8"

    done = client.post(f"{path}/consent", data={"csrf_token": form_token(client, path), "consent": "no"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    meetings = client.get(f"/dashboard/n/{net.id}/meetings").get_data(as_text=True)

    assert done.status_code == 302 and "本人同意を記録しました" in page
    assert "<dt>本人同意</dt><dd>なし</dd>" in page and "未確認 → なし" in page
    support = meetings.split('id="support-title"')[1].split("</section>")[0]
    assert ">#8</a></th><td>なし</td><td>住まい</td><td>東部</td><td>T8 住まいの相談</td>" in support
    assert ">#1</a></th><td>未確認</td>" in support and ">#7</a>" in support  # T7 伴走 is open
    assert ">#2</a>" not in support  # closed
    bad = client.post(f"{path}/consent", data={"csrf_token": form_token(client, path), "consent": "maybe"})
    assert bad.status_code == 400 and "本人同意を選んでください" in bad.get_data(as_text=True)


def test_the_meeting_kind_is_chosen_on_the_meetings_page_and_named_in_the_report(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    path = f"/dashboard/n/{net.id}/meetings"

    done = client.post(f"{path}/kind", data={"csrf_token": form_token(client, path), "kind": "重層的支援会議"})

    assert done.status_code == 302 and "<option selected>重層的支援会議</option>" in client.get(path).get_data(True)
    report = client.get(f"/dashboard/n/{net.id}/report?month=2026-10").get_data(as_text=True)
    assert "会議と議事録（重層的支援会議）" in report
    refused = client.post(f"{path}/kind", data={"csrf_token": form_token(client, path), "kind": "井戸端会議"})
    assert refused.status_code == 400


def test_the_report_counts_consent_as_it_stood_at_the_months_end(session, net):
    t2, t3, t4 = net.threads[1], net.threads[2], net.threads[3]
    set_consent(session, t2, None, Consent.YES, jst(2026, 10, 3))
    set_consent(session, t3, None, Consent.NO, jst(2026, 10, 4))
    set_consent(session, t4, None, Consent.YES, jst(2026, 11, 2))  # after October: not October's
    set_consent(session, t3, None, Consent.YES, jst(2026, 11, 3))
    session.commit()

    october = monthly_report(session, net.network, month_period(2026, 10, "Asia/Tokyo"))

    assert october.by_consent == [("あり", 1), ("なし", 1), ("未確認", 7)]


def test_the_card_records_consent_for_the_posters_organization_and_refuses_others(world, chat):
    group, carol = chat  # Carol (民生委員の会) registered first: the organizer
    alice, bob = world.person("Alice"), world.person("Bob")
    group.add(alice, bob)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    bob.says(group, "団体登録 地域包括支援センター")
    world.deliver()
    card = alice.says(group, "困りごと 配食サービスを探しています")
    assert "本人同意：未確認" in card.text

    refused = bob.presses(group, card.button("本人同意を記録"))
    assert refused.text == (
        "@Bob さん、#1 の本人同意を記録できるのは、投稿した団体・コーディネーター・世話役の方です。"
    )
    choices = alice.presses(group, card.button("本人同意を記録"))
    assert choices.text == "#1 の本人同意を選んでください（いま：未確認）。"
    assert [b["label"] for b in choices.buttons] == ["同意あり", "同意なし"]
    assert alice.presses(group, choices.button("同意あり")).text == "#1 の本人同意を「あり」として記録しました。"
    assert bob.presses(group, choices.button("同意なし")).text == refused.text  # a chooser kept is no way round
    assert alice.presses(group, choices.button("同意あり")).text == "#1 の本人同意は、すでに「あり」です。"

    shown = carol.says(group, "#1")  # the organizer may too; the card now says あり and shows the summary
    assert "本人同意：あり" in shown.texts[0] and "配食サービスを探しています" in shown.texts[0]
    again = carol.presses(group, shown.button("本人同意を記録"))
    assert [b["label"] for b in again.buttons] == ["同意なし", "同意未確認"]
    assert carol.presses(group, again.button("同意なし")).text == "#1 の本人同意を「なし」として記録しました。"
    hidden = bob.says(group, "#1")
    assert "本人同意：なし" in hidden.texts[0] and "配食サービス" not in hidden.texts[0]
    assert hidden.texts[1].endswith(  # the timeline keeps each change
        "11/24 10:00 本人同意：あり（子ども食堂ひまわり）\n11/24 10:00 本人同意：なし（民生委員の会）"
    )
