"""FakeLinePlatform: a stand-in for LINE's Messaging API, for tests, the simulator and offline work."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import flask

from bot.fakeline.api import create_app
from bot.fakeline.billing import FREE_PLAN, Billing
from bot.fakeline.channel import ChannelSettings
from bot.fakeline.faults import ENDPOINTS, Fault, FaultQueue, TokenBucket
from bot.fakeline.ids import new_message_id, new_user_id
from bot.fakeline.records import Delivery, RecordedRequest
from bot.fakeline.world import AcceptedKey, Chat, Member, World


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FakeLinePlatform:
    """LINE's Messaging API for one channel: its world, what it was asked and accepted, and faults.

    Thread-safe: every public method takes `lock`, and the HTTP layer holds it while it reads or
    changes `world`. `app` is the WSGI app; FakeLineServer serves it on a local port.
    """

    def __init__(
        self,
        channel_access_token: str = "fake-token",
        *,
        clock: Callable[[], datetime] | None = None,
        bot_user_id: str | None = None,
        rate_limit: float = 2000.0,
        channel_secret: str | None = None,
        plan: int | None = None,
        inspection_key: str | None = None,
    ) -> None:
        self.channel_access_token = channel_access_token
        # When set, the inspection API (/_fake/..., except health) asks for it: the simulator
        # serves the fake on its public port and prints a new key at each start.
        self.inspection_key = inspection_key
        # Signs the webhook test's POST, as LINE signs every webhook (None: an empty key).
        self.channel_secret = channel_secret
        self.channel = ChannelSettings()
        # A CA file the webhook test trusts besides the system's (a test's own HTTPS front).
        self.webhook_tls_ca: str | None = None
        self.clock = clock or _utc_now
        self.bot_user_id = bot_user_id or new_user_id()
        self.lock = threading.Lock()
        self.world = World()
        # The channel's plan (counted messages a month; None, the default: no target limit, so a
        # test pushes freely; the simulator sets the free plan's 200) and what LINE counted.
        self.billing = Billing(allowance=plan)
        self.undelivered: list[Delivery] = []  # pushes accepted for users who do not follow the bot
        self.requests: list[RecordedRequest] = []
        self.left_groups: list[str] = []  # groups the bot left by calling LINE (leave_group)
        self._deliveries: list[Delivery] = []
        self._delivery_index = itertools.count()
        self._faults = FaultQueue()
        self._latency = 0.0
        self._buckets = {endpoint: TokenBucket(rate_limit) for endpoint in ENDPOINTS}
        self.app: flask.Flask = create_app(self)

    def now(self) -> datetime:
        return self.clock()

    # world state

    def add_group(self, group_id: str, name: str, picture_url: str | None = None) -> None:
        """The bot is in this group (a "C…" id) or multi-person chat (an "R…" id)."""
        with self.lock:
            self.world.chats.setdefault(group_id, Chat(name))
            self.world.chats[group_id].name = name
            self.world.chats[group_id].picture_url = picture_url

    def add_member(self, group_id: str, user_id: str, display_name: str, picture_url: str | None = None) -> None:
        with self.lock:
            self.world.chat(group_id).members[user_id] = Member(display_name, picture_url)
            self.world.known_users.add(user_id)

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self.world.chat(group_id).members.pop(user_id, None)

    def remove_group(self, group_id: str) -> None:
        """The bot left (or was removed from) the group."""
        with self.lock:
            self.world.chats.pop(group_id, None)

    def add_friend(self, user_id: str, display_name: str, picture_url: str | None = None) -> None:
        with self.lock:
            self.world.friends[user_id] = Member(display_name, picture_url)
            self.world.known_users.add(user_id)

    def remove_friend(self, user_id: str) -> None:
        with self.lock:
            self.world.friends.pop(user_id, None)

    def issue_reply_token(self, chat_id: str) -> str:
        with self.lock:
            return self.world.issue_reply_token(chat_id, self.now())

    def redeliver_reply_token(self, token: str) -> None:
        """The event carrying `token` was redelivered now: LINE gives it another minute."""
        with self.lock:
            self.world.redeliver_reply_token(token, self.now())

    def issue_quote_token(self, chat_id: str) -> str:
        with self.lock:
            return self.world.issue_quote_token(chat_id)

    # what happened

    def deliveries(self, chat_id: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self._deliveries if chat_id is None or d.to == chat_id]

    def deliveries_after(self, index: int) -> list[Delivery]:
        with self.lock:
            return [d for d in self._deliveries if d.index > index]

    def counted_this_month(self) -> int:
        """Counted messages in this calendar month (Japan time), as LINE bills them."""
        with self.lock:
            return self.billing.used(self.now())

    def counted_to(self, to: str) -> int:
        """What pushes to one chat or user counted this month."""
        from bot.fakeline.billing import month_of

        with self.lock:
            return self.billing.by_recipient.get(month_of(self.now()), {}).get(to, 0)

    def clear(self) -> None:
        """Forget requests and deliveries; chats, friends, tokens and faults stay."""
        with self.lock:
            self.requests.clear()
            self._deliveries.clear()

    def record_request(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def accept(
        self,
        *,
        via: str,
        to: str,
        messages: list[dict[str, Any]],
        retry_key: str | None,
        request_id: str,
        reply_token: str | None = None,
        recipients: int = 1,
    ) -> list[dict[str, Any]]:
        """Record a delivery, count what LINE bills for it, and return its `sentMessages`.

        Call with the lock held. A push counts ``recipients`` (a reply is free); a push to a user
        who does not follow the bot (``recipients`` 0) is accepted and never delivered.
        """
        now = self.now()
        sent = [self._sent_message(to, message) for message in messages]
        if via == "push":
            self.billing.charge(now, to, recipients)
        delivered = via != "push" or recipients > 0 or to in self.world.chats  # an empty group still shows it
        (self._deliveries if delivered else self.undelivered).append(
            Delivery(
                to=to,
                messages=copy.deepcopy(messages),
                via=via,
                retry_key=retry_key,
                request_id=request_id,
                at=now,
                index=next(self._delivery_index),
                sent_messages=sent,
                reply_token=reply_token,
            )
        )
        if retry_key is not None:
            self.world.retry_keys[retry_key] = AcceptedKey(request_id, sent, now)
        return sent

    def _sent_message(self, to: str, message: dict[str, Any]) -> dict[str, Any]:
        sent: dict[str, Any] = {"id": new_message_id()}
        # sentMessages carry a quoteToken only for messages that can be quoted.
        if message.get("type") in ("text", "textV2", "sticker"):
            sent["quoteToken"] = self.world.issue_quote_token(to)
        return sent

    # the channel's settings (LINE Developers console, LINE Official Account Manager)

    def set_bot_info(
        self, *, display_name: str | None = None, basic_id: str | None = None, chat_mode: str | None = None
    ) -> None:
        with self.lock:
            if display_name is not None:
                self.channel.display_name = display_name
            if basic_id is not None:
                self.channel.basic_id = basic_id
            if chat_mode is not None:
                self.channel.chat_mode = chat_mode
                self.channel.mark_as_read_mode = "manual" if chat_mode == "chat" else "auto"

    def set_webhook_endpoint(self, url: str | None, *, active: bool = True) -> None:
        """The console's Webhook URL and its "Use webhook" switch."""
        with self.lock:
            self.channel.webhook_endpoint = url
            self.channel.webhook_active = active

    # fault injection

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        message: str = "Internal Server Error",
        headers: dict[str, str] | None = None,
        endpoint: str | None = None,
    ) -> None:
        fault = Fault("fail", n, endpoint, status=status, message=message, headers=dict(headers or {}))
        with self.lock:
            self._faults.add(fault)

    def timeout_next(
        self, n: int = 1, *, seconds: float = 5.0, endpoint: str | None = None, processed: bool = False
    ) -> None:
        """Hold the next n requests for `seconds`, then answer 504.

        By default the request is dropped unprocessed. `processed=True` is the case LINE warns
        about: the message was delivered but the answer never came back (a retry key then gets 409).
        """
        kind = "lost_answer" if processed else "timeout"
        fault = Fault(kind, n, endpoint, status=504, message="Gateway Timeout", seconds=seconds)
        with self.lock:
            self._faults.add(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        with self.lock:
            self._latency = seconds

    def set_plan(self, allowance: int | None) -> None:
        """The channel's plan: counted messages a month (200 free, 5,000 ライト, 30,000 スタンダード), or None."""
        with self.lock:
            self.billing.allowance = allowance

    def monthly_limit_reached(self, flag: bool = True) -> None:
        """This month's allowance is spent (True) or no longer marked spent (False)."""
        from bot.fakeline.billing import month_of

        with self.lock:
            month = month_of(self.now())
            if flag:
                if self.billing.allowance is None:
                    self.billing.allowance = FREE_PLAN  # a month that can run out has a limit
                self.billing.exhausted.add(month)
            else:
                self.billing.exhausted.discard(month)

    # used by the API layer

    @property
    def latency(self) -> float:
        with self.lock:
            return self._latency

    def take_fault(self, endpoint: str | None) -> Fault | None:
        with self.lock:
            return self._faults.take(endpoint)

    def within_rate_limit(self, endpoint: str | None) -> bool:
        with self.lock:
            bucket = self._buckets.get(endpoint) if endpoint else None
            return bucket is None or bucket.try_take()
