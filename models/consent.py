"""本人同意 (consent), kept in each thread's timeline: the last CONSENT event says where it stands.

Without the person's consent a case may go only to a 支援会議 (社会福祉法 第106条の6), attended
mainly by professionals; with it, to a 重層的支援会議. So a thread whose consent is not あり never
shows its summary in the group again (agenda, nudges, 一覧, cards shown later): only its number,
分野 and 地区; the dashboard lists such threads for the 支援会議.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.casework import record_event
from models.network import Member
from models.thread import Consent, EventKind, Thread, ThreadEvent

BY_LABEL = {"あり": Consent.YES, "なし": Consent.NO, "未確認": Consent.UNKNOWN}


def consents(session: Session, thread_ids: Iterable[int]) -> dict[int, Consent]:
    """Each thread's consent now (未確認 when never set): one grouped read of the timeline."""
    ids = list(thread_ids)
    found = {thread_id: Consent.UNKNOWN for thread_id in ids}
    if not ids:
        return found
    last = (
        select(func.max(ThreadEvent.id))
        .where(ThreadEvent.thread_id.in_(ids), ThreadEvent.kind == EventKind.CONSENT)
        .group_by(ThreadEvent.thread_id)
    )
    for thread_id, detail in session.execute(
        select(ThreadEvent.thread_id, ThreadEvent.detail).where(ThreadEvent.id.in_(last))
    ):
        value = (detail or {}).get("consent")
        found[thread_id] = Consent(value) if value in set(Consent) else Consent.UNKNOWN
    return found


def consent_of(session: Session, thread: Thread) -> Consent:
    return consents(session, [thread.id])[thread.id]


def shown_in_group(session: Session, threads: Iterable[Thread]) -> set[int]:
    """Ids of the threads whose summary the group may see again (consent あり)."""
    return {
        thread_id for thread_id, value in consents(session, [t.id for t in threads]).items() if value == Consent.YES
    }


def set_consent(
    session: Session, thread: Thread, actor: Member | None, value: Consent, now: datetime, *, via: str = "chat"
) -> bool:
    """Record the consent; False when it already stood so (nothing recorded)."""
    before = consent_of(session, thread)
    if before == value:
        return False
    record_event(session, thread, EventKind.CONSENT, now, actor=actor, via=via, consent=str(value), before=str(before))
    return True
