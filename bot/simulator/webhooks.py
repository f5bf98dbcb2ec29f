"""Delivering webhook events to the bot exactly as LINE does: a signed HTTP POST to /callback."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.fakeline import FakeLinePlatform, WebhookBuilder

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# LINE gives up after 2 seconds; the simulator is more patient so a slow laptop still shows the answer.
TIMEOUT = 10.0

Post = Callable[[str, bytes, dict[str, str]], int]


class WebhookFailed(Exception):
    """The bot did not accept the webhook (a non-2xx answer or no answer)."""


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError) as error:
        raise WebhookFailed(f"no answer from {url} ({error})") from None


class WebhookSender:
    """Builds events on the runtime's fake LINE platform, signs them with the channel secret, posts them."""

    def __init__(self, runtime: Runtime, platform: FakeLinePlatform, url: str, post: Post = http_post) -> None:
        self.builder = WebhookBuilder(platform, clock=runtime.clock.now)
        self.secret = runtime.channel_secret
        self.url = url
        self.post = post

    def send(self, *events: dict[str, Any]) -> None:
        body, headers = self.builder.signed_request(self.secret, *events)
        status = self.post(self.url, body, headers)
        if not 200 <= status < 300:
            log.warning("simulator: /callback answered %d to %s", status, [e.get("type") for e in events])
            raise WebhookFailed(f"/callback answered {status}")
