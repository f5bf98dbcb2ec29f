"""SQLAlchemy models. Importing this package registers every table on ``Base.metadata``."""

from models.base import Base, UTCDateTime, utcnow
from models.dashboard import LoginToken, ThreadNote
from models.event import EventOutcome, InboxEvent, WebhookEvent
from models.ledger import LedgerEntry, QuotaMonth
from models.meeting import (
    AgendaChange,
    CalendarFeed,
    MeetingAttendance,
    MeetingChange,
    MeetingMinutes,
    MeetingRecord,
    MeetingSchedule,
)
from models.network import Friend, Member, Network, Organization, OrganizationChange, OrgKind, Role
from models.operations import BackupRun, Heartbeat
from models.outbox import OutboxMessage, OutboxStatus, ReplyState, SentMessage
from models.server import ServerKey
from models.submission import SubmittedReport
from models.thread import (
    CATEGORIES,
    Area,
    EventKind,
    Outcome,
    PendingAnswer,
    Response,
    ResponseKind,
    Thread,
    ThreadEvent,
    ThreadState,
)

__all__ = [
    "BackupRun",
    "LedgerEntry",
    "QuotaMonth",
    "Heartbeat",
    "AgendaChange",
    "CalendarFeed",
    "MeetingAttendance",
    "MeetingChange",
    "MeetingMinutes",
    "MeetingRecord",
    "MeetingSchedule",
    "CATEGORIES",
    "Area",
    "EventKind",
    "Outcome",
    "PendingAnswer",
    "Response",
    "ResponseKind",
    "SentMessage",
    "ServerKey",
    "SubmittedReport",
    "Thread",
    "ThreadEvent",
    "ThreadNote",
    "ThreadState",
    "Base",
    "Friend",
    "LoginToken",
    "Member",
    "Network",
    "Organization",
    "OrganizationChange",
    "OrgKind",
    "OutboxMessage",
    "OutboxStatus",
    "EventOutcome",
    "InboxEvent",
    "WebhookEvent",
    "ReplyState",
    "Role",
    "UTCDateTime",
    "utcnow",
]
