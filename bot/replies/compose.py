"""Builders for LINE message JSON (text, textV2 mentions, Flex cards, quick replies).

Wording comes from ``bot.replies.messages``; this module only knows LINE's message shapes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

Message = dict[str, Any]

# LINE limits (Messaging API reference): kept here so builders never produce a body LINE rejects.
TEXT_LIMIT = 5000  # UTF-16 code units
ALT_TEXT_LIMIT = 1500
QUICK_REPLY_LIMIT = 13
POSTBACK_DATA_LIMIT = 300
LABEL_LIMIT = 20


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut to ``limit`` UTF-16 units without splitting a surrogate pair."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


def text(body: str) -> Message:
    return {"type": "text", "text": clip(body, TEXT_LIMIT)}


def escape_braces(value: str) -> str:
    # textV2 treats {key} as a placeholder; literal braces must be doubled.
    return value.replace("{", "{{").replace("}", "}}")


def mention_text(template: str, mentions: dict[str, str], **values: str) -> Message:
    """textV2 with ``{key}`` placeholders: keys in ``mentions`` become @mentions of user ids.

    ``template`` is catalog wording; ``values`` are inserted literally (braces escaped).
    """
    body = escape_braces(template)
    for key in mentions:
        body = body.replace("{{" + key + "}}", "{" + key + "}")
    for key, value in values.items():
        body = body.replace("{{" + key + "}}", escape_braces(value))
    if not mentions:
        return text(body.replace("{{", "{").replace("}}", "}"))
    return {
        "type": "textV2",
        "text": clip(body, TEXT_LIMIT),
        "substitution": {
            key: {"type": "mention", "mentionee": {"type": "user", "userId": user_id}}
            for key, user_id in mentions.items()
        },
    }


def postback_data(action: str, **params: Any) -> str:
    data = urlencode({"a": action, **{k: str(v) for k, v in params.items()}})
    if len(data) > POSTBACK_DATA_LIMIT:
        raise ValueError(f"postback data over LINE's {POSTBACK_DATA_LIMIT} characters: {action}")
    return data


def postback(label: str, action: str, display_text: str | None = None, **params: Any) -> dict[str, Any]:
    act: dict[str, Any] = {"type": "postback", "label": label[:LABEL_LIMIT], "data": postback_data(action, **params)}
    if display_text:
        act["displayText"] = display_text
    return act


def uri(label: str, link: str) -> dict[str, Any]:
    return {"type": "uri", "label": label[:LABEL_LIMIT], "uri": link}


def with_quick_replies(message: Message, actions: list[dict[str, Any]]) -> Message:
    items = [{"type": "action", "action": a} for a in actions[:QUICK_REPLY_LIMIT]]
    return {**message, "quickReply": {"items": items}} if items else message


def flex_text(body: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": body or " ", "wrap": True, **style}


def card(
    alt_text: str,
    title: str,
    lines: list[str] | list[dict[str, Any]],
    buttons: list[dict[str, Any]] | None = None,
    *,
    subtitle: str | None = None,
) -> Message:
    """A Flex bubble: bold title, optional subtitle, body lines, a column of buttons."""
    header: list[dict[str, Any]] = [flex_text(title, weight="bold", size="lg")]
    if subtitle:
        header.append(flex_text(subtitle, size="sm", color="#555555"))
    body = [line if isinstance(line, dict) else flex_text(line, size="sm") for line in lines]
    bubble: dict[str, Any] = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [*header, {"type": "separator", "margin": "md"}, *body],
        },
    }
    if buttons:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {"type": "button", "style": "secondary", "height": "sm", "action": action} for action in buttons
            ],
        }
    return {"type": "flex", "altText": clip(alt_text, ALT_TEXT_LIMIT), "contents": bubble}
