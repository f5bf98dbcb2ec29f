"""Quiet days (issue 21): no follow-ups and no monthly figures on Sundays, 年末年始 and public
holidays unless a network opts in; they move to the next business day; meetings keep their days."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from conftest import JST
from sqlalchemy import select
from test_dashboard_jobs import run as push_figures
from test_followups import tick

from models import Network, Role
from models.membership import grant_role
from models.quiet_days import first_business_day, is_quiet_day


@pytest.mark.parametrize(
    ("day", "quiet"),
    [
        (date(2026, 12, 28), False),  # Monday
        (date(2026, 12, 29), True),  # 年末
        (date(2027, 1, 1), True),  # 元日
        (date(2027, 1, 3), True),  # 年始, a Sunday too
        (date(2027, 1, 4), False),  # the first business day
        (date(2027, 1, 11), True),  # 成人の日
        (date(2026, 11, 29), True),  # a Sunday
        (date(2026, 11, 28), False),  # a Saturday is not quiet
    ],
)
def test_which_days_are_quiet(day: date, quiet: bool):
    assert is_quiet_day(day) is quiet


def test_the_first_business_day_of_a_month():
    assert first_business_day(2027, 1) == date(2027, 1, 4)
    assert first_business_day(2026, 11) == date(2026, 11, 2)  # the 1st is a Sunday
    assert first_business_day(2027, 5) == date(2027, 5, 1)  # a Saturday


@pytest.fixture
def thread_before_new_year(world):
    """A trouble posted on Saturday 26 December 2026 with no answer: its nudge is due on the 29th."""
    group = world.group()
    world.invite_bot(group)
    carol = world.person("Carol")
    group.add(carol)
    carol.says(group, "団体登録 民生委員の会")
    world.runtime.clock.set(datetime(2026, 12, 26, 10, 0, tzinfo=JST))
    carol.says(group, "困りごと 年末の見守りをお願いしたい方がいます")
    world.deliver()
    return group


def test_a_follow_up_due_over_new_year_waits_for_the_first_business_day(world, thread_before_new_year):
    for day in (29, 30, 31):
        assert not tick(world, datetime(2026, 12, day, 10, 0, tzinfo=JST)), day
    for day in (1, 2, 3):
        assert not tick(world, datetime(2027, 1, day, 9, 11, tzinfo=JST)), day  # not on 元日 at 09:11
    nudged = tick(world, datetime(2027, 1, 4, 9, 0, tzinfo=JST))
    assert "#1 にまだ返信がありません" in nudged.text


def test_a_network_that_opts_in_is_followed_up_on_quiet_days(world, session, thread_before_new_year):
    network = session.scalar(select(Network))
    network.settings = {**(network.settings or {}), "quiet_days": False}
    session.commit()
    assert "#1 にまだ返信がありません" in tick(world, datetime(2026, 12, 29, 10, 0, tzinfo=JST)).text


def test_the_monthly_figures_go_out_on_the_first_business_day(world, runtime, session):
    group = world.group()
    world.invite_bot(group)
    coordinator = world.person("Coord")
    coordinator.follows_bot()
    network = session.scalar(select(Network))
    grant_role(session, network, coordinator.id, Role.COORDINATOR)
    session.commit()
    world.deliver()
    for day in (1, 2, 3):
        assert push_figures(runtime, datetime(2027, 1, day, 9, 11, tzinfo=JST)) == 0
    runtime.clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=JST))
    assert push_figures(runtime, runtime.clock.now()) == 1
    assert "2026年12月の集計" in world.deliver().text


def test_meeting_reminders_keep_their_days(world, runtime):
    from test_meetings import Net, at
    from test_meetings import tick as reminders_tick

    net = Net(world)
    at(runtime, "2026-12-20 10:00")
    net.alice.says(net.group, "会議設定 毎月4日 14:00 中央公民館")
    at(runtime, "2027-01-03 14:00")  # 年始 and a Sunday: the day before the meeting
    assert reminders_tick(world).to(net.group).text.startswith("明日 1月4日（月）14:00 から会議です。")
