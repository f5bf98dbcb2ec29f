"""What the fake LINE platform saw and what it delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    response: Any
    at: datetime
    request_id: str


@dataclass(frozen=True)
class Delivery:
    """Messages LINE accepted (a 2xx reply or push)."""

    to: str
    messages: list[dict[str, Any]]
    via: str  # "reply" | "push"
    retry_key: str | None
    request_id: str
    at: datetime
    index: int  # never reset by clear(), so a poller's `after` stays meaningful
    sent_messages: list[dict[str, Any]]
    reply_token: str | None = None  # the token a reply used (LINE knows which event it answered)
