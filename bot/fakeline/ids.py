"""Identifiers shaped like the ones LINE hands out."""

from __future__ import annotations

import itertools
import re
import secrets
import uuid

# LINE ids are a type letter followed by 32 lowercase hex digits (webhook.yml: `U[0-9a-f]{32}`).
CHAT_ID_PATTERN = re.compile(r"^[CRU][0-9a-f]{32}$")

# Message ids are decimal strings of about 18 digits ("444573844083572737" in LINE's samples);
# counting up from a random start keeps them unique and ordered within one run.
_message_ids = itertools.count(400_000_000_000_000_000 + secrets.randbelow(10**16))


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def new_group_id() -> str:
    return "C" + secrets.token_hex(16)


def new_room_id() -> str:
    return "R" + secrets.token_hex(16)


def new_message_id() -> str:
    return str(next(_message_ids))


def new_reply_token() -> str:
    return secrets.token_hex(16)


def new_quote_token() -> str:
    return secrets.token_urlsafe(48)


def new_request_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    """Whether `value` is a hexadecimal UUID such as `123e4567-e89b-12d3-a456-426614174000`."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def chat_kind(chat_id: str) -> str:
    """`group`, `room` or `user`, from the id's first letter (how LINE ids are typed)."""
    return {"C": "group", "R": "room"}.get(chat_id[:1], "user")
