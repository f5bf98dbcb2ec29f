"""LINE message JSON → what the page shows: text segments with @mentions and links, Flex trees, actions.

Only keywords LINE defines become CSS classes, and only `#rrggbb(aa)` colours pass, so a
message can never inject markup or styles; Jinja escapes every text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

Segment = tuple[str, str]  # ("text" | "mention" | "link", value)

SIZES = ("xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl")
SPACINGS = ("none", "xs", "sm", "md", "lg", "xl", "xxl")
BUTTON_STYLES = ("primary", "secondary", "link")
ALIGNS = ("start", "center", "end")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_LINK = re.compile(r"https?://[^\s<>\"'）」』】]+")
# textV2: {key} is a placeholder, {{ and }} are literal braces.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([0-9a-zA-Z_]{1,20})\}")
_BLOCKS = ("header", "hero", "body", "footer")


# --- text ---------------------------------------------------------------------------
def linkified(text: str) -> list[Segment]:
    out: list[Segment] = []
    position = 0
    for match in _LINK.finditer(text):
        if match.start() > position:
            out.append(("text", text[position : match.start()]))
        out.append(("link", match.group()))
        position = match.end()
    if position < len(text) or not out:
        out.append(("text", text[position:]))
    return out


def segments(message: dict[str, Any], names: dict[str, str]) -> list[Segment]:
    """A text or textV2 message as a person reads it: mentions become @DisplayName."""
    text = str(message.get("text", ""))
    if message.get("type") != "textV2":
        return linkified(text)
    substitution = message.get("substitution") or {}
    out: list[Segment] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        out.extend(linkified(text[position : match.start()]) if match.start() > position else [])
        position = match.end()
        if match.group(1) is None:
            out.append(("text", match.group()[0]))  # {{ → {, }} → }
        else:
            out.append(_substituted(match.group(1), substitution.get(match.group(1)), names))
    if position < len(text):
        out.extend(linkified(text[position:]))
    return _merged(out)


def _substituted(key: str, value: Any, names: dict[str, str]) -> Segment:
    if not isinstance(value, dict):
        return ("text", "{" + key + "}")
    if value.get("type") == "emoji":
        return ("text", "☺")
    mentionee = value.get("mentionee") or {}
    if mentionee.get("type") == "all":
        return ("mention", "@All")
    user = str(mentionee.get("userId", ""))
    return ("mention", "@" + names.get(user, "LINEユーザー"))


def _merged(parts: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for kind, value in parts:
        if out and kind == "text" and out[-1][0] == "text":
            out[-1] = ("text", out[-1][1] + value)
        else:
            out.append((kind, value))
    return out


def plain(message: dict[str, Any] | None, names: dict[str, str]) -> str:
    """A one-line preview (quotes, notifications)."""
    if not message:
        return ""
    kind = message.get("type")
    if kind in ("text", "textV2"):
        return "".join(value for _, value in segments(message, names))
    if kind in ("flex", "template"):
        return str(message.get("altText", ""))
    return {"sticker": "スタンプ", "image": "写真", "video": "動画", "audio": "音声", "location": "位置情報"}.get(
        str(kind), "メッセージ"
    )


# --- actions ----------------------------------------------------------------------------
def _walk_actions(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every action a person can press in a message, always in the same order."""
    if message.get("type") == "flex":
        yield from _flex_buttons(message.get("contents"))
    template = message.get("template")
    if isinstance(template, dict):
        for column in [template, *(template.get("columns") or [])]:
            yield from (a for a in column.get("actions") or [] if isinstance(a, dict))
    for item in (message.get("quickReply") or {}).get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("action"), dict):
            yield item["action"]


