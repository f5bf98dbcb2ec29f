"""bench/month_cost.py plays its month: what it prints is what the fake LINE counted."""

from __future__ import annotations

from bench.month_cost import play


def test_a_month_of_a_small_network_is_counted_by_kind():
    month = play(members=12)
    assert month.line_total == sum(month.counted.values())
    assert month.counted["meeting_week"] == 12  # every meeting gets its week card, to the whole group
    assert month.replies > 50  # members' own actions are answered by free replies
    assert all(what.split()[0] in ("ridden", "folded", "dropped") for what in month.not_pushed)
