"""/simulator: the chat page and its small JSON API (simulator mode only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from flask import Blueprint, Response, current_app, get_template_attribute, jsonify, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from bot.simulator import rendering
from bot.simulator.clock import CLOCK_ENABLED, advance_and_run_jobs
from bot.simulator.line_app import LineApp, SimulatorError, parse_step
from bot.simulator.state import BOT_NAME, Entry

log = logging.getLogger(__name__)

EXTENSION = "kasane.simulator"
WEEKDAYS = "月火水木金土日"
# No inline scripts, styles or handlers, and nothing from the internet: what the page needs is all 'self'.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

blueprint = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def line_app() -> LineApp:
    return current_app.extensions[EXTENSION]


def clock_enabled() -> bool:
    return bool(current_app.config.get(CLOCK_ENABLED))


@dataclass
class Viewer:
    """What the templates need to show a chat to one person."""

    app: LineApp
    viewer: str
    tz: tzinfo

    def __post_init__(self) -> None:
        self.names = self.app.state.names()

    def name(self, user_id: str | None) -> str:
        return self.names.get(user_id or "", "LINEユーザー")

    def time(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%H:%M")

    def day(self, when: datetime) -> str:
        local = when.astimezone(self.tz)
        return f"{local.year}年{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"

    def segments(self, message: dict[str, Any]) -> list[rendering.Segment]:
        return rendering.segments(message, self.names)

    def flex(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return rendering.flex_bubbles(message)

    def template(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return rendering.template_columns(message)

    def quoted(self, entry: Entry) -> tuple[str, str] | None:
        if not entry.quoted_id:
            return None
        original = self.app.state.by_message_id(entry.chat, entry.quoted_id)
        if original is None or original.unsent:
            return ("", "（表示できないメッセージ）")
        who = BOT_NAME if original.kind == "bot" else self.name(original.sender)
        return (who, _one_line(rendering.plain(original.message, self.names)))

    def preview(self, entry: Entry) -> str:
        return _one_line(rendering.plain(entry.message, self.names))

    def quick_replies(self, chat: str) -> tuple[Entry | None, list[tuple[int, dict[str, Any]]]]:
        """LINE shows quick reply chips under the chat's latest message only."""
        log = self.app.state.log(chat)
        last = log[-1] if log else None
        if last is None or last.kind != "bot":
            return None, []
        return last, rendering.quick_replies(last.message)


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def viewer_for(person_id: str) -> Viewer:
    from zoneinfo import ZoneInfo

    return Viewer(line_app(), person_id, ZoneInfo(line_app().runtime.config.timezone))


def render_entries(entries: list[Entry], viewer: Viewer) -> list[dict[str, Any]]:
    macro = get_template_attribute("simulator/_chat.html", "entry")
    return [{"seq": e.seq, "html": str(macro(e, viewer))} for e in entries]


def render_quick_replies(chat: str, viewer: Viewer) -> str:
    return str(get_template_attribute("simulator/_chat.html", "quick_replies")(chat, viewer))


# --- the page ---------------------------------------------------------------------------
@blueprint.get("")
def index() -> str:
    app = line_app()
    app.sync()
    state = app.state
    with state.lock:
        people = list(state.people.values())
        groups = list(state.groups.values())
        person = state.people.get(request.args.get("as", "")) or (people[0] if people else None)
        chat_id = request.args.get("chat", "")
        if chat_id in state.people:  # a 1:1 chat with the bot: you are its owner
            person = state.people[chat_id]
            chat_id = person.id if person.friend else ""
        group = state.groups.get(chat_id)
        if group is None and chat_id != (person.id if person else None):
            group = groups[0] if groups else None
            chat_id = group.id if group else ""
        version = state.version
    viewer = viewer_for(person.id if person else "")
    return render_template(
        "simulator/index.html",
        people=people,
        groups=groups,
        person=person,
        group=group,
        chat_id=chat_id,
        members=[state.people[m] for m in group.members] if group else [],
        outsiders=[p for p in people if group and p.id not in group.members],
        entries=Markup("".join(e["html"] for e in render_entries(state.log(chat_id), viewer))) if chat_id else "",
        quick=render_quick_replies(chat_id, viewer) if chat_id else "",
        version=version,
        clock=clock_enabled(),
        now=viewer.day(app.now()) + " " + viewer.time(app.now()),
        counted=app.platform.counted_this_month(),
        allowance=app.platform.billing.allowance,
        bot_name=BOT_NAME,
        last_seq=state.last_seqs(),
    )