def _flex_buttons(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "button" and isinstance(node.get("action"), dict):
            yield node["action"]
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _flex_buttons(value)
    elif isinstance(node, list):
        for item in node:
            yield from _flex_buttons(item)


def actions_of(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(_walk_actions(message)) if message else []


def numbered(message: dict[str, Any]) -> dict[int, int]:
    """id(action) → its number in actions_of(message): the template renders buttons by number."""
    return {id(action): n for n, action in enumerate(_walk_actions(message))}


def quick_replies(message: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    if not message:
        return []
    items = [i["action"] for i in (message.get("quickReply") or {}).get("items") or [] if isinstance(i, dict)]
    numbers = numbered(message)
    return [(numbers[id(action)], action) for action in items if id(action) in numbers]


# --- Flex -------------------------------------------------------------------------------
def flex_bubbles(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A Flex message as render trees, one per bubble (a carousel has several)."""
    numbers = numbered(message)
    contents = message.get("contents") or {}
    bubbles = contents.get("contents") if contents.get("type") == "carousel" else [contents]
    out = []
    for bubble in bubbles or []:
        if not isinstance(bubble, dict):
            continue
        blocks = [(name, _node(bubble[name], numbers)) for name in _BLOCKS if isinstance(bubble.get(name), dict)]
        styles = bubble.get("styles") or {}
        out.append(
            {
                "size": _keyword(
                    bubble.get("size"), ("nano", "micro", "deca", "hecto", "kilo", "mega", "giga"), "mega"
                ),
                "blocks": [
                    {"name": name, "node": node, "bg": _color((styles.get(name) or {}).get("backgroundColor"))}
                    for name, node in blocks
                ],
            }
        )
    return out


def _node(component: dict[str, Any], numbers: dict[int, int]) -> dict[str, Any]:
    kind = str(component.get("type", ""))
    render = _RENDERERS.get(kind)
    node = render(component, numbers) if render else {"kind": "unknown", "label": kind}
    node.setdefault("kind", kind)
    node["classes"] = " ".join(_common_classes(component) + node.get("classes", []))
    return node


def _common_classes(component: dict[str, Any]) -> list[str]:
    classes = []
    margin = _keyword(component.get("margin"), SPACINGS, None)
    if margin:
        classes.append(f"fx-m-{margin}")
    flex = component.get("flex")
    if isinstance(flex, int) and not isinstance(flex, bool) and 0 <= flex <= 5:
        classes.append(f"fx-flex-{flex}")
    if component.get("align") in ALIGNS:
        classes.append(f"fx-align-{component['align']}")
    if component.get("gravity") in ("top", "center", "bottom"):
        classes.append(f"fx-gravity-{component['gravity']}")
    return classes


def _box(component: dict[str, Any], numbers: dict[int, int]) -> dict[str, Any]:
    layout = _keyword(component.get("layout"), ("vertical", "horizontal", "baseline"), "vertical")
    classes = [f"fx-{layout}"]
    spacing = _keyword(component.get("spacing"), SPACINGS, None)
    if spacing:
        classes.append(f"fx-sp-{spacing}")
    padding = _keyword(component.get("paddingAll"), SPACINGS, None)
    if padding:
        classes.append(f"fx-pad-{padding}")
    children = [_node(c, numbers) for c in component.get("contents") or [] if isinstance(c, dict)]
    return {"classes": classes, "children": children, "bg": _color(component.get("backgroundColor"))}


def _text(component: dict[str, Any], _numbers: dict[int, int]) -> dict[str, Any]:
    classes = [f"fx-size-{_keyword(component.get('size'), SIZES, 'md')}"]
    if component.get("weight") == "bold":
        classes.append("fx-bold")
    classes.append("fx-wrap" if component.get("wrap") else "fx-nowrap")
    if component.get("decoration") in ("underline", "line-through"):
        classes.append(f"fx-{component['decoration']}")
    spans = [
        {
            "text": str(span.get("text", "")),
            "classes": " ".join(
                ([f"fx-size-{span['size']}"] if span.get("size") in SIZES else [])
                + (["fx-bold"] if span.get("weight") == "bold" else [])
            ),
            "color": _color(span.get("color")),
        }
        for span in component.get("contents") or []
        if isinstance(span, dict) and span.get("type") == "span"
    ]
    return {
        "classes": classes,
        "text": str(component.get("text", "")),
        "spans": spans,
        "color": _color(component.get("color")),
    }


def _button(component: dict[str, Any], numbers: dict[int, int]) -> dict[str, Any]:
    action = component.get("action") or {}
    style = _keyword(component.get("style"), BUTTON_STYLES, "link")
    height = _keyword(component.get("height"), ("sm", "md"), "md")
    return {
        "classes": [f"fx-btn-{style}", f"fx-btn-{height}"],
        "label": str(action.get("label") or ""),
        "n": numbers.get(id(action)),
        "act": action,
        "bg": _color(component.get("color")) if style != "link" else None,
        "color": _color(component.get("color")) if style == "link" else None,
    }


def _spacer(component: dict[str, Any], _numbers: dict[int, int]) -> dict[str, Any]:
    return {"classes": [f"fx-spacer-{_keyword(component.get('size'), SPACINGS, 'md')}"]}


def _separator(component: dict[str, Any], _numbers: dict[int, int]) -> dict[str, Any]:
    return {"color": _color(component.get("color"))}


def _media(label: str) -> Callable[[dict[str, Any], dict[int, int]], dict[str, Any]]:
    # Images would come from the internet, which the page never loads (CSP): show a placeholder.
    return lambda _component, _numbers: {"kind": "media", "label": label}


_RENDERERS: dict[str, Callable[[dict[str, Any], dict[int, int]], dict[str, Any]]] = {
    "box": _box,
    "text": _text,
    "button": _button,
    "spacer": _spacer,
    "separator": _separator,
    "filler": lambda _c, _n: {},
    "image": _media("画像"),
    "icon": _media("アイコン"),
    "video": _media("動画"),
}


def _keyword(value: Any, allowed: tuple[str, ...], default: str | None) -> str | None:
    return value if isinstance(value, str) and value in allowed else default


def _color(value: Any) -> str | None:
    return value if isinstance(value, str) and _COLOR.match(value) else None


# --- template messages (buttons, confirm, carousel) ---------------------------------------
def template_columns(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A template message's cards: title, text and numbered actions."""
    numbers = numbered(message)
    template = message.get("template") or {}
    columns = template.get("columns") if template.get("type") == "carousel" else [template]
    return [
        {
            "title": str(column.get("title") or ""),
            "text": str(column.get("text") or ""),
            "actions": [(numbers[id(a)], a) for a in column.get("actions") or [] if id(a) in numbers],
        }
        for column in columns or []
        if isinstance(column, dict)
    ]
