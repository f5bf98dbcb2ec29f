"""The browser chat simulator (/simulator): its page, its JSON API and the webhooks it posts.

The app is really served on a local port: the simulator POSTs signed webhooks to the bot's
own /callback over HTTP, the sender delivers to the fake LINE platform mounted at /_line,
and the page shows what that platform accepted. The tests drive the simulator's API with
Flask's test client and read the chat log it serves, as the page does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.cli.main import UsageError, build_parser
from bot.clock import Clock
from bot.config import load_config
from bot.simulator import rendering
from bot.simulator.clock import CLOCK_ENABLED, simulated_clock
from bot.simulator.mode import EXTENSION as FAKE_LINE
from bot.simulator.mode import SIMULATOR_TOKEN, simulator_app
from bot.simulator.views import EXTENSION
from models import InboxEvent, WebhookEvent

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2026, 11, 24, 10, 0, tzinfo=JST)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    app: Any
    runtime: Any
    url: str

    @property
    def sim(self) -> Any:
        return self.app.extensions[EXTENSION]

    @property
    def platform(self) -> Any:
        return self.app.extensions[FAKE_LINE]


@contextmanager
def serve_simulator(database_url: str, *, simulate_time: bool = False, start: datetime = START) -> Iterator[Served]:
    """What `kasane serve [--simulate-time]` runs without credentials, on a free port, in this process."""
    port = free_port()
    config = load_config(
        environ={},
        overrides={
            "database": {"url": database_url},
            "server": {"host": "127.0.0.1", "port": port},
            "scheduler": {"enabled": False},
            "sender": {"poll_interval": 0.2},
        },
    )
    assert config.simulator
    app = simulator_app(config, Clock(fixed=start))
    app.config[CLOCK_ENABLED] = simulate_time
    runtime = app.extensions["kasane"]
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    runtime.start_worker()
    try:
        yield Served(app, runtime, f"http://127.0.0.1:{port}")
    finally:
        runtime.shutdown()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        runtime.sender.gateway.close()
        runtime.engine.dispose()


class Simulator:
    """The simulator's JSON API, called as the page calls it."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.client = served.app.test_client()
        self.version = 0

    def state(self) -> dict[str, Any]:
        return self.client.get("/simulator/api/state").get_json()

    def person(self, name: str) -> str:
        return next(p["id"] for p in self.state()["people"] if p["name"] == name)

    @property
    def group(self) -> str:
        return self.state()["groups"][0]["id"]

    def post(self, path: str, payload: Any, status: int = 200) -> dict[str, Any]:
        response = self.client.post(f"/simulator/api/{path}", json=payload)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def log(self, chat: str, viewer: str = "", since: int = 0) -> str:
        data = self.client.get("/simulator/api/log", query_string={"chat": chat, "as": viewer, "since": since})
        assert data.status_code == 200
        return "\n".join(entry["html"] for entry in data.get_json()["entries"])

    def wait_for(self, chat: str, *needles: str, viewer: str = "", timeout: float = 5.0) -> str:
        """The chat log once every needle is in it (the bot answers through its outbox, a moment later)."""
        deadline = time.monotonic() + timeout
        while True:
            html = self.log(chat, viewer)
            if all(needle in html for needle in needles) or time.monotonic() > deadline:
                missing = [n for n in needles if n not in html]
                assert not missing, f"{missing} not in the chat log:\n{html}"
                return html
            time.sleep(0.05)

    def says(self, chat: str, person: str, text: str, **extra: Any) -> dict[str, Any]:
        return self.post("messages", {"chat": chat, "person": person, "text": text, **extra})


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serve_simulator(database_url) as served:
        yield served


@pytest.fixture
def sim(served: Served) -> Simulator:
    return Simulator(served)


HELP_CHIP = {"type": "message", "label": "使い方", "text": "ヘルプ"}


