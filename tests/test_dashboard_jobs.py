"""The monthly figures pushed on the 1st at 9:00 to coordinators who are friends of the bot."""

from __future__ import annotations

from test_dashboard_world import jst, october_case_log

from jobs.reports import push_monthly_figures
from models import Role
from models.membership import grant_role


def run(runtime, when) -> int:
    with runtime.sessions.begin() as session:
        return push_monthly_figures(session, when, runtime.links)


def test_figures_go_once_to_coordinators_who_are_friends(world, runtime, session):
    net = october_case_log(session)
    coordinator, organizer, shy, member = (world.person(n) for n in ("Coord", "Organizer", "Shy", "Member"))
    coordinator.follows_bot()
    organizer.follows_bot()
    member.follows_bot()
    grant_role(session, net.network, coordinator.id, Role.COORDINATOR)
    grant_role(session, net.network, organizer.id, Role.ORGANIZER)
    grant_role(session, net.network, shy.id, Role.COORDINATOR)  # not a friend: LINE would refuse the push
    grant_role(session, net.network, member.id, Role.MEMBER)
    session.commit()
    world.deliver()

    # 1 November 2026 is a Sunday: quiet (issue 21); the figures go out on the first business day.
    assert run(runtime, jst(2026, 11, 1, 9, 0)) == 0
    assert run(runtime, jst(2026, 11, 2, 8, 59)) == 0
    assert run(runtime, jst(2026, 11, 2, 9, 0)) == 2
    answer = world.deliver()
    assert {d.to for d in answer.deliveries} == {coordinator.id, organizer.id}
    text = answer.to(coordinator).text
    assert "2026年10月の集計" in text and "受け付けた困りごと：9件" in text and "つなぎ：2件" in text
    report = answer.to(coordinator).button("ダッシュボードで見る")
    assert report["uri"].endswith(f"/dashboard/n/{net.id}/report?month=2026-10")
    assert answer.to(coordinator).button("ログインリンクを受け取る")["text"] == "ログイン"

    # Once, ever: later ticks send nothing; a coordinator who befriends the bot later still gets it.
    assert run(runtime, jst(2026, 11, 2, 9, 15)) == 0
    shy.follows_bot()
    assert run(runtime, jst(2026, 11, 2, 20, 0)) == 0  # not in the evening
    assert run(runtime, jst(2026, 11, 3, 9, 30)) == 0  # 文化の日: a quiet day
    assert run(runtime, jst(2026, 11, 4, 9, 30)) == 1
    assert run(runtime, jst(2026, 11, 9, 9, 30)) == 0  # after a week: the dashboard has it
    assert run(runtime, jst(2026, 12, 1, 9, 0)) == 3  # next month, November's figures


def test_the_network_time_zone_decides(world, runtime, session):
    net = october_case_log(session)
    net.network.timezone = "America/Los_Angeles"
    net.network.settings = {"quiet_days": False}  # 1 November is a Sunday: this network sends on quiet days
    coordinator = world.person("Coord")
    coordinator.follows_bot()
    grant_role(session, net.network, coordinator.id, Role.COORDINATOR)
    session.commit()
    # 09:00 on 1 November in Japan is still October in Los Angeles.
    assert run(runtime, jst(2026, 11, 1, 9, 0)) == 0
    assert run(runtime, jst(2026, 11, 2, 1, 59)) == 0  # 08:59 there (summer time ended that night)
    assert run(runtime, jst(2026, 11, 2, 2, 0)) == 1  # 09:00 on 1 November in Los Angeles