@blueprint.get("/api/log")
def chat_log() -> Response:
    app = line_app()
    app.sync()
    chat = request.args.get("chat", "")
    since = request.args.get("since", default=0, type=int)
    if chat not in app.state.groups and chat not in app.state.people:
        raise SimulatorError("そのチャットはありません。")
    viewer = viewer_for(request.args.get("as", ""))
    version = app.state.version
    return jsonify(
        version=version,
        entries=render_entries(app.state.entries_since(chat, since), viewer),
        quick=render_quick_replies(chat, viewer),
        now=viewer.day(app.now()) + " " + viewer.time(app.now()),
        last=app.state.last_seqs(),
    )


@blueprint.get("/api/state")
def world() -> Response:
    state = line_app().state
    with state.lock:
        return jsonify(
            people=[{"id": p.id, "name": p.name, "friend": p.friend} for p in state.people.values()],
            groups=[
                {"id": g.id, "name": g.name, "members": list(g.members), "botIn": g.bot_in}
                for g in state.groups.values()
            ],
            version=state.version,
            clock=clock_enabled(),
        )


# --- actions ---------------------------------------------------------------------------------
def body() -> dict[str, Any]:
    # JSON only: a cross-site form cannot send it without a CORS preflight, which this API never grants.
    data = request.get_json(silent=True) if request.is_json else None
    if not isinstance(data, dict):
        raise SimulatorError("JSON のオブジェクトで送ってください。")
    return data


def page(chat: str, person: str) -> str:
    return url_for("simulator.index", chat=chat, **{"as": person})


@blueprint.post("/api/people")
def add_person() -> Response:
    data = body()
    person = line_app().add_person(data.get("name"), data.get("group") or None)
    return jsonify(ok=True, person={"id": person.id, "name": person.name}, go=page(data.get("group") or "", person.id))


@blueprint.post("/api/groups")
def create_group() -> Response:
    data = body()
    members = data.get("members")
    members = [members] if isinstance(members, str) else members
    group = line_app().create_group(data.get("name"), members, invite_bot=data.get("inviteBot", True) is not False)
    person = data.get("person") if data.get("person") in group.members else group.members[0]
    return jsonify(ok=True, group={"id": group.id, "name": group.name}, go=page(group.id, person))


@blueprint.post("/api/join")
def invite_bot() -> Response:
    data = body()
    line_app().invite_bot(data.get("group"))
    person = data.get("person") if isinstance(data.get("person"), str) else ""
    return jsonify(ok=True, version=line_app().state.version, go=page(data["group"], person))


@blueprint.post("/api/members")
def add_member() -> Response:
    data = body()
    line_app().add_member(data.get("group"), data.get("person"))
    return jsonify(ok=True, go=page(data["group"], data["person"]))


@blueprint.post("/api/follow")
def follow() -> Response:
    data = body()
    line_app().follow(data.get("person"))
    return jsonify(ok=True, go=page(data["person"], data["person"]))


@blueprint.post("/api/messages")
def say() -> Response:
    data = body()
    entry = line_app().say(data.get("chat"), data.get("person"), data.get("text"), data.get("quote") or None)
    return jsonify(ok=True, messageId=entry.message_id, version=line_app().state.version)


@blueprint.post("/api/press")
def press() -> Response:
    data = body()
    outcome = line_app().press(
        data.get("chat"), data.get("person"), data.get("entry"), data.get("button"), data.get("params")
    )
    return jsonify(ok=True, version=line_app().state.version, **outcome)


@blueprint.post("/api/unsend")
def unsend() -> Response:
    data = body()
    line_app().unsend(data.get("chat"), data.get("person"), data.get("message"))
    return jsonify(ok=True, version=line_app().state.version)


@blueprint.post("/api/clock")
def advance_clock() -> Response:
    if not clock_enabled():
        raise SimulatorError("時計の操作は `kasane serve --simulate-time` で起動したときだけ使えます。", 403)
    data = body()
    step = parse_step(data.get("amount"), data.get("unit"))
    app = line_app()
    now = advance_and_run_jobs(app.runtime, step)
    viewer = viewer_for("")
    label = viewer.day(now) + " " + viewer.time(now)
    chat = data.get("chat")
    if isinstance(chat, str) and (chat in app.state.groups or chat in app.state.people):
        amount = f"{data['amount']}{'時間' if data['unit'] == 'hours' else '日'}"
        app.note(chat, f"時計を{amount}進めました（{label}）")
    return jsonify(ok=True, now=label, version=app.state.version)


# --- answers ------------------------------------------------------------------------------
@blueprint.errorhandler(SimulatorError)
def refused(error: SimulatorError) -> tuple[Response, int]:
    return jsonify(ok=False, error=error.message), error.status


@blueprint.errorhandler(Exception)
def failed(error: Exception) -> Any:
    if isinstance(error, HTTPException):
        return error
    log.exception("simulator: %s failed", request.path)
    return jsonify(ok=False, error="シミュレーターの内部でエラーが起きました。ログを確認してください。"), 500


@blueprint.after_request
def headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/simulator/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response
