"""A small case log to test the dashboard on, and signing in the way a coordinator does.

Seeding goes through the same model functions the chat uses (models.membership,
models.casework), so the timeline and the counters are exactly what real use leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models import Member, Network, Organization, OrgKind, ResponseKind, Role, Thread
from models.casework import add_response, post_thread, set_outcome
from models.membership import grant_role, network_for_group, register_member

JST = ZoneInfo("Asia/Tokyo")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)  # type: ignore[misc]


@dataclass
class Net:
    network: Network
    coordinator: str  # LINE user id of its coordinator
    members: dict[str, Member] = field(default_factory=dict)  # by organization name
    threads: list[Thread] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.network.id

    def org(self, name: str) -> Organization:
        organization = self.members[name].organization
        assert organization is not None
        return organization


def make_network(
    session: Any, group_id: str, coordinator: str, orgs: dict[str, OrgKind], now: datetime, name: str = ""
) -> Net:
    """A network with one member per organization, and a coordinator registered for none."""
    network, _ = network_for_group(session, group_id, now)
    network.name = name or f"ネット{group_id[-1]}"
    net = Net(network, coordinator)
    for index, (name, kind) in enumerate(orgs.items()):
        member, _, _ = register_member(session, network, f"{group_id}-u{index}", name, kind, now)
        member.display_name = f"{name}の担当"
        member.role = Role.MEMBER  # the first registrant became organizer: keep roles explicit here
        net.members[name] = member
    grant_role(session, network, coordinator, Role.COORDINATOR).display_name = "コーディネーター"
    session.flush()
    return net


def post(session: Any, net: Net, org: str, text: str, at: datetime, **kwargs: Any) -> Thread:
    thread, _ = post_thread(session, net.network, net.members[org], text, at, **kwargs)
    net.threads.append(thread)
    return thread


def respond(session: Any, net: Net, thread: Thread, org: str, kind: ResponseKind, at: datetime, text: str = "") -> None:
    add_response(session, thread, net.members[org], kind, text or None, at)


def close(session: Any, net: Net, thread: Thread, org: str, outcome: Any, at: datetime, **kwargs: Any) -> None:
    set_outcome(session, thread, net.members[org], outcome, at, **kwargs)


def two_networks(session: Any, now: datetime) -> tuple[Net, Net]:
    a = make_network(
        session, "Cgroup-a", "Ucoord-a", {"東部包括": OrgKind.FORMAL, "子ども食堂ひまわり": OrgKind.INFORMAL}, now
    )
    b = make_network(session, "Cgroup-b", "Ucoord-b", {"西部包括": OrgKind.FORMAL, "西自治会": OrgKind.INFORMAL}, now)
    post(session, a, "子ども食堂ひまわり", "高齢の方の通院の付き添いを探しています", now, category="高齢", area="東部")
    post(session, b, "西自治会", "西地区の見守りの相談です", now, category="孤立", area="西部")
    session.commit()
    return a, b


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login_link(runtime: Any, line_user_id: str) -> str:
    with runtime.sessions.begin() as session:
        link = runtime.links.issue_sign_in(session, line_user_id, runtime.clock.now(), via="cli")
    return link


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def sign_in(client: Any, runtime: Any, line_user_id: str) -> None:
    """Open the one-time link and press the button, as a coordinator does."""
    path = path_of(login_link(runtime, line_user_id))
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/dashboard/")


def form_token(client: Any, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


ORGS = {
    "東部包括": OrgKind.FORMAL,  # F1
    "社協": OrgKind.FORMAL,  # F2
    "子ども食堂ひまわり": OrgKind.INFORMAL,  # I1
    "民生委員会": OrgKind.INFORMAL,  # I2
}


def october_case_log(session: Any) -> Net:
    """The fixed data set of the report test (figures counted by hand there). Threads are
    named T1..T12 in the comments; times are Japan time."""
    from models import Outcome
    from models.casework import retract

    C, OF, M, W = ResponseKind.CONNECTION, ResponseKind.OFFER, ResponseKind.COMMENT, ResponseKind.WATCH
    net = make_network(session, "Cgroup-report", "Ucoord-report", ORGS, jst(2026, 9, 1), "久留米ささえあいネット")
    i1, i2, f1, f2 = "子ども食堂ひまわり", "民生委員会", "東部包括", "社協"
    t1 = post(session, net, i1, "T1 九月の相談", jst(2026, 9, 30, 23, 59), category="高齢", area="東部")
    respond(session, net, t1, f1, C, jst(2026, 10, 1, 8), "包括で訪問できます")
    t2 = post(session, net, i1, "T2 通院の付き添い", jst(2026, 10, 1, 0, 0), category="高齢", area="東部")
    respond(session, net, t2, f1, C, jst(2026, 10, 1, 2), "包括につなぎます")
    close(session, net, t2, i1, Outcome.REFERRED, jst(2026, 10, 5), referred_to="地域包括支援センター")
    t3 = post(session, net, f1, "T3 子育ての孤立", jst(2026, 10, 3, 10), category="子ども", area="西部")
    respond(session, net, t3, i2, OF, jst(2026, 10, 3, 14), "見守りに行けます")
    respond(session, net, t3, i1, M, jst(2026, 10, 4, 9), "食堂にもどうぞ")
    close(session, net, t3, f1, Outcome.RESOLVED, jst(2026, 10, 10))
    t4 = post(session, net, i2, "T4 食料の不足", jst(2026, 10, 10, 9), category="困窮", area="東部")
    respond(session, net, t4, i1, OF, jst(2026, 10, 11, 9), "食材を届けます")
    close(session, net, t4, i2, Outcome.EASED, jst(2026, 10, 20))
    t5 = post(session, net, f2, "T5 閉じこもりがち", jst(2026, 10, 15, 12), category="孤立")
    close(session, net, t5, f2, Outcome.ENDED, jst(2026, 10, 25), end_reason="本人が希望しない")
    t6 = post(session, net, i1, "T6 障害のある方の就労", jst(2026, 10, 20, 8), category="障害", area="西部")
    respond(session, net, t6, f2, C, jst(2026, 10, 20, 9), "相談窓口があります")
    respond(session, net, t6, f1, OF, jst(2026, 10, 21, 8), "同行できます")
    close(session, net, t6, i1, Outcome.REFERRED, jst(2026, 10, 30), referred_to="生活自立支援センター")
    t7 = post(session, net, i2, "T7 一人暮らしの見守り", jst(2026, 10, 25, 18), category="高齢", area="西部")
    respond(session, net, t7, f1, W, jst(2026, 10, 26, 9))
    close(session, net, t7, i2, Outcome.ACCOMPANYING, jst(2026, 10, 28))
    post(session, net, f1, "T8 住まいの相談", jst(2026, 10, 31, 23, 59, 59), category="住まい", area="東部")
    t9 = post(session, net, i1, "T9 十一月の相談", jst(2026, 11, 1, 0, 0), category="高齢", area="東部")
    respond(session, net, t9, f1, C, jst(2026, 11, 1, 1), "伺います")
    t10 = post(session, net, i1, "T10 取り消された投稿", jst(2026, 10, 12, 9), category="その他", area="東部")
    respond(session, net, t10, f1, C, jst(2026, 10, 12, 10), "伺います")
    retract(session, t10, jst(2026, 10, 12, 11))
    t11 = post(session, net, i2, "T11 仕事探し", jst(2026, 10, 5, 9), category="仕事", area="北部")
    respond(session, net, t11, f2, M, jst(2026, 10, 5, 12), "ハローワークの情報です")
    close(session, net, t11, i2, Outcome.WITHDRAWN, jst(2026, 10, 6))
    t12 = post(session, net, f2, "T12 買い物の手伝い", jst(2026, 10, 8, 10), category="高齢", area="東部")
    respond(session, net, t12, f1, OF, jst(2026, 10, 9, 16), "買い物に同行します")
    close(session, net, t12, f2, Outcome.RESOLVED, jst(2026, 11, 3))
    session.commit()
    return net
