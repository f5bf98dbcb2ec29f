"""LINE's message limits, each reported as a `details` entry naming the property.

Where LINE says "characters" we count UTF-16 code units and where it says "KB" we count
1,000 bytes of compact UTF-8 JSON: the stricter reading, so what passes here passes LINE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

Detail = dict[str, str]

MAX_MESSAGES = 5
MAX_TEXT = 5_000
MAX_ALT_TEXT = 1_500
MAX_BUBBLE_BYTES = 30_000
MAX_CAROUSEL_BYTES = 50_000
MAX_CAROUSEL_BUBBLES = 12
MAX_QUICK_REPLY_ITEMS = 13
MAX_POSTBACK_DATA = 300
MAX_SUBSTITUTIONS = 20
SUBSTITUTION_KEY = re.compile(r"^[0-9a-zA-Z_]{1,20}$")
# `{{` and `}}` are literal braces in textV2; any other `{...}` is a placeholder.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def detail(message: str, prop: str) -> Detail:
    return {"message": message, "property": prop}


def utf16_len(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units, so an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def message_limit_errors(message: dict[str, Any], prop: str) -> list[Detail]:
    """Every limit `message` (at property path `prop`) breaks."""
    errors: list[Detail] = []
    kind = message.get("type")
    if kind in ("text", "textV2"):
        errors += _text_errors(message.get("text"), f"{prop}.text")
    if kind == "textV2":
        errors += _substitution_errors(message, prop)
    if kind == "flex":
        errors += _flex_errors(message, prop)
    errors += _quick_reply_errors(message.get("quickReply"), f"{prop}.quickReply")
    errors += _postback_data_errors(message, prop)
    return errors


def _text_errors(text: Any, prop: str) -> list[Detail]:
    if not isinstance(text, str):
        return []  # the SDK model reports the wrong type
    if text == "":
        return [detail("May not be empty", prop)]
    if utf16_len(text) > MAX_TEXT:
        return [detail(f"Length must be between 0 and {MAX_TEXT}", prop)]
    return []


def placeholders(text: str) -> list[str]:
    """The `{key}` names used in a textV2 text, literal `{{`/`}}` skipped."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None]


def _substitution_errors(message: dict[str, Any], prop: str) -> list[Detail]:
    substitution = message.get("substitution") or {}
    if not isinstance(substitution, dict):
        return []  # the SDK model reports the wrong type
    errors: list[Detail] = []
    if len(substitution) > MAX_SUBSTITUTIONS:
        errors.append(detail(f"Size must be between 0 and {MAX_SUBSTITUTIONS}", f"{prop}.substitution"))
    for key in substitution:
        if not SUBSTITUTION_KEY.match(key):
            errors.append(detail("Must match [0-9a-zA-Z_]{1,20}", f"{prop}.substitution.{key}"))
    text = message.get("text")
    for name in placeholders(text) if isinstance(text, str) else []:
        if name not in substitution:
            errors.append(detail(f"No substitution for {{{name}}}", f"{prop}.text"))
    return errors


def _flex_errors(message: dict[str, Any], prop: str) -> list[Detail]:
    errors: list[Detail] = []
    alt_text = message.get("altText")
    if isinstance(alt_text, str) and utf16_len(alt_text) > MAX_ALT_TEXT:
        errors.append(detail(f"Length must be between 1 and {MAX_ALT_TEXT}", f"{prop}.altText"))
    contents = message.get("contents")
    if not isinstance(contents, dict):
        return errors
    if contents.get("type") == "bubble":
        errors += _bubble_size_errors(contents, f"{prop}.contents")
    elif contents.get("type") == "carousel":
        errors += _carousel_errors(contents, f"{prop}.contents")
    return errors


def _bubble_size_errors(bubble: dict[str, Any], prop: str) -> list[Detail]:
    if json_size(bubble) > MAX_BUBBLE_BYTES:
        return [detail(f"Size of a bubble must be at most {MAX_BUBBLE_BYTES // 1000} KB", prop)]
    return []


def _carousel_errors(carousel: dict[str, Any], prop: str) -> list[Detail]:
    bubbles = carousel.get("contents")
    if not isinstance(bubbles, list):
        return []
    errors: list[Detail] = []
    if len(bubbles) > MAX_CAROUSEL_BUBBLES:
        errors.append(detail(f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}", f"{prop}.contents"))
    for i, bubble in enumerate(bubbles):
        if isinstance(bubble, dict):
            errors += _bubble_size_errors(bubble, f"{prop}.contents[{i}]")
    if json_size(carousel) > MAX_CAROUSEL_BYTES:
        errors.append(detail(f"Size of a carousel must be at most {MAX_CAROUSEL_BYTES // 1000} KB", prop))
    return errors


def _quick_reply_errors(quick_reply: Any, prop: str) -> list[Detail]:
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if isinstance(items, list) and len(items) > MAX_QUICK_REPLY_ITEMS:
        return [detail(f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}", f"{prop}.items")]
    return []


def _postback_data_errors(message: dict[str, Any], prop: str) -> list[Detail]:
    """Postback actions can sit anywhere (quick reply, template, flex, imagemap): walk it all."""
    return [
        detail(f"Length must be between 0 and {MAX_POSTBACK_DATA}", f"{path}.data")
        for path, node in walk(message, prop)
        if node.get("type") == "postback"
        and isinstance(node.get("data"), str)
        and utf16_len(node["data"]) > MAX_POSTBACK_DATA
    ]


def walk(node: Any, prop: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in `node`, with its property path."""
    if isinstance(node, dict):
        yield prop, node
        for key, value in node.items():
            yield from walk(value, f"{prop}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{prop}[{i}]")
