"""The usual LINE-bot pattern, as in line-bot-sdk's own examples (flask-kitchensink): a
WebhookHandler whose handlers call ``MessagingApi.reply_message`` inside the webhook request.

Every reply waits for LINE before the webhook can answer, so the webhook's answer time is
bounded below by LINE's latency. Served by waitress like ``kasane serve``.

``python -m bench.sdk_pattern_app --port 9202 --secret S --token T --api-base http://127.0.0.1:9100``
"""

from __future__ import annotations

import argparse
import logging

from flask import Flask, request
from linebot.v3 import WebhookHandler
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import (
    FollowEvent,
    JoinEvent,
    MemberJoinedEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
)
from waitress import serve

log = logging.getLogger("sdk_pattern")


def create_app(channel_secret: str, access_token: str, api_base: str) -> Flask:
    app = Flask(__name__)
    configuration = Configuration(host=api_base.rstrip("/"), access_token=access_token)
    handler = WebhookHandler(channel_secret)

    def reply(event: object, text: str) -> None:
        # As in the SDK's examples: a client per call, the reply sent before the webhook answers.
        with ApiClient(configuration) as api_client:
            try:
                MessagingApi(api_client).reply_message(
                    ReplyMessageRequest(reply_token=event.reply_token, messages=[TextMessage(text=text)])  # type: ignore[attr-defined]
                )
            except ApiException as exc:
                # The examples let this become a 500 (and LINE then redelivers); a redelivered
                # event's token is already used, so keep the benchmark's statuses meaningful.
                log.info("reply refused: %s", exc.status)

    @handler.add(MessageEvent, message=TextMessageContent)
    def on_text(event: MessageEvent) -> None:
        reply(event, event.message.text)  # type: ignore[union-attr]

    @handler.add(PostbackEvent)
    def on_postback(event: PostbackEvent) -> None:
        reply(event, f"postback: {event.postback.data}")

    @handler.add(JoinEvent)
    def on_join(event: JoinEvent) -> None:
        reply(event, "こんにちは")

    @handler.add(MemberJoinedEvent)
    def on_member_joined(event: MemberJoinedEvent) -> None:
        reply(event, "ようこそ")

    @handler.add(FollowEvent)
    def on_follow(event: FollowEvent) -> None:
        reply(event, "友だち追加ありがとうございます")

    @app.post("/callback")
    def callback() -> tuple[str, int]:
        signature = request.headers.get("X-Line-Signature", "")
        body = request.get_data(as_text=True)
        try:
            handler.handle(body, signature)
        except InvalidSignatureError:
            return "invalid signature", 400
        return "OK", 200

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LINE's SDK-example pattern: reply inside the request")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-base", required=True, help="LINE's API base URL (the fake platform)")
    parser.add_argument("--threads", type=int, default=16, help="waitress threads (kasane serve's default: 16)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = create_app(args.secret, args.token, args.api_base)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="sdk-pattern")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
