"""Cards that help people find their way: ヘルプ's five topics and 「もしかして…？」."""

from __future__ import annotations

from typing import Any

from bot.replies import compose, messages
from models.privacy import mask

Message = dict[str, Any]
MESSAGE_ACTION_TEXT_LIMIT = 300  # LINE: a message action sends at most 300 characters

# ヘルプ lines without an explicit topic fall into one by their order (handlers' describe()).
TOPIC_BY_ORDER = ((40, "post"), (50, "answer"), (60, "outcome"), (80, "meeting"), (99, "dashboard"))


def topic_of(order: int, explicit: str | None) -> str:
    if explicit:
        return explicit
    return next((topic for upper, topic in TOPIC_BY_ORDER if order < upper), "dashboard")


def help_card() -> Message:
    lines = [messages.HELP_CARD_INTRO]
    lines += [f"・{label}：{what}" for label, what in messages.HELP_TOPICS.values()]
    buttons = [
        compose.postback(label, "help", messages.HELP_TOPIC_DISPLAY.format(topic=label), t=key)
        for key, (label, _) in messages.HELP_TOPICS.items()
    ]
    return compose.card(messages.HELP_CARD_ALT, messages.HELP_CARD_TITLE, lines, buttons)


def help_topic(topic: str, entries: list[tuple[str, str]]) -> Message:
    """One topic's commands, as text: they are meant to be read and copied."""
    label = messages.HELP_TOPICS[topic][0]
    lines = [f"・{usage}\n　{what}" for usage, what in entries]
    body = messages.HELP_TOPIC_TITLE.format(topic=label) + "\n" + "\n".join(lines) + "\n\n" + messages.HELP_FOOTER
    return compose.text(body)


def suggestion(command: str, word: str) -> Message:
    """「もしかして『…』ですか？」 with a button that sends the corrected command (nothing is done on a guess).

    The sender's words are masked first: the card is queued in the outbox (the database) like any
    message, and raw identifiers never reach it. The button then sends the masked text.
    """
    command = mask(command).text
    shown = command if len(command) <= messages.SUGGEST_SHOWN_LIMIT else command[: messages.SUGGEST_SHOWN_LIMIT] + "…"
    question = messages.SUGGEST_TITLE.format(command=shown)
    if len(command) > MESSAGE_ACTION_TEXT_LIMIT:
        return compose.card(question, question, [messages.SUGGEST_HINT_TOO_LONG.format(word=word)])
    button = {"type": "message", "label": messages.SUGGEST_BUTTON, "text": command}
    return compose.card(question, question, [messages.SUGGEST_HINT], [button])
