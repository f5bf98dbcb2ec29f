"""The organizations page and the meetings page."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.web.dashboard.report_files import KIND_LABELS
from bot.web.dashboard.reports import _last_month, _month_options, _months_back
from bot.web.dashboard.web import bp, db, network_or_404, now
from models import EventKind, Network, Organization, Thread, ThreadEvent, ThreadState
from models.casebook import named_organizations
from models.connections import add_resource, resources
from models.consent import consents
from models.meeting_minutes import MINUTES_LIMIT, meetings_in, write_minutes
from models.report import Period, month_period, months_period, organization_stats, parse_month
from models.settings import MEETING_KINDS, network_settings
from models.thread import CONSENT_LABELS, Consent

log = logging.getLogger(__name__)
ANSWER_LABELS = {"yes": "出席", "no": "欠席", "maybe": "未定", None: "未回答"}
REASON_LABELS = {"flagged": "反応がない", "requested": "会議で相談の希望", "checkin": "伴走の様子確認", "added": "追加"}
PAST_DISCUSSIONS = 200
MINUTES_LOOKBACK = timedelta(days=400)  # the meetings whose minutes can be written here


@bp.get("/n/<int:network_id>/organizations")
def organizations(network_id: int) -> Any:
    """Default: the last twelve months (all time reads every response ever given: slower)."""
    network, _ = network_or_404(network_id)
    tz = network.timezone or "Asia/Tokyo"
    choice = request.args.get("month", "")
    parsed = parse_month(choice)
    if parsed:
        period: Period | None = month_period(*parsed, tz)
    elif choice == "all":
        period = None
    else:
        last = _last_month(network)
        choice, period = "", months_period(_months_back(last, 11), last, tz)
    return render_template(
        "dashboard/organizations.html",
        network=network,
        stats=organization_stats(db(), network, period),
        month=choice,
        period_label=period.label if period else "これまでのすべて",
        months=_month_options(network),
        kind_labels=KIND_LABELS,
        resources=resources(network),
        saved=request.args.get("saved", ""),
        named=named_organizations(network),
    )


@bp.post("/n/<int:network_id>/resources")
def add_missing_resource(network_id: int) -> Any:
    """Add a name to the network's list of 足りなかった資源."""
    network, _ = network_or_404(network_id)
    name = request.form.get("name", "").strip()
    if not name:
        abort(400, "資源の名前を入力してください。")
    add_resource(network, name)
    db().commit()
    return redirect(url_for("dashboard.organizations", network_id=network.id, saved="resource") + "#resources")


@dataclass
class MeetingsView:
    available: bool = False  # models.meeting is there and its tables exist
    schedule: Any = None
    next_meeting: Any = None
    attendance: list[tuple[str, str, str]] = field(default_factory=list)  # org, kind, answer
    agenda: list[Any] = field(default_factory=list)
    next_extra: Any = None  # the next meeting is a 臨時会議 (models.meeting_extra.Extra)
    extras: list[Any] = field(default_factory=list)  # every 臨時会議 still to come
    past: list[tuple[str, list[tuple[int, str]]]] = field(default_factory=list)  # date, [(number, 分野)]


def _from_meetings(network: Network) -> MeetingsView:
    """The meetings feature (models.meeting, another engineer's, being built at the same time):
    used when present; any failure falls back to the timeline's discussion events only."""
    from models.meeting import attendance, schedule_of
    from models.meeting_agenda import build_agenda
    from models.meeting_extra import next_of_all, upcoming_extras

    session, current = db(), now()
    view = MeetingsView(available=True, schedule=schedule_of(session, network))
    view.next_meeting, view.next_extra = next_of_all(session, network, current)
    view.extras = upcoming_extras(network, current)
    if view.next_meeting is not None:
        answers = attendance(session, network, view.next_meeting.original)
        orgs = session.scalars(
            select(Organization).where(Organization.network_id == network.id).order_by(Organization.name)
        )
        view.attendance = [
            (o.name, KIND_LABELS.get(o.kind, o.kind), ANSWER_LABELS.get(answers.get(o.id), "未回答")) for o in orgs
        ]
        view.agenda = build_agenda(session, network, view.next_meeting, current).items
    return view


