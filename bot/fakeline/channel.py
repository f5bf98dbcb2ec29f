"""The channel's own settings, as LINE's API shows them: bot info and the webhook endpoint, and the
webhook test (LINE really POSTs to the endpoint, as its console's Verify button does).

Shapes follow line-openapi/messaging-api.yml (BotInfoResponse, GetWebhookEndpointResponse,
TestWebhookEndpointResponse). A test makes each go wrong with ``platform.set_bot_info(chat_mode=
"chat")``, ``platform.set_webhook_endpoint(url, active=False)``, an endpoint that does not answer
or answers non-2xx, or ``fail_next(endpoint=...)``.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import responses
from typing import TYPE_CHECKING, Any

import flask

if TYPE_CHECKING:
    from bot.fakeline.platform import FakeLinePlatform

# LINE gives a webhook 2 seconds (LINE-NOTES); its test call waits as long.
WEBHOOK_TIMEOUT = 2.0


@dataclass
class ChannelSettings:
    display_name: str = "Kasane"
    basic_id: str = "@123kasane"
    chat_mode: str = "bot"  # "chat" when チャット is on in LINE Official Account Manager
    mark_as_read_mode: str = "auto"
    picture_url: str | None = None
    webhook_endpoint: str | None = None  # nothing set in the console yet
    webhook_active: bool = False  # "Use webhook"


def register_channel_routes(app: flask.Flask, platform: FakeLinePlatform) -> None:
    def route(rule: str, endpoint: str, view: Any, methods: tuple[str, ...] = ("GET",)) -> None:
        app.add_url_rule(rule, endpoint, lambda **kw: view(platform, **kw), methods=list(methods))

    route("/v2/bot/info", "bot_info", bot_info)
    route("/v2/bot/channel/webhook/endpoint", "webhook_endpoint", webhook_endpoint)
    route("/v2/bot/channel/webhook/endpoint", "set_webhook_endpoint", set_webhook_endpoint, ("PUT",))
    route("/v2/bot/channel/webhook/test", "webhook_test", webhook_test, ("POST",))


def bot_info(platform: FakeLinePlatform) -> flask.Response:
    with platform.lock:
        settings = platform.channel
        body = {
            "userId": platform.bot_user_id,
            "basicId": settings.basic_id,
            "displayName": settings.display_name,
            "chatMode": settings.chat_mode,
            "markAsReadMode": settings.mark_as_read_mode,
        }
        if settings.picture_url:
            body["pictureUrl"] = settings.picture_url
    return flask.jsonify(body)


def webhook_endpoint(platform: FakeLinePlatform) -> flask.Response:
    with platform.lock:
        settings = platform.channel
        if settings.webhook_endpoint is None:
            # Not documented word for word: a channel without a webhook URL has nothing to show.
            return _error(404, "The webhook endpoint is not set")
        return flask.jsonify(endpoint=settings.webhook_endpoint, active=settings.webhook_active)


def set_webhook_endpoint(platform: FakeLinePlatform) -> flask.Response:
    body = flask.request.get_json(silent=True)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str) or not endpoint.startswith("https://") or len(endpoint) > 500:
        details = [{"message": "Invalid URL", "property": "endpoint"}]
        return _error(400, "The request body has 1 error(s)", details=details)
    with platform.lock:
        platform.channel.webhook_endpoint = endpoint
    return flask.jsonify({})


def webhook_test(platform: FakeLinePlatform) -> flask.Response:
    body = flask.request.get_json(silent=True) or {}
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    with platform.lock:
        endpoint = endpoint or platform.channel.webhook_endpoint
        destination, secret, ca = platform.bot_user_id, platform.channel_secret or "", platform.webhook_tls_ca
    if not endpoint:
        return _error(400, "The webhook endpoint is not set")
    status, reason, detail = post_verification(endpoint, destination, secret, ca)
    return flask.jsonify(
        success=200 <= status < 300,
        timestamp=_timestamp(platform.now()),
        statusCode=status,
        reason=reason,
        detail=detail,
    )


def _timestamp(moment: datetime) -> str:
    """As LINE writes it: UTC, milliseconds, "Z" (2020-09-30T05:38:20.031Z)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def post_verification(endpoint: str, destination: str, secret: str, ca: str | None) -> tuple[int, str, str]:
    """What LINE's Verify sends: no events, signed with the channel secret. (status, reason, detail);
    the reasons are those LINE's webhook error statistics use."""
    from bot.fakeline.webhook import encode_body, sign  # here: webhook.py imports the platform, which imports us

    payload = encode_body({"destination": destination, "events": []})
    request = urllib.request.Request(
        endpoint,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": sign(payload, secret),
        },
    )
    context = ssl.create_default_context(cafile=ca) if endpoint.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT, context=context) as answer:
            return answer.status, "OK", str(answer.status)
    except urllib.error.HTTPError as error:
        return error.code, "ERROR_STATUS_CODE", f"{error.code} {responses.get(error.code, '')}".strip()
    except TimeoutError:
        return 0, "REQUEST_TIMEOUT", "no answer within 2 seconds"
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError | socket.timeout):
            return 0, "REQUEST_TIMEOUT", "no answer within 2 seconds"
        return 0, "COULD_NOT_CONNECT", str(error.reason)
    except OSError as error:
        return 0, "UNCLASSIFIED", error.__class__.__name__


def _error(status: int, message: str, **extra: Any) -> flask.Response:
    response = flask.jsonify(message=message, **extra)
    response.status_code = status
    return response
