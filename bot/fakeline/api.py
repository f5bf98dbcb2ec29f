"""The HTTP face of the fake platform: LINE's paths, status codes, headers and error bodies."""

from __future__ import annotations

import hmac
import json
import time
from typing import TYPE_CHECKING, Any

import flask

from bot.fakeline.ids import new_request_id
from bot.fakeline.records import RecordedRequest
from bot.fakeline.routes import FAKE_PREFIX, error, register_routes

if TYPE_CHECKING:
    from bot.fakeline.faults import Fault
    from bot.fakeline.platform import FakeLinePlatform

# LINE answers 413 to a request body over 2 MB (read as 2,000,000 bytes: the stricter reading).
MAX_BODY_BYTES = 2_000_000
AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."


def create_app(platform: FakeLinePlatform) -> flask.Flask:
    app = flask.Flask("bot.fakeline", static_folder=None)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def gate() -> flask.Response | None:
        flask.g.request_id = new_request_id()
        if flask.request.path.startswith(FAKE_PREFIX):
            return _inspection_gate(platform)
        return _gate(platform, _endpoint())

    @app.after_request
    def stamp_and_record(response: flask.Response) -> flask.Response:
        lost_answer = flask.g.pop("lost_answer", None)
        if lost_answer is not None:
            response = _faulted(lost_answer)
        response.headers.setdefault("x-line-request-id", flask.g.get("request_id") or new_request_id())
        if not flask.request.path.startswith(FAKE_PREFIX):
            platform.record_request(_recorded(platform, response))
        return response

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[flask.Response, int]:
        return flask.jsonify(message="Not found"), 404

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> tuple[flask.Response, int]:
        return flask.jsonify(message="Method Not Allowed"), 405

    register_routes(app, platform)
    return app


INSPECTION_KEY_HEADER = "X-Fake-Inspection-Key"


def _inspection_gate(platform: FakeLinePlatform) -> flask.Response | None:
    """The inspection API shows every message sent: with a key set, only to whoever has it."""
    key = platform.inspection_key
    if key is None or flask.request.path == FAKE_PREFIX + "health":
        return None
    given = flask.request.headers.get(INSPECTION_KEY_HEADER) or flask.request.args.get("key") or ""
    if hmac.compare_digest(given.encode(), key.encode()):
        return None
    return error(401, f"the inspection API needs the key printed at start ({INSPECTION_KEY_HEADER} or ?key=)")


def _endpoint() -> str | None:
    """The fault and rate-limit name of this request's endpoint (the Flask endpoint name)."""
    rule = flask.request.url_rule
    return rule.endpoint if rule is not None else None


def _gate(platform: FakeLinePlatform, endpoint: str | None) -> flask.Response | None:
    """Everything LINE does before looking at the request itself; a response stops the request."""
    if platform.latency:
        time.sleep(platform.latency)
    fault = platform.take_fault(endpoint)
    if fault is not None and fault.kind == "lost_answer":
        flask.g.lost_answer = fault  # processed as usual; the answer is lost afterwards
    elif fault is not None:
        return _faulted(fault)
    if (flask.request.content_length or 0) > MAX_BODY_BYTES or len(flask.request.get_data()) > MAX_BODY_BYTES:
        return error(413, "Request Entity Too Large")
    if flask.request.headers.get("Authorization") != f"Bearer {platform.channel_access_token}":
        return error(401, AUTH_FAILED)
    if not platform.within_rate_limit(endpoint):
        return error(429, RATE_LIMITED)
    return None


def _faulted(fault: Fault) -> flask.Response:
    if fault.kind in ("timeout", "lost_answer"):
        time.sleep(fault.seconds)
    response = error(fault.status, fault.message)
    response.headers.update(fault.headers)
    return response


def _recorded(platform: FakeLinePlatform, response: flask.Response) -> RecordedRequest:
    headers = dict(flask.request.headers)
    for name in list(headers):
        if name.lower() == "authorization":
            headers[name] = "Bearer ***"
    return RecordedRequest(
        method=flask.request.method,
        path=flask.request.full_path.rstrip("?"),
        headers=headers,
        body=_json_or_none(flask.request.get_data()),
        status=response.status_code,
        response=_json_or_none(response.get_data()),
        at=platform.now(),
        request_id=response.headers["x-line-request-id"],
    )


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
