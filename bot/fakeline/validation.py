"""Reply and push bodies checked as LINE checks them: the SDK's own models, then LINE's limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from linebot.v3.messaging import Message, PushMessageRequest, ReplyMessageRequest
from pydantic.v1 import ValidationError

from bot.fakeline.ids import chat_kind
from bot.fakeline.limits import MAX_MESSAGES, Detail, detail, message_limit_errors

# The type list LINE's own error example names, for an unknown message type.
_KNOWN_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
    "coupon",
)
_PLACEHOLDER_MESSAGE = {"type": "text", "text": "-"}
_QUOTABLE_TYPES = ("text", "textV2", "sticker")


def reply_errors(body: Any) -> list[Detail]:
    return _body_errors(body, ReplyMessageRequest)


def push_errors(body: Any) -> list[Detail]:
    return _body_errors(body, PushMessageRequest)


def _body_errors(body: Any, model: type) -> list[Detail]:
    if not isinstance(body, dict):
        return [detail("Must be a JSON object", "")]
    errors: list[Detail] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        if not 1 <= len(messages) <= MAX_MESSAGES:
            errors.append(detail(f"Size must be between 1 and {MAX_MESSAGES}", "messages"))
        for i, message in enumerate(messages[: MAX_MESSAGES * 2]):
            errors += _message_errors(message, f"messages[{i}]")
        # The messages were checked one by one above; check the rest of the envelope alone.
        body = {**body, "messages": [_PLACEHOLDER_MESSAGE]}
    errors += _sdk_errors(lambda: model.from_dict(body), "", model.__name__)
    return errors


def _message_errors(message: Any, prop: str) -> list[Detail]:
    if not isinstance(message, dict):
        return [detail("Must be an object", prop)]
    if message.get("type") not in _KNOWN_TYPES:
        return [detail(f"Must be one of the following values: [{', '.join(_KNOWN_TYPES)}]", f"{prop}.type")]
    limits = message_limit_errors(message, prop)
    if limits:
        # The SDK would flag some of the same limits again, without the full property path.
        return limits
    own_model = Message.get_discriminator_value(message)
    return _sdk_errors(lambda: Message.from_dict(message), prop, own_model)


def _sdk_errors(parse: Callable[[], object], prop: str, own_model: str | None) -> list[Detail]:
    try:
        parse()
    except ValidationError as error:
        return [_pydantic_detail(e, prop, error.model.__name__, own_model) for e in error.errors()]
    except Exception as error:  # the generated from_dict raises ValueError/KeyError/TypeError on odd shapes
        return [detail(f"Invalid value: {type(error).__name__}: {str(error)[:200]}", prop)]
    return []


def _pydantic_detail(error: dict[str, Any], prop: str, model: str, own_model: str | None) -> Detail:
    loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    loc = loc.replace(".__root__", "")
    if model == own_model:
        return detail(error["msg"], (prop + loc).lstrip("."))
    # An error inside a nested model: the generated code loses the path, so name the model.
    return detail(f"{model}{loc}: {error['msg']}", prop)


@dataclass(frozen=True)
class Audience:
    """Who a reply or push reaches, and what LINE knows about that chat."""

    chat_id: str
    is_member: Callable[[str], bool]
    quote_token_chat: Callable[[str], str | None]


def audience_errors(messages: list[dict[str, Any]], audience: Audience) -> list[Detail]:
    """Errors that depend on the chat: mentions and quote tokens."""
    errors: list[Detail] = []
    for i, message in enumerate(messages):
        prop = f"messages[{i}]"
        if message.get("type") == "textV2":
            errors += _mention_errors(message.get("substitution") or {}, prop, audience)
        token = message.get("quoteToken")
        if message.get("type") in _QUOTABLE_TYPES and token is not None:
            # Quote tokens do not expire but work only in the chat the quoted message is in.
            if audience.quote_token_chat(token) != audience.chat_id:
                errors.append(detail("Invalid quote token", f"{prop}.quoteToken"))
    return errors


def _mention_errors(substitution: dict[str, Any], prop: str, audience: Audience) -> list[Detail]:
    errors: list[Detail] = []
    in_group = chat_kind(audience.chat_id) in ("group", "room")
    for key, value in substitution.items():
        if not isinstance(value, dict) or value.get("type") != "mention":
            continue
        where = f"{prop}.substitution.{key}"
        mentionee = value.get("mentionee") or {}
        if not in_group:
            errors.append(detail("Mentions can only be sent to group chats and multi-person chats", where))
        elif mentionee.get("type") == "user" and not audience.is_member(mentionee.get("userId", "")):
            not_member = "The mentioned user is not a member of the chat"
            errors.append(detail(not_member, f"{where}.mentionee.userId"))
    return errors