def past_discussions(network: Network) -> list[tuple[str, list[tuple[int, str]]]]:
    """Threads discussed at meetings, from the timelines (EventKind.DISCUSSED): by the meeting's
    date when the event names it (models.meeting_agenda does), else by the event's local date."""
    zone = ZoneInfo(network.timezone or "Asia/Tokyo")
    rows = (
        db()
        .execute(
            select(ThreadEvent.at, ThreadEvent.detail, Thread.number, Thread.category)
            .join(Thread, Thread.id == ThreadEvent.thread_id)
            .where(Thread.network_id == network.id, ThreadEvent.kind == EventKind.DISCUSSED)
            .order_by(ThreadEvent.at.desc())
            .limit(PAST_DISCUSSIONS)
        )
        .all()
    )
    grouped: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for at, detail, number, category in rows:
        day = (detail or {}).get("meeting") or at.astimezone(zone).date().isoformat()
        grouped[str(day)].add((number, category))
    return [(day, sorted(grouped[day])) for day in sorted(grouped, reverse=True)]


@bp.get("/n/<int:network_id>/meetings")
def meetings(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    try:
        view = _from_meetings(network)
    except (ImportError, SQLAlchemyError, AttributeError, TypeError, ValueError):
        # Not there yet (or changed under us): say so on the page, log for the developers.
        log.warning("meetings page: models.meeting unavailable, showing discussions only", exc_info=True)
        db().rollback()
        view = MeetingsView()
    view.past = past_discussions(network)
    current = now()
    held = meetings_in(db(), network, current - MINUTES_LOOKBACK, current + timedelta(days=1))
    return render_template(
        "dashboard/meetings.html",
        network=network,
        view=view,
        reasons=REASON_LABELS,
        local=_local(network),
        held=list(reversed(held)),
        minutes_limit=MINUTES_LIMIT,
        saved=request.args.get("saved", ""),
        meeting_kind=network_settings(network).meeting_kind,
        meeting_kinds=MEETING_KINDS,
        without_consent=without_consent(network),
    )


def without_consent(network: Network) -> list[tuple[Thread, str]]:
    """Open threads whose 本人同意 is not あり: for the 支援会議 (社会福祉法 第106条の6), listed here
    only, never in the group. Oldest first, with the consent's label."""
    threads = list(
        db().scalars(
            select(Thread)
            .where(Thread.network_id == network.id, Thread.state == ThreadState.OPEN, Thread.retracted.is_(False))
            .order_by(Thread.posted_at)
        )
    )
    known = consents(db(), [t.id for t in threads])
    return [(t, CONSENT_LABELS[known[t.id]]) for t in threads if known[t.id] != Consent.YES]


@bp.post("/n/<int:network_id>/meetings/kind")
def meeting_kind(network_id: int) -> Any:
    """What the group's own meeting is: ネットワーク会議, 重層的支援会議 or 支援会議."""
    network, _ = network_or_404(network_id)
    kind = request.form.get("kind", "")
    if kind not in MEETING_KINDS:
        abort(400, "会議の種類を選んでください。")
    network.settings = {**(network.settings or {}), "meeting_kind": kind}
    db().commit()
    return redirect(url_for("dashboard.meetings", network_id=network.id, saved="kind"))


@bp.post("/n/<int:network_id>/meetings/<meeting>/minutes")
def meeting_minutes(network_id: int, meeting: str) -> Any:
    """議事録 of one meeting (by its date), masked like every stored text; replaces the earlier text."""
    network, member = network_or_404(network_id)
    try:
        day = date.fromisoformat(meeting)
    except ValueError:
        abort(404)
    text = request.form.get("text", "").strip()
    if not text:
        abort(400, "議事録を入力してください。")
    write_minutes(db(), network, day, text, member, now())
    db().commit()
    return redirect(url_for("dashboard.meetings", network_id=network.id, saved=day.isoformat()) + f"#m-{day}")


def _local(network: Network) -> Any:
    zone = ZoneInfo(network.timezone or "Asia/Tokyo")
    return lambda value: value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""
