"""A thread's timeline as coordinators read it: when, who (and for which organization),
through which door, and what happened, in plain Japanese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.replies import messages
from models import (
    EventKind,
    Member,
    Network,
    Organization,
    OutboxMessage,
    OutboxStatus,
    Response,
    ResponseKind,
    Thread,
    ThreadEvent,
)
from models.connections import REFERRAL_KIND_LABELS
from models.dashboard import ThreadNote
from models.settings import NetworkSettings, network_settings
from models.thread import CONSENT_LABELS

VIA_LABELS = {"chat": "LINE", "dashboard": "ダッシュボード", "job": "自動", "cli": "コマンド"}
RESPONSE_LABELS = {
    ResponseKind.CONNECTION: "伝手",
    ResponseKind.OFFER: "手伝えます",
    ResponseKind.COMMENT: "コメント",
    ResponseKind.WATCH: "気にかけています",
}
FIELD_LABELS = {"category": "分野", "area": "地区", "state": "状態", "outcome": "結果"}
TITLES = {
    EventKind.POSTED: "投稿",
    EventKind.CORRECTED: "分野・地区の修正",
    EventKind.RESPONSE: "反応",
    EventKind.COMMENT: "コメント",
    EventKind.WATCH: "気にかけています",
    EventKind.OUTCOME: "結果の記録",
    EventKind.REOPENED: "再開",
    EventKind.RETRACTED: "投稿の取り消し（送信取消）",
    EventKind.EDITED: "要約の編集",
    EventKind.FOLLOWUP: "フォローアップ",
    EventKind.FLAGGED: "会議の議題へ",
    EventKind.MEETING_REQUESTED: "会議で相談の申し出",
    EventKind.DISCUSSED: "会議で話し合い",
    EventKind.NOTE: "メモの追加",
    EventKind.CONSENT: "本人同意",
    EventKind.MISSING: "足りなかった資源",
    EventKind.SHARED: "事例として共有",
}


@dataclass
class Entry:
    at: datetime
    title: str
    who: str
    via: str
    lines: list[str]
    correction: bool = False  # an outcome set from the dashboard with a reason


def _outcome(value: Any) -> str:
    from bot.web.dashboard.caselog import outcome_text

    try:
        return outcome_text(value)
    except ValueError:
        return str(value)


def _who(event: ThreadEvent, members: dict[int, Member], orgs: dict[int, str]) -> str:
    if event.actor_id is None:
        return "重ね（自動）"
    member = members.get(event.actor_id)
    name = (member.display_name if member else "") or "（名前未取得）"
    org = orgs.get(event.organization_id or 0)
    return f"{name}（{org}）" if org else name


MASKED_LABELS = {
    "phone": "電話番号",
    "email": "メール",
    "postal": "郵便番号",
    "address": "住所",
    "mynumber": "個人番号",
    "birthdate": "生年月日",
    "name": "氏名",
}


def followup_title(step: str, settings: NetworkSettings) -> str:
    """The follow-up as people call it: 3日後の呼びかけ, その後いかがですか（2回目）, 伴走の様子うかがい."""
    if step == "nudge":
        return f"フォローアップ（{settings.nudge_days}日後の呼びかけ）"
    if step.startswith("check") and step[5:].isdigit():
        return f"その後いかがですか（{int(step[5:])}回目）"
    period = step.removeprefix("accompany").split(":", 1)[0]
    if step.startswith("accompany") and period.isdigit():
        return f"伴走の様子うかがい（{int(period)}回目）"
    return "フォローアップ"


def _retracted(detail: dict[str, Any], thread: Thread) -> tuple[str, list[str]]:
    if detail.get("response_id"):
        return "返信の取り消し（送信取消）", ["返信の本文を消しました。"]
    if detail.get("original_only"):
        return "元のメッセージの送信取消", ["伏せて記録した要約は残っています。"]
    lines = ["投稿した方が送信を取り消したため、本文を消しました。"]
    if thread.is_open:
        lines.append("困りごとは受付中のままです。終わっていれば結果を記録してください。")
    return TITLES[EventKind.RETRACTED], lines


def delivery_line(state: tuple[str, str | None, str | None]) -> str:
    """What became of a follow-up: sent only once LINE accepted it; otherwise why not."""
    status, via, error = state
    if status == OutboxStatus.SENT:
        return messages.TIMELINE_SENT
    if status == OutboxStatus.CARRIED:
        return messages.TIMELINE_RIDDEN if via == "ride" else messages.TIMELINE_FOLDED
    if status in (OutboxStatus.FAILED, OutboxStatus.DROPPED):
        code = (error or "").split(":", 1)[0]
        reason = messages.TIMELINE_REASONS.get(code, messages.TIMELINE_REASONS["other"])
        return messages.TIMELINE_NOT_SENT.format(reason=reason)
    return messages.TIMELINE_HELD if status == OutboxStatus.HELD else messages.TIMELINE_WAITING


def _lines(
    event: ThreadEvent,
    responses: dict[int, Response],
    thread: Thread,
    settings: NetworkSettings,
    delivered: dict[str, tuple[str, str | None, str | None]],
) -> tuple[str, list[str]]:
    detail = event.detail or {}
    kind = event.kind
    title = TITLES.get(EventKind(kind), "記録") if kind in set(EventKind) else "記録"
    if kind in (EventKind.RESPONSE, EventKind.COMMENT):
        response = responses.get(detail.get("response_id", 0))
        # The response row knows its kind; the event's detail key has changed name before.
        kind_of = response.kind if response else detail.get("response_kind", detail.get("kind"))
        label = RESPONSE_LABELS.get(kind_of or ResponseKind.COMMENT, "反応")
        text = response.text if response and response.text else "（本文なし）"
        return label, [text]
    if kind == EventKind.POSTED:
        return title, [f"分野：{detail.get('category') or '-'}　地区：{detail.get('area') or '-'}"]
    if kind == EventKind.CORRECTED:
        before, after = detail.get("before", {}), detail.get("after", {})
        return title, [f"{FIELD_LABELS.get(k, k)}：{before.get(k) or '-'} → {v or '-'}" for k, v in after.items()]
    if kind == EventKind.OUTCOME:
        before = detail.get("before", {})
        lines = [f"{_outcome(before.get('outcome'))} → {_outcome(detail.get('outcome'))}"]
        if detail.get("referred_to"):
            kind = REFERRAL_KIND_LABELS.get(detail.get("referral_kind") or "formal", "")
            lines.append(f"つなぎ先：{detail['referred_to']}（{kind}）")
        if detail.get("end_reason"):
            lines.append(f"終了の理由：{detail['end_reason']}")
        if detail.get("reason"):
            lines.append(f"修正の理由：{detail['reason']}")
        return title, lines
    if kind == EventKind.REOPENED:
        return title, [f"それまでの結果：{_outcome((detail.get('before') or {}).get('outcome'))}"]
    if kind == EventKind.FOLLOWUP:
        state = delivered.get(f"followup:{thread.id}:{detail.get('step', '')}")
        return followup_title(str(detail.get("step", "")), settings), [delivery_line(state)] if state else []
    if kind == EventKind.FLAGGED:
        return title, [f"{settings.flag_days}日間、伝手も申し出もなかったため"]
    if kind == EventKind.RETRACTED:
        return _retracted(detail, thread)
    if kind == EventKind.EDITED:
        title = "返信の編集" if detail.get("response_id") else title
        hidden = "・".join(MASKED_LABELS.get(k, "個人情報") for k in detail.get("masked") or [])
        return title, [f"伏せた情報：{hidden}"] if hidden else []
    if kind == EventKind.SHARED:
        return title, ["事例集に載せます" if detail.get("shared") else "事例集から外しました"]
    if kind == EventKind.MISSING:
        return title, [str(detail.get("resource") or "-")]
    if kind == EventKind.CONSENT:
        labels = {str(k): v for k, v in CONSENT_LABELS.items()}
        before, after = labels.get(detail.get("before", ""), "未確認"), labels.get(detail.get("consent", ""), "-")
        return title, [f"{before} → {after}"]
    if kind == EventKind.DISCUSSED and detail.get("meeting"):
        return title, [f"会議：{detail['meeting']}"]
    return title, []


def timeline(session: Session, thread: Thread) -> list[Entry]:
    events = list(
        session.scalars(
            select(ThreadEvent).where(ThreadEvent.thread_id == thread.id).order_by(ThreadEvent.at, ThreadEvent.id)
        )
    )
    responses = {r.id: r for r in session.scalars(select(Response).where(Response.thread_id == thread.id))}
    actor_ids = {e.actor_id for e in events if e.actor_id}
    members = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(actor_ids)))} if actor_ids else {}
    orgs = dict(
        session.execute(
            select(Organization.id, Organization.name).where(Organization.network_id == thread.network_id)
        ).all()
    )
    network = session.get(Network, thread.network_id)
    settings = network_settings(network) if network is not None else NetworkSettings()
    # What became of each follow-up the job queued (its once-only key names it).
    delivered = {
        key: (status, via, error)
        for key, status, via, error in session.execute(
            select(
                OutboxMessage.dedupe_key, OutboxMessage.status, OutboxMessage.sent_via, OutboxMessage.last_error
            ).where(OutboxMessage.dedupe_key.like(f"followup:{thread.id}:%"))
        )
    }
    entries = []
    for event in events:
        title, lines = _lines(event, responses, thread, settings, delivered)
        correction = event.kind == EventKind.OUTCOME and bool((event.detail or {}).get("reason"))
        entries.append(
            Entry(event.at, title, _who(event, members, orgs), VIA_LABELS.get(event.via, event.via), lines, correction)
        )
    return entries


def notes(session: Session, thread: Thread) -> list[tuple[ThreadNote, str]]:
    rows = session.execute(
        select(ThreadNote, Member.display_name)
        .outerjoin(Member, Member.id == ThreadNote.author_id)
        .where(ThreadNote.thread_id == thread.id)
        .order_by(ThreadNote.id)
    ).all()
    return [(note, name or "") for note, name in rows]
