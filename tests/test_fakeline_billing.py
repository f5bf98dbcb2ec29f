"""The fake LINE platform counts messages as LINE bills them (LINE-NOTES "What messages cost"):
per channel and calendar month in Japan, replies free, a push 1 per recipient, the plan's limit.

Driven through line-bot-sdk against the fake served on a local port, as Kasane calls LINE.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
)

from bot.fakeline import FakeLinePlatform, FakeLineServer, new_group_id, new_room_id, new_user_id
from bot.fakeline.billing import FREE_PLAN

JST = ZoneInfo("Asia/Tokyo")
TOKEN = "billing-token"
HELLO = [{"type": "text", "text": "こんにちは"}]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2027, 2, 10, 10, 0, tzinfo=JST))


@pytest.fixture
def line(clock: Clock) -> FakeLinePlatform:
    return FakeLinePlatform(TOKEN, clock=clock, plan=FREE_PLAN)  # a new LINE Official Account's plan


@pytest.fixture
def api(line: FakeLinePlatform) -> Iterator[MessagingApi]:
    with FakeLineServer(line) as server:
        configuration = Configuration(host=server.url, access_token=TOKEN)
        configuration.retries = False
        with ApiClient(configuration) as client:
            yield MessagingApi(client)


def group_of(line: FakeLinePlatform, members: int) -> str:
    group = new_group_id()
    line.add_group(group, "ささえあい")
    for i in range(members):
        line.add_member(group, new_user_id(), f"member{i}")
    return group


def push(api: MessagingApi, to: str, messages: list[dict] | None = None) -> None:
    request = PushMessageRequest.from_dict({"to": to, "messages": messages or HELLO})
    api.push_message(request, x_line_retry_key=str(uuid.uuid4()), _request_timeout=5)


def refused(api: MessagingApi, to: str) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        push(api, to)
    return caught.value.status, json.loads(caught.value.body)["message"]


def test_a_push_counts_once_per_recipient_a_reply_nothing(api, line):
    group = group_of(line, 30)
    friend = new_user_id()
    line.add_friend(friend, "Dan")

    token = line.issue_reply_token(group)
    api.reply_message(ReplyMessageRequest.from_dict({"replyToken": token, "messages": HELLO * 5}))
    assert api.get_message_quota_consumption().total_usage == 0

    push(api, group, HELLO * 5)  # five balloons in one request: still the 30 members once
    push(api, friend)
    assert api.get_message_quota_consumption().total_usage == 31
    assert line.counted_to(group) == 30 and line.counted_to(friend) == 1


def test_the_count_is_per_calendar_month_in_japan(api, line, clock):
    friend = new_user_id()
    line.add_friend(friend, "Dan")
    clock.now = datetime(2027, 2, 28, 23, 59, tzinfo=JST)
    push(api, friend)
    assert api.get_message_quota_consumption().total_usage == 1
    clock.now = datetime(2027, 3, 1, 0, 0, tzinfo=JST)  # 28 Feb 15:00 UTC: already March in Japan
    assert api.get_message_quota_consumption().total_usage == 0


def test_without_a_plan_there_is_no_limit(clock):
    assert FakeLinePlatform(TOKEN, clock=clock).billing.allowance is None  # what tests use by default


def test_the_plan_and_its_limit(api, line):
    quota = api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 200)  # コミュニケーションプラン
    line.set_plan(None)
    assert api.get_message_quota().type == "none"
    line.set_plan(5_000)
    assert api.get_message_quota().value == 5_000


def test_once_the_allowance_is_spent_pushes_get_the_monthly_limit_and_replies_pass(api, line, clock):
    line.set_plan(70)
    group = group_of(line, 30)
    push(api, group)
    push(api, group)
    # 60 used: a third push to 30 would go past 70, so it is refused whole, nothing counted.
    assert refused(api, group) == (429, "You have reached your monthly limit.")
    assert api.get_message_quota_consumption().total_usage == 60
    token = line.issue_reply_token(group)
    api.reply_message(ReplyMessageRequest.from_dict({"replyToken": token, "messages": HELLO}))
    assert len(line.deliveries(group)) == 3

    clock.now += timedelta(days=20)  # 2 March: a new month, a new allowance
    push(api, group)
    assert api.get_message_quota_consumption().total_usage == 30


def test_a_push_to_someone_who_does_not_follow_the_bot_is_accepted_not_delivered_not_counted(api, line):
    # LINE: status 200 even when the user blocked the bot or never added it; nothing is delivered
    # or counted. An id LINE does not know at all is a 400.
    group = new_group_id()
    line.add_group(group, "ささえあい")
    member = new_user_id()
    line.add_member(group, member, "Eve")
    push(api, member)
    assert line.deliveries(member) == [] and len(line.undelivered) == 1
    assert api.get_message_quota_consumption().total_usage == 0

    line.add_friend(member, "Eve")
    line.remove_friend(member)  # blocked the bot
    push(api, member)
    assert api.get_message_quota_consumption().total_usage == 0
    assert refused(api, new_user_id())[0] == 400


def test_member_counts_answer_as_the_openapi_says(api, line):
    group = group_of(line, 7)
    room = new_room_id()
    line.add_group(room, "")
    line.add_member(room, new_user_id(), "A")
    assert api.get_group_member_count(group).count == 7
    assert api.get_room_member_count(room).count == 1
    with pytest.raises(ApiException) as caught:
        api.get_group_member_count(new_group_id())
    assert caught.value.status == 404


def test_marked_spent_by_a_test(api, line):
    line.monthly_limit_reached()
    assert api.get_message_quota_consumption().total_usage == 200
    friend = new_user_id()
    line.add_friend(friend, "Dan")
    assert refused(api, friend)[0] == 429
    line.monthly_limit_reached(False)
    push(api, friend)
    assert api.get_message_quota_consumption().total_usage == 1


def test_a_group_member_count_endpoint_can_fail(api, line):
    group = group_of(line, 3)
    line.fail_next(1, status=500, endpoint="group_member_count")
    with pytest.raises(ApiException):
        api.get_group_member_count(group)
    assert api.get_group_member_count(group).count == 3
