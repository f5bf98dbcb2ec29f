"""The floor: the least a LINE webhook can do. Verify the signature and parse the events with
line-bot-sdk, answer 200. Served by waitress like ``kasane serve``.

``python -m bench.floor_app --port 9201 --secret S``
"""

from __future__ import annotations

import argparse

from flask import Flask, request
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser
from waitress import serve


def create_app(channel_secret: str) -> Flask:
    app = Flask(__name__)
    parser = WebhookParser(channel_secret)

    @app.post("/callback")
    def callback() -> tuple[str, int]:
        signature = request.headers.get("X-Line-Signature", "")
        body = request.get_data(as_text=True)
        try:
            parser.parse(body, signature)
        except InvalidSignatureError:
            return "invalid signature", 400
        return "OK", 200

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the floor: signature check and parse, then 200")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--threads", type=int, default=16, help="waitress threads (kasane serve's default: 16)")
    args = parser.parse_args(argv)
    serve(create_app(args.secret), host=args.host, port=args.port, threads=args.threads, ident="floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
