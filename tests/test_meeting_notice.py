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
