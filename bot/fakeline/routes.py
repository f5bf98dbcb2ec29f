"""LINE's endpoints the bot calls, plus a small inspection API under /_fake/ for the simulator."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import flask

from bot.fakeline.channel import register_channel_routes
from bot.fakeline.ids import is_uuid
from bot.fakeline.validation import Audience, audience_errors, push_errors, reply_errors

if TYPE_CHECKING:
    from bot.fakeline.limits import Detail
    from bot.fakeline.platform import FakeLinePlatform
    from bot.fakeline.records import Delivery

FAKE_PREFIX = "/_fake/"
RETRY_KEY = "X-Line-Retry-Key"
# Not documented word for word: LINE only says a retry key on an unsupported API is a 400.
RETRY_KEY_NOT_SUPPORTED = "The X-Line-Retry-Key header is not supported for this API"
RETRY_KEY_INVALID = "The value for the 'X-Line-Retry-Key' header is invalid"
MONTHLY_LIMIT = "You have reached your monthly limit."


def register_routes(app: flask.Flask, platform: FakeLinePlatform) -> None:
    def route(rule: str, endpoint: str, view: Any, methods: tuple[str, ...] = ("GET",)) -> None:
        app.add_url_rule(rule, endpoint, lambda **kw: view(platform, **kw), methods=list(methods))

    route("/v2/bot/message/reply", "reply", reply, ("POST",))
    route("/v2/bot/message/push", "push", push, ("POST",))
    route("/v2/bot/group/<group_id>/summary", "group_summary", group_summary)
    route("/v2/bot/group/<group_id>/member/<user_id>", "group_member_profile", group_member_profile)
    route("/v2/bot/group/<group_id>/leave", "leave_group", leave_group, ("POST",))
    route("/v2/bot/profile/<user_id>", "profile", profile)
    route("/v2/bot/message/quota", "message_quota", message_quota)
    route("/v2/bot/message/quota/consumption", "message_quota_consumption", message_quota_consumption)
    route("/v2/bot/group/<chat_id>/members/count", "group_member_count", member_count)
    route("/v2/bot/room/<chat_id>/members/count", "room_member_count", member_count)
    from bot.fakeline import rich_menus  # it uses this module's error bodies

    rich_menus.register(route)
    route("/_fake/health", "fake_health", lambda _platform: flask.jsonify(ok=True))
    route("/_fake/deliveries", "fake_deliveries", fake_deliveries)
    route("/_fake/count", "fake_count", fake_count)
    register_channel_routes(app, platform)


def error(status: int, message: str, **extra: Any) -> flask.Response:
    """LINE's error body: {"message": ..., "details"?: [...], "sentMessages"?: [...]}."""
    response = flask.jsonify(message=message, **extra)
    response.status_code = status
    return response


def _invalid(details: list[Detail]) -> flask.Response:
    return error(400, f"The request body has {len(details)} error(s)", details=details)


def _json_body() -> tuple[Any, flask.Response | None]:
    try:
        return json.loads(flask.request.get_data() or b"null"), None
    except json.JSONDecodeError as e:
        where = f"(line: {e.lineno}, column: {e.colno})"
        return None, error(400, f"The request body could not be parsed as JSON {where}")


def reply(platform: FakeLinePlatform) -> flask.Response:
    if RETRY_KEY in flask.request.headers:
        # LINE accepts retry keys only on push, multicast, narrowcast and broadcast.
        return error(400, RETRY_KEY_NOT_SUPPORTED)
    body, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    details = reply_errors(body)
    if details:
        return _invalid(details)
    with platform.lock:
        token = platform.world.usable_reply_token(body["replyToken"], platform.now())
        if token is None:
            return error(400, "Invalid reply token")
        details = audience_errors(body["messages"], _audience(platform, token.chat_id))
        if details:
            return _invalid(details)
        token.used = True
        sent = platform.accept(
            via="reply",
            to=token.chat_id,
            messages=body["messages"],
            retry_key=None,
            request_id=flask.g.request_id,
            reply_token=body["replyToken"],
        )
    return flask.jsonify(sentMessages=sent)