def push_from_bot(served: Served, to: str, *messages: dict[str, Any]) -> None:
    """A message as if the bot had pushed it: straight to the fake LINE platform's push API."""
    request = urllib.request.Request(
        f"{served.url}/_line/v2/bot/message/push",
        data=json.dumps({"to": to, "messages": list(messages)}).encode(),
        headers={"Authorization": f"Bearer {SIMULATOR_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    except urllib.error.HTTPError as error:
        raise AssertionError(error.read().decode()) from None


def processed(served: Served, event_type: str) -> int:
    """Events of this type the bot handled, once its worker thread has emptied the inbox."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with served.runtime.inbox.inbox.connect() as connection:
            if not connection.execute(select(InboxEvent.seq).limit(1)).first():
                break
        time.sleep(0.02)
    with served.runtime.sessions() as session:
        rows = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == event_type)).all()
        return len(rows)


# --- the page -------------------------------------------------------------------------------
def test_page_renders_a_line_like_group_without_inline_script(sim: Simulator):
    response = sim.client.get("/simulator")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "重ね（Kasane）シミュレーター" in html and "久留米ささえあいネット" in html
    assert "ボットをグループに招待" in html and "田中ゆかり" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html
    assert "時計" not in html  # the clock control only with --simulate-time
    for asset in ("simulator.css", "simulator.js"):
        assert sim.client.get(f"/simulator/static/{asset}").status_code == 200


def test_inviting_the_bot_posts_a_signed_join_over_http_and_shows_the_greeting(sim: Simulator, served: Served):
    tanaka = sim.person("田中ゆかり")
    sim.post("join", {"group": sim.group, "person": tanaka})
    html = sim.wait_for(sim.group, "重ね（Kasane）がグループに参加しました", "はじめまして。「重ね（Kasane）」です。")
    assert processed(served, "join") == 1
    # LINE's world knows the group and its members, so the bot's group-summary call succeeds.
    assert served.platform.world.chats[sim.group].name == "久留米ささえあいネット"
    assert 'class="msg bot"' in html


def test_a_webhook_the_bot_refuses_is_reported_not_hidden(sim: Simulator):
    tanaka = sim.person("田中ゆかり")
    sim.post("join", {"group": sim.group, "person": tanaka})
    sim.served.sim.webhooks.secret = "not-the-channel-secret"  # /callback must reject the signature
    error = sim.post("messages", {"chat": sim.group, "person": tanaka, "text": "ヘルプ"}, status=502)
    assert "webhook" in error["error"]
    assert "ボットに届きませんでした" in sim.log(sim.group)


def test_help_and_two_organizations_registering_are_answered_with_mentions(sim: Simulator):
    tanaka, sato = sim.person("田中ゆかり"), sim.person("佐藤健")
    sim.post("join", {"group": sim.group})
    sim.says(sim.group, tanaka, "ヘルプ")
    sim.wait_for(sim.group, "【使い方】", "団体登録")
    sim.says(sim.group, tanaka, "団体登録 子ども食堂ひまわり インフォーマル")
    sim.says(sim.group, sato, "団体登録 東部地域包括支援センター フォーマル")
    html = sim.wait_for(
        sim.group,
        '<span class="mention">@田中ゆかり</span> さんを「子ども食堂ひまわり」（インフォーマル）',
        '<span class="mention">@佐藤健</span> さんを「東部地域包括支援センター」（フォーマル）',
        viewer=tanaka,
    )
    # Seen by 田中: her own messages on the right, 佐藤's on the left with his name.
    assert html.count('class="msg mine"') == 2 and '<p class="sender">佐藤健</p>' in html


def test_quote_and_unsend_become_line_events(sim: Simulator, served: Served):
    tanaka, sato = sim.person("田中ゆかり"), sim.person("佐藤健")
    sim.post("join", {"group": sim.group})
    first = sim.says(sim.group, tanaka, "明日の配食、1件追加できます")["messageId"]
    sim.says(sim.group, sato, "ありがとうございます", quote=first)
    assert '<blockquote class="quoted"><span class="quoted-who">田中ゆかり</span> 明日の配食' in sim.log(sim.group)
    error = sim.post("unsend", {"chat": sim.group, "person": sato, "message": first}, status=400)
    assert error["error"] == "送信を取り消せるのは自分のメッセージだけです。"
    sim.post("unsend", {"chat": sim.group, "person": tanaka, "message": first})
    assert "田中ゆかりさんがメッセージの送信を取り消しました" in sim.log(sim.group)
    assert processed(served, "unsend") == 1
    sim.post("messages", {"chat": sim.group, "person": sato, "text": "再送", "quote": first}, status=400)


def test_new_members_new_groups_and_the_bots_one_to_one_chat(sim: Simulator):
    sim.post("join", {"group": sim.group})
    yamamoto = sim.post("people", {"name": "山本花子", "group": sim.group})["person"]["id"]
    sim.wait_for(sim.group, '<span class="mention">@山本花子</span> さん、ようこそ。')

    created = sim.post("groups", {"name": "東部校区の会", "members": [yamamoto, sim.person("佐藤健")]})
    sim.wait_for(created["group"]["id"], "はじめまして。「重ね（Kasane）」です。")

    sim.post("messages", {"chat": yamamoto, "person": yamamoto, "text": "ヘルプ"}, status=400)  # not a friend yet
    sim.post("follow", {"person": yamamoto})
    sim.wait_for(yamamoto, "友だち追加ありがとうございます。")
    sim.says(yamamoto, yamamoto, "ヘルプ")
    sim.wait_for(yamamoto, "【使い方】")


def test_buttons_and_quick_replies_of_a_card_become_postbacks_and_messages(sim: Simulator, served: Served):
    tanaka = sim.person("田中ゆかり")
    sim.post("join", {"group": sim.group})
    sim.wait_for(sim.group, "はじめまして")  # the greeting first, so the card is the latest message
    card = {
        "type": "flex",
        "altText": "#1 通院の付き添い",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "spacing": "sm",
                "contents": [
                    {"type": "text", "text": "#1 通院の付き添い", "weight": "bold", "size": "lg", "wrap": True},
                    {"type": "separator", "margin": "md"},
                    {"type": "text", "text": "高齢", "size": "sm", "color": "#555555"},
                    {"type": "box", "layout": "horizontal", "contents": [{"type": "filler"}]},
                ],
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action": {"type": "postback", "label": "伝手あり", "data": "a=t.c", "displayText": "伝手あり"},
                    },
                    {"type": "button", "action": {"type": "uri", "label": "詳しく", "uri": "https://example.org/t/1"}},
                ],
            },
        },
        "quickReply": {"items": [{"type": "action", "action": HELP_CHIP}]},
    }
    push_from_bot(served, sim.group, card)
    html = sim.wait_for(sim.group, 'class="fx-button fx-btn-primary fx-btn-md"', "伝手あり")
    assert 'data-color="#555555"' in html and '<hr class="fx-separator fx-m-md">' in html
    log = sim.client.get("/simulator/api/log", query_string={"chat": sim.group}).get_json()
    assert 'class="chip"' in log["quick"] and ">使い方</button>" in log["quick"]
    seq = int(html.split('data-entry="')[1].split('"')[0])

    press = {"chat": sim.group, "person": tanaka, "entry": seq}
    assert sim.post("press", {**press, "button": 0})["ok"]
    assert sim.post("press", {**press, "button": 1})["open"] == "https://example.org/t/1"
    sim.post("press", {**press, "button": 2})  # the quick reply: sends "ヘルプ" as 田中
    sim.wait_for(sim.group, "【使い方】")
    assert processed(served, "postback") == 1
    sim.post("press", {**press, "button": 3}, status=400)


def test_a_date_picker_sends_the_picked_date_with_the_postback(sim: Simulator, served: Served):
    tanaka = sim.person("田中ゆかり")
    sim.post("join", {"group": sim.group})
    sim.wait_for(sim.group, "はじめまして")  # the greeting first, so the question is the latest message
    picker = {"type": "datetimepicker", "label": "日付を選ぶ", "data": "a=m.move", "mode": "date"}
    ask = {"type": "text", "text": "いつにしますか？", "quickReply": {"items": [{"type": "action", "action": picker}]}}
    push_from_bot(served, sim.group, ask)
    html = sim.wait_for(sim.group, "いつにしますか？")
    seq = int(html.split('id="m-')[-1].split('"')[0])
    quick = sim.client.get("/simulator/api/log", query_string={"chat": sim.group}).get_json()["quick"]
    assert 'data-kind="datetimepicker" data-mode="date"' in quick
    press = {"chat": sim.group, "person": tanaka, "entry": seq, "button": 0}
    sim.post("press", {**press, "params": {"date": "2026-12-09 10:00"}}, status=400)
    sim.post("press", {**press, "params": {"time": "10:00"}}, status=400)
    sim.post("press", {**press, "params": {"date": "2026-12-09"}})
    assert processed(served, "postback") == 1


def test_the_clock_control_is_refused_without_simulate_time(sim: Simulator):
    error = sim.post("clock", {"amount": 1, "unit": "days"}, status=403)
    assert "--simulate-time" in error["error"]


def test_the_clock_moves_on_and_runs_the_jobs(database_url: str):
    with serve_simulator(database_url, simulate_time=True) as served:
        sim = Simulator(served)
        assert "時計" in sim.client.get("/simulator").get_data(as_text=True)
        answer = sim.post("clock", {"amount": 2, "unit": "days", "chat": sim.group})
        assert answer["now"] == "2026年11月26日(木) 10:00"
        assert served.runtime.clock.now() == START + timedelta(days=2)
        assert "時計を2日進めました" in sim.log(sim.group)
        sim.post("clock", {"amount": 0, "unit": "days"}, status=400)
        sim.post("clock", {"amount": 61, "unit": "days"}, status=400)
        sim.post("clock", {"amount": 1, "unit": "weeks"}, status=400)


# --- bad input is a 400 with a JSON error, never a 500 ----------------------------------------------
BAD_INPUT: list[tuple[str, Any]] = [
    ("messages", {"chat": "GROUP", "person": "Unobody", "text": "こんにちは"}),
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": ""}),
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": "   \n"}),
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": "あ" * 5001}),
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": "🙂" * 2501}),  # 5,002 UTF-16 units
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": 12}),
    ("messages", {"chat": "Cunknown", "person": "TANAKA", "text": "こんにちは"}),
    ("messages", {"chat": ["GROUP"], "person": "TANAKA", "text": "こんにちは"}),
    ("messages", {"chat": "GROUP", "person": "TANAKA", "text": "x", "quote": "999"}),
    ("messages", []),
    ("join", {"group": "Cunknown"}),
    ("members", {"group": "GROUP", "person": "TANAKA"}),
    ("members", {"group": "GROUP"}),
    ("people", {"name": ""}),
    ("people", {"name": "田中ゆかり"}),
    ("people", {"name": "あ" * 21}),
    ("people", {"name": "a\u0000b"}),
    ("groups", {"name": "会", "members": []}),
    ("groups", {"name": "会", "members": ["Unobody"]}),
    ("follow", {"person": None}),
    ("press", {"chat": "GROUP", "person": "TANAKA", "entry": "1", "button": 0}),
    ("press", {"chat": "GROUP", "person": "TANAKA", "entry": 999, "button": 0}),
    ("unsend", {"chat": "GROUP", "person": "TANAKA", "message": "123"}),
]


def test_bad_input_is_a_400_with_a_json_error_never_a_500(sim: Simulator):
    sim.post("join", {"group": sim.group})
    for path, payload in BAD_INPUT:
        text = json.dumps(payload).replace("GROUP", sim.group).replace("TANAKA", sim.person("田中ゆかり"))
        response = sim.client.post(f"/simulator/api/{path}", data=text, content_type="application/json")
        assert response.status_code == 400, (path, payload, response.get_data(as_text=True))
        assert response.get_json()["ok"] is False and response.get_json()["error"], (path, payload)


def test_talking_where_one_cannot_is_refused(sim: Simulator):
    outsider = sim.post("people", {"name": "部外者"})["person"]["id"]
    tanaka = sim.person("田中ゆかり")
    error = sim.post("messages", {"chat": sim.group, "person": tanaka, "text": "こんにちは"}, status=400)
    assert "ボットを招待" in error["error"]  # the bot is not in the group yet
    sim.post("join", {"group": sim.group})
    sim.post("join", {"group": sim.group}, status=400)
    error = sim.post("messages", {"chat": sim.group, "person": outsider, "text": "こんにちは"}, status=400)
    assert "メンバーではありません" in error["error"]
    form = "application/x-www-form-urlencoded"
    response = sim.client.post("/simulator/api/messages", data="chat=x", content_type=form)
    assert response.status_code == 400 and response.get_json()["error"]
    assert sim.client.get("/simulator/api/log?chat=Cunknown").status_code == 400


# --- pieces ---------------------------------------------------------------------------------
def test_simulate_time_starts_the_clock_where_asked(database_url: str):
    config = load_config(environ={}, overrides={"database": {"url": database_url}})
    clock = simulated_clock("2026-11-24T09:00", config)
    assert abs(clock.now() - datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) < timedelta(seconds=5)
    assert abs(simulated_clock("now", config).now() - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(UsageError, match="not an ISO-8601 time"):
        simulated_clock("next tuesday", config)
    line_mode = load_config(environ={}, overrides={"line": {"channel_secret": "s", "channel_access_token": "t"}})
    with pytest.raises(UsageError, match="only in simulator mode"):
        simulated_clock("now", line_mode)
    assert build_parser().parse_args(["serve", "--simulate-time"]).simulate_time == "now"
    assert build_parser().parse_args(["serve"]).simulate_time is None


def test_text_v2_and_flex_are_rendered_as_line_shows_them():
    names = {"U1": "田中"}
    message = {
        "type": "textV2",
        "text": "{a} さん {{括弧}} {all} https://example.org/x",
        "substitution": {
            "a": {"type": "mention", "mentionee": {"type": "user", "userId": "U1"}},
            "all": {"type": "mention", "mentionee": {"type": "all"}},
        },
    }
    assert rendering.segments(message, names) == [
        ("mention", "@田中"),
        ("text", " さん {括弧} "),
        ("mention", "@All"),
        ("text", " "),
        ("link", "https://example.org/x"),
    ]
    odd_text = {"type": "text", "text": "t", "color": "red;x", "size": "<b>"}
    body = {"type": "box", "layout": "weird", "contents": [odd_text]}
    bubble = {"type": "flex", "altText": "x", "contents": {"type": "bubble", "body": body}}
    node = rendering.flex_bubbles(bubble)[0]["blocks"][0]["node"]
    assert node["classes"] == "fx-vertical" and node["children"][0]["color"] is None
    assert node["children"][0]["classes"] == "fx-size-md fx-nowrap"


def test_template_messages_number_their_actions_like_the_server_looks_them_up():
    confirm = {
        "type": "template",
        "altText": "確認",
        "template": {
            "type": "confirm",
            "text": "出席しますか？",
            "actions": [
                {"type": "postback", "label": "はい", "data": "a=y"},
                {"type": "postback", "label": "いいえ", "data": "a=n"},
            ],
        },
        "quickReply": {"items": [{"type": "action", "action": HELP_CHIP}]},
    }
    [column] = rendering.template_columns(confirm)
    assert column["text"] == "出席しますか？"
    assert [(n, a["label"]) for n, a in column["actions"]] == [(0, "はい"), (1, "いいえ")]
    assert [a["label"] for a in rendering.actions_of(confirm)] == ["はい", "いいえ", "使い方"]
    assert rendering.quick_replies(confirm) == [(2, HELP_CHIP)]
    assert rendering.plain(confirm, {}) == "確認"
