"""The fake LINE platform in a process of its own, for the benchmark.

``python -m bench.loadgen.fake_platform --port 9100 --token T`` serves bot.fakeline's
FakeLinePlatform under waitress, plus a few routes under ``/_bench/`` for the load generator:

- ``POST /_bench/world``   ``{"groups": [{"id", "name", "members": [{"id", "name"}]}], "friends": [...]}``
- ``POST /_bench/tokens``  ``{"counts": {chat_id: n}}`` → ``{chat_id: [reply tokens]}`` issued by LINE
- ``POST /_bench/latency`` ``{"seconds": 0.1}``: LINE's added latency on every API call
- ``GET  /_bench/replies`` what the bot sent since the last call (consumed), compact: one row per
  reply/push/read request, with the reply token and the time LINE accepted it (epoch seconds).

The platform's own request log is replaced by that compact, consumed log, and its delivery list
is cleared every few seconds, so that a 100,000-event run does not grow this process without end.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import deque
from typing import Any

from flask import Flask, jsonify, request
from waitress import serve
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bot.fakeline import FakeLinePlatform, RecordedRequest

BENCH_PREFIX = "/_bench"
MAX_TOKENS_PER_CHAT = 5000


def summary(messages: Any) -> str:
    """The first message as a person would glance at it: its text, or a Flex card's altText."""
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return ""
    first = messages[0]
    return str(first.get("text") or first.get("altText") or first.get("type") or "")[:200]


class BenchPlatform(FakeLinePlatform):
    """FakeLinePlatform whose request log is compact and read once (``take_log``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log: deque[dict[str, Any]] = deque()
        self._log_lock = threading.Lock()
        self._seq = 0

    def record_request(self, recorded: RecordedRequest) -> None:
        body = recorded.body if isinstance(recorded.body, dict) else {}
        row = {
            "path": recorded.path.split("?", 1)[0],
            "status": recorded.status,
            "at": recorded.at.timestamp(),
            "replyToken": body.get("replyToken"),
            "to": body.get("to"),
            "messages": len(body.get("messages") or []),
            "summary": summary(body.get("messages")),
        }
        with self._log_lock:
            self._seq += 1
            row["seq"] = self._seq
            self._log.append(row)

    def take_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            rows = list(self._log)
            self._log.clear()
        return rows


def bench_app(platform: BenchPlatform) -> Flask:
    app = Flask("bench.fake_platform")

    @app.post("/world")
    def world() -> Any:
        body = request.get_json(force=True)
        for group in body.get("groups", []):
            platform.add_group(group["id"], group["name"])
            for member in group.get("members", []):
                platform.add_member(group["id"], member["id"], member["name"])
        for friend in body.get("friends", []):
            platform.add_friend(friend["id"], friend["name"])
        return jsonify(ok=True)

    @app.post("/tokens")
    def tokens() -> Any:
        counts = request.get_json(force=True).get("counts", {})
        issued = {
            chat: [platform.issue_reply_token(chat) for _ in range(max(0, min(int(n), MAX_TOKENS_PER_CHAT)))]
            for chat, n in counts.items()
        }
        return jsonify(issued)

    @app.post("/latency")
    def latency() -> Any:
        platform.set_latency(float(request.get_json(force=True)["seconds"]))
        return jsonify(latency=platform.latency)

    @app.get("/replies")
    def replies() -> Any:
        return app.response_class(json.dumps(platform.take_log()), mimetype="application/json")

    @app.get("/bot")
    def bot() -> Any:
        return jsonify(botUserId=platform.bot_user_id)

    return app


def clear_deliveries_forever(platform: FakeLinePlatform, every: float) -> None:
    # Deliveries keep a deep copy of every message; the benchmark reads the compact log instead.
    while True:
        time.sleep(every)
        platform.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True, help="the channel access token the bots use")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=48)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    platform = BenchPlatform(args.token)
    platform.set_latency(args.latency)
    threading.Thread(target=clear_deliveries_forever, args=(platform, 5.0), daemon=True).start()
    app = DispatcherMiddleware(platform.app, {BENCH_PREFIX: bench_app(platform)})
    serve(app, host=args.host, port=args.port, threads=args.threads, connection_limit=1000, ident="fakeline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
