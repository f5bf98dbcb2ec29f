"""``会議通知 20日前``: the organizer sets how early the meeting's card (出欠と議題) goes out;
Kumamoto's specification asks for notice 20 days ahead. The network meets on the 4th Wednesday
at 14:00 (test_meetings.py), so after 11-25 the next meeting is 12-23 and its card is due 12-03."""

from __future__ import annotations

from test_meetings import at, kurume, net, tick  # noqa: F401 (fixtures)


def test_the_card_goes_out_twenty_days_ahead(world, runtime, kurume):  # noqa: F811
    assert "世話役の方だけ" in kurume.bob.says(kurume.group, "会議通知 20日前").text
    assert "2〜60日前" in kurume.alice.says(kurume.group, "会議通知 あした").text
    said = kurume.alice.says(kurume.group, "会議通知 ２０日前")
    assert said.text == "会議のお知らせ（出欠と議題）を、会議の20日前に送ります。"

    at(runtime, "2026-12-03 13:55")
    assert not tick(world).to(kurume.group)
    at(runtime, "2026-12-03 14:05")
    card = tick(world).to(kurume.group)
    assert "12月23日" in card.text and "出欠" in card.text
    at(runtime, "2026-12-16 14:05")  # the usual 7 days: nothing more, the card went out once
    assert not tick(world).to(kurume.group)


def test_an_extra_meeting_has_its_own_card_reminders_and_place(world, runtime, kurume):  # noqa: F811
    assert "世話役の方だけ" in kurume.bob.says(kurume.group, "臨時会議 1/14 14:00 市役所").text
    assert "形：臨時会議" in kurume.alice.says(kurume.group, "臨時会議 あした").text
    said = kurume.alice.says(kurume.group, "臨時会議 1/14 14:00 市役所 第2会議室")
    assert said.text.startswith("臨時会議を加えました：1月14日（木）14:00　市役所 第2会議室")
    taken = kurume.alice.says(kurume.group, "臨時会議 12/23 10:00 公民館")  # the rule's December meeting
    assert taken.text == "12月23日（水）10:00には、すでに会議があります。別の日を指定してください。"

    at(runtime, "2027-01-07 14:05")  # 7 days before 1-14
    card = tick(world).to(kurume.group)
    assert "1月14日" in card.text and "市役所 第2会議室" in card.text
    answered = kurume.bob.presses(kurume.group, card.button("出席"))
    assert "出席" in answered.text and "1月14日" in answered.text
    at(runtime, "2027-01-13 14:05")  # the day before: those who have not answered are mentioned
    assert "1月14日" in tick(world).to(kurume.group).text


def test_an_extra_meeting_is_in_the_months_report(client, runtime, session, world, kurume):  # noqa: F811
    from sqlalchemy import select
    from test_dashboard_world import jst

    from models import Network
    from models.meeting_minutes import meetings_in

    kurume.alice.says(kurume.group, "臨時会議 12/2 18:30 公民館")
    network = session.scalar(select(Network))
    held = meetings_in(session, network, jst(2026, 12, 1), jst(2027, 1, 1))
    session.commit()
    assert [(m.start.strftime("%m-%d %H:%M") if m.start else None, m.extra) for m in held] == [
        ("12-02 18:30", True),
        ("12-23 14:00", False),
    ]


def test_the_meetings_page_shows_an_extra_meeting_under_the_next_meeting(client, runtime, world, kurume):  # noqa: F811
    from test_dashboard_world import sign_in

    from bot.replies import compose

    kurume.alice.says(kurume.group, "臨時会議 12/2 18:30 公民館")
    kurume.alice.says(kurume.group, "臨時会議 1/14 14:00 市役所 第2会議室")
    sign_in(client, runtime, kurume.alice.id)
    with runtime.sessions() as session:
        path = f"/dashboard/n/{kurume.network(session).id}/meetings"
    page = client.get(path).get_data(as_text=True)
    upcoming = page.split('id="next-title"')[1].split("</section>")[0]
    assert '<p class="big">2026-11-25 14:00　中央公民館</p>' in upcoming  # the rule's comes first
    assert '<th scope="row">2026-12-02 18:30</th><td>公民館</td>' in upcoming
    assert '<th scope="row">2027-01-14 14:00</th><td>市役所 第2会議室</td>' in upcoming

    at(runtime, "2026-11-26 09:00")  # after November's: the 臨時会議 of 12-02 is next, before 12-23
    rsvp = {"type": "postback", "data": compose.postback_data("meeting.rsvp", d="2026-12-02", r="yes")}
    assert "出席" in kurume.bob.presses(kurume.group, rsvp).text  # as the 臨時会議's card's button
    page = client.get(path).get_data(as_text=True)
    upcoming = page.split('id="next-title"')[1].split("</section>")[0]
    assert '<p class="big">2026-12-02 18:30（臨時）　公民館</p>' in upcoming
    assert "2026-11-25" not in upcoming and "2026-12-23" not in upcoming
    assert "<td>出席</td>" in upcoming  # attendance is the 臨時会議's


def test_kaigi_in_chat_names_an_extra_meeting_when_it_comes_first(world, runtime, kurume):  # noqa: F811
    kurume.alice.says(kurume.group, "臨時会議 12/2 18:30 公民館")
    assert kurume.bob.says(kurume.group, "会議").text.startswith("次回の会議：11月25日（水）14:00\n場所：中央公民館")

    at(runtime, "2026-11-26 09:00")
    said = kurume.bob.says(kurume.group, "会議").text
    assert said.startswith("次回の会議：12月2日（水）18:30\n場所：公民館\n出欠：")
    in_private = kurume.alice.says(None, "会議").text  # the rich menu's button
    assert "12月2日（水）18:30" in in_private and "公民館" in in_private and "中央公民館" not in in_private
    kurume.alice.says(kurume.group, "困りごと 通院の付き添いを探しています")
    added = kurume.alice.says(kurume.group, "議題追加 #1").text
    assert added.startswith("12月2日") and "#1" in added  # the agenda of the meeting that comes first