def push(platform: FakeLinePlatform) -> flask.Response:
    retry_key = flask.request.headers.get(RETRY_KEY)
    if retry_key is not None and not is_uuid(retry_key):
        return error(400, RETRY_KEY_INVALID)
    body, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    details = push_errors(body)
    if details:
        return _invalid(details)
    to = body["to"]
    with platform.lock:  # held from the key check to the delivery: concurrent retries deliver once
        accepted = platform.world.accepted_key(retry_key, platform.now()) if retry_key else None
        if accepted is not None:
            return _already_accepted(accepted.request_id, accepted.sent_messages)
        recipients = platform.world.recipients(to)
        if recipients is None:
            return error(400, "Failed to send messages")
        if not platform.billing.can_afford(platform.now(), recipients):
            return error(429, MONTHLY_LIMIT)
        details = audience_errors(body["messages"], _audience(platform, to))
        if details:
            return _invalid(details)
        sent = platform.accept(
            via="push",
            to=to,
            messages=body["messages"],
            retry_key=retry_key,
            request_id=flask.g.request_id,
            recipients=recipients,
        )
    return flask.jsonify(sentMessages=sent)


def _already_accepted(request_id: str, sent_messages: list[dict[str, Any]]) -> flask.Response:
    # LINE: 409 with the accepted request's id, and for push the original sentMessages.
    response = error(409, "The retry key is already accepted", sentMessages=sent_messages)
    response.headers["x-line-accepted-request-id"] = request_id
    return response


def _audience(platform: FakeLinePlatform, chat_id: str) -> Audience:
    world = platform.world
    return Audience(chat_id, lambda user_id: world.is_member(chat_id, user_id), world.quote_token_chat)


def group_summary(platform: FakeLinePlatform, group_id: str) -> flask.Response:
    with platform.lock:
        chat = platform.world.chats.get(group_id)
        if chat is None:
            return error(404, "Not found")
        return flask.jsonify(_without_none(groupId=group_id, groupName=chat.name, pictureUrl=chat.picture_url))


def leave_group(platform: FakeLinePlatform, group_id: str) -> flask.Response:
    """The bot leaves the group: 404 when it is not in it (LINE's answer for an unknown group)."""
    with platform.lock:
        if platform.world.chats.pop(group_id, None) is None:
            return error(404, "Not found")
        platform.left_groups.append(group_id)
    return flask.jsonify({})


def group_member_profile(platform: FakeLinePlatform, group_id: str, user_id: str) -> flask.Response:
    # Needs the user to be in the group, not to be a friend of the bot.
    with platform.lock:
        chat = platform.world.chats.get(group_id)
        member = chat.members.get(user_id) if chat is not None else None
        if member is None:
            return error(404, "Not found")
        return flask.jsonify(
            _without_none(displayName=member.display_name, userId=user_id, pictureUrl=member.picture_url)
        )


def profile(platform: FakeLinePlatform, user_id: str) -> flask.Response:
    # Only users who follow the bot have a profile for it.
    with platform.lock:
        friend = platform.world.friends.get(user_id)
        if friend is None:
            return error(404, "Not found")
        return flask.jsonify(
            _without_none(displayName=friend.display_name, userId=user_id, pictureUrl=friend.picture_url, language="ja")
        )


def message_quota(platform: FakeLinePlatform) -> flask.Response:
    """MessageQuotaResponse: ``type`` limited with ``value``, or ``none`` without a target limit."""
    with platform.lock:
        allowance = platform.billing.allowance
    if allowance is None:
        return flask.jsonify(type="none")
    return flask.jsonify(type="limited", value=allowance)


def message_quota_consumption(platform: FakeLinePlatform) -> flask.Response:
    """QuotaConsumptionResponse: ``totalUsage``, the counted messages of this month."""
    with platform.lock:
        return flask.jsonify(totalUsage=platform.billing.used(platform.now()))


def member_count(platform: FakeLinePlatform, chat_id: str) -> flask.Response:
    """Group/RoomMemberCountResponse: ``count``, the members without the bot; 404 when the bot is not in it."""
    with platform.lock:
        chat = platform.world.chats.get(chat_id)
        if chat is None:
            return error(404, "Not found")
        return flask.jsonify(count=len(chat.members))


def fake_deliveries(platform: FakeLinePlatform) -> flask.Response:
    after = flask.request.args.get("after", default=-1, type=int)
    return flask.jsonify([_delivery_json(d) for d in platform.deliveries_after(after)])


def fake_count(platform: FakeLinePlatform) -> flask.Response:
    """What the simulator shows: this month's counted messages against the plan."""
    with platform.lock:
        return flask.jsonify(counted=platform.billing.used(platform.now()), allowance=platform.billing.allowance)


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "index": delivery.index,
        "to": delivery.to,
        "via": delivery.via,
        "messages": delivery.messages,
        "sentMessages": delivery.sent_messages,
        "retryKey": delivery.retry_key,
        "replyToken": delivery.reply_token,
        "requestId": delivery.request_id,
        "at": delivery.at.isoformat(),
    }


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
