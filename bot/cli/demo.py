"""``kasane demo``: fill a fresh database with a fictional network, for workshops and demos.

The generator first *plans* a few months of activity with a seeded ``random.Random``
(who posts what and when, who answers, how each thread ends), then *replays* the plan in time
order through the same plain functions the chat, the jobs and the meeting commands use
(``models.membership``, ``models.casework``, ``models.meeting``, ``models.meeting_agenda``
and the steps of ``jobs.followups``, run once a day at 10:00). So counters, timelines, nudges,
flags, 会議記録 and the dashboard's figures look exactly like those of a real network.

Nothing reaches LINE. The group id is random (``C`` + 32 hex digits, the shape LINE uses), the
follow-ups the job queued during the replay are marked sent with a note, and at the end the
network is marked as left by the bot (``active = False``), so no later ``kasane serve`` or
worker queues a reminder, follow-up or monthly push for a group that does not exist. The
dashboard and ``kasane report`` show left networks as usual.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import distinct, false, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.cli import demo_data as data
from bot.cli.main import UsageError, command
from bot.clock import Clock
from bot.config import Config
from bot.replies.messages import REFERRAL_DESTINATIONS
from jobs.followups import STEPS, in_quiet_window
from models import (
    CATEGORIES,
    Area,
    EventKind,
    MeetingAttendance,
    MeetingRecord,
    Member,
    Network,
    Organization,
    OrgKind,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Response,
    ResponseKind,
    Role,
    Thread,
    ThreadEvent,
    ThreadState,
)
from models.approval import AUTOMATIC, approve
from models.casework import (
    OUTCOME_LABELS,
    add_response,
    correct,
    post_thread,
    reopen,
    request_meeting,
    retract,
    set_outcome,
    thread_by_number,
)
from models.classify import guess_area, guess_category
from models.meeting import Occurrence, answer, duration, rule_starts, set_schedule
from models.meeting_agenda import build_agenda, change_agenda, record_discussed
from models.meeting_rule import MeetingRule, parse_rule
from models.membership import grant_role, network_for_group, register_member
from models.settings import network_settings

DEFAULT_SEED = 1124
DEFAULT_MONTHS = 3
DEFAULT_PER_MONTH = 40
MAX_MONTHS = 24
MAX_PER_MONTH = 400
TZ = ZoneInfo("Asia/Tokyo")
JP_HOLIDAYS = holidays.country_holidays("JP")
OUTBOX_NOTE = "demo: never sent (the demo network's group does not exist on LINE)"
SENT_VIA_DEMO = "demo"

FORMAL_HOURS = (time(9, 0), time(17, 30))  # agencies: weekdays, not on public holidays
INFORMAL_HOURS = (time(9, 0), time(19, 30))  # volunteers: also Saturdays and holidays, later
FOLLOW_UP_AT = time(10, 0)  # the follow-up job's daily pass (inside the default quiet window)
RETRACTED_SHARE = 0.02  # posts unsent right after posting
ANSWERED_SHARE = 0.85  # threads that get at least one 伝手 or offer
MEETING_REQUEST_SHARE = 0.08
# How threads end: most are solved, eased or handed over; some stay open (伴走, or not yet).
WITH_RESPONSES: dict[Outcome | None, int] = {
    Outcome.RESOLVED: 26,
    Outcome.EASED: 22,
    Outcome.REFERRED: 22,
    Outcome.ACCOMPANYING: 10,
    Outcome.ENDED: 8,
    Outcome.WITHDRAWN: 4,
    None: 8,
}
WITHOUT_RESPONSES: dict[Outcome | None, int] = {
    Outcome.REFERRED: 30,
    Outcome.ENDED: 30,
    Outcome.WITHDRAWN: 15,
    Outcome.RESOLVED: 10,
    None: 15,
}
RESPONDERS = {1: 40, 2: 35, 3: 18, 4: 7}  # how many organizations answer a thread
COMMENT_COUNTS = {0: 50, 1: 35, 2: 15}
WATCHER_COUNTS = {0: 35, 1: 35, 2: 20, 3: 10}
ATTENDANCE = {"yes": 75, "maybe": 10, "no": 15}

Progress = Callable[[str, int, int], None]


@dataclass
class DemoResult:
    network_id: int
    name: str
    group_id: str
    organizer_user_id: str
    organizer_name: str
    organizer_org: str
    start: datetime
    end: datetime
    report_month: str | None  # the last full month of the demo (for `kasane report`)
    counts: dict[str, int]


@dataclass
class _Step:
    """An outcome recorded on a thread, or (outcome None) its reopening."""

    at: datetime
    outcome: Outcome | None
    actor: Member
    referred_to: str | None = None
    end_reason: str | None = None


@dataclass
class _Plan:
    index: int
    posted: datetime
    org: int
    poster: Member
    category: str
    text: str = ""
    answered: bool = False
    retracted: bool = False
    last_activity: datetime | None = None
    steps: list[_Step] = field(default_factory=list)

    @property
    def final(self) -> Outcome | None:
        return self.steps[-1].outcome if self.steps else None


def generate_demo(
    session: Session,
    now: datetime,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    *,
    per_month: int = DEFAULT_PER_MONTH,
) -> DemoResult:
    """Add one demo network whose activity ends at ``now``; deterministic for (now, months, seed)."""
    if now.tzinfo is None:
        raise ValueError("generate_demo needs an aware datetime")
    return _Demo(session, now, months, seed, per_month, progress).run()


class _Demo:
    def __init__(
        self, session: Session, now: datetime, months: int, seed: int, per_month: int, progress: Progress | None
    ) -> None:
        self.session = session
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.months, self.per_month = months, per_month
        self.progress = progress or (lambda _label, _done, _total: None)
        self.rng = random.Random(f"kasane-demo:{seed}")  # what happens
        self.ids = random.Random(f"kasane-demo-ids:{seed}")  # LINE ids (redrawn if taken)
        local = self.now.astimezone(TZ)
        year, month = local.year, local.month - months
        while month < 1:
            year, month = year - 1, month + 12
        self.start = datetime(year, month, min(local.day, 28), 9, 0, tzinfo=TZ).astimezone(UTC)
        self.actions: list[tuple[datetime, int, Callable[..., Any], tuple[Any, ...]]] = []
        self.threads: dict[int, Thread] = {}
        self.members: list[list[Member]] = []
        self.posted = 0
        self.total_threads = 0
        self.meetings_total = 0
        self.meetings_held = 0

    # --- the run -----------------------------------------------------------------------
    def run(self) -> DemoResult:
        self._setup()
        self._plan_threads()
        self._plan_meetings()
        self._plan_follow_ups()
        self.actions.sort(key=lambda action: (action[0], action[1]))
        for at, _seq, fn, args in self.actions:
            fn(at, *args)
        if self.posted % 10:
            self.progress("threads", self.posted, self.total_threads)
        self.session.flush()
        silenced = self._silence_outbox()
        self.network.active = False  # the bot is in no such LINE group: no job sends anything later
        self.network.left_at = self.now
        self.session.flush()
        counts = demo_counts(self.session, self.network)
        counts["outbox_silenced"] = silenced
        counts["meetings_held"] = self.meetings_held
        organizer = self.members[0][0]
        return DemoResult(
            network_id=self.network.id,
            name=self.network.name,
            group_id=self.network.group_id,
            organizer_user_id=organizer.line_user_id,
            organizer_name=organizer.display_name,
            organizer_org=data.ORGANIZATIONS[0].name,
            start=self.start,
            end=self.now,
            report_month=self._report_month(),
            counts=counts,
        )

    def _at(self, when: datetime, fn: Callable[..., Any], *args: Any) -> bool:
        """Plan ``fn(when, *args)``; what would happen after ``now`` is left out."""
        if when > self.now:
            return False
        self.actions.append((when, len(self.actions), fn, args))
        return True

    def _report_month(self) -> str | None:
        local = self.now.astimezone(TZ)
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        first = datetime(year, month, 1, tzinfo=TZ)
        return f"{year:04d}-{month:02d}" if first >= self.start else None

    # --- time -------------------------------------------------------------------------
    @staticmethod
    def _closed(day: date, formal: bool) -> bool:
        if formal:
            return day.weekday() >= 5 or day in JP_HOLIDAYS
        return day.weekday() == 6

    def _working(self, when: datetime, formal: bool) -> datetime:
        """``when`` if such an organization works then, else a little after it next opens."""
        opens, closes = FORMAL_HOURS if formal else INFORMAL_HOURS
        local = when.astimezone(TZ)
        if not self._closed(local.date(), formal) and opens <= local.time() < closes:
            return when
        day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
        while self._closed(day, formal):
            day += timedelta(days=1)
        start = datetime.combine(day, opens, TZ) + timedelta(minutes=self.rng.randint(0, 90))
        return start.astimezone(UTC)

    def _after(self, base: datetime, low_hours: float, high_hours: float, formal: bool) -> datetime:
        delay = timedelta(hours=self.rng.uniform(low_hours, high_hours), seconds=self.rng.randint(0, 59))
        return self._working(base + delay, formal).replace(microsecond=0)

    def _working_time(self, first: datetime, last: datetime, formal: bool) -> datetime:
        """A moment in working hours between ``first`` and ``last``, evenly over days and hours."""
        opens, closes = FORMAL_HOURS if formal else INFORMAL_HOURS
        first_day = first.astimezone(TZ).date()
        days = (last.astimezone(TZ).date() - first_day).days + 1
        span = (datetime.combine(first_day, closes) - datetime.combine(first_day, opens)).seconds
        for _ in range(1000):
            day = first_day + timedelta(days=self.rng.randrange(days))
            if self._closed(day, formal):
                continue
            moment = datetime.combine(day, opens, TZ) + timedelta(seconds=self.rng.randrange(span))
            if first <= moment <= last:
                return moment.astimezone(UTC)
        return last

    def _is_formal(self, org: int) -> bool:
        return data.ORGANIZATIONS[org].kind == OrgKind.FORMAL

    def _weighted(self, table: dict[Any, int]) -> Any:
        return self.rng.choices(list(table), weights=list(table.values()))[0]

    def _pick_orgs(self, candidates: list[int], category: str, count: int) -> list[int]:
        """Distinct organizations, those working on the 分野 three times as likely."""
        pool = list(candidates)
        chosen: list[int] = []
        while pool and len(chosen) < count:
            weights = [3 if category in data.ORGANIZATIONS[k].focus else 1 for k in pool]
            pick = self.rng.choices(pool, weights=weights)[0]
            pool.remove(pick)
            chosen.append(pick)
        return chosen

    # --- the network, its people, areas and meeting ------------------------------------------
    def _setup(self) -> None:
        session = self.session
        self.network, _ = network_for_group(session, self._group_id(), self.start)
        approve(session, self.network, self.start, by=AUTOMATIC)  # a demo is approved at once
        self.network.name = self._name()
        people = [
            (org_index, person_index, given)
            for org_index, org in enumerate(data.ORGANIZATIONS)
            for person_index, given in enumerate(org.people)
        ]
        joined = {
            (o, p): self.start
            if (o, p) == (0, 0)
            else self._working_time(
                self.start + timedelta(minutes=5), self.start + timedelta(days=2), self._is_formal(o)
            )
            for o, p, _ in people
        }
        self.members = [[] for _ in data.ORGANIZATIONS]
        by_person: dict[tuple[int, int], Member] = {}
        for org_index, person_index, given in sorted(people, key=lambda p: (joined[p[:2]], p[:2])):
            org = data.ORGANIZATIONS[org_index]
            at = joined[(org_index, person_index)]
            member, _, _ = register_member(session, self.network, self._user_id(), org.name, org.kind, at)
            member.display_name = f"{data.DEMO_FAMILY_NAME} {given}"
            by_person[(org_index, person_index)] = member
        for org_index, org in enumerate(data.ORGANIZATIONS):
            self.members[org_index] = [by_person[(org_index, p)] for p in range(len(org.people))]
        self.organizer = self.members[0][0]
        assert self.organizer.role == Role.ORGANIZER
        self.coordinators = [self.organizer]
        for org_index, person_index in data.COORDINATORS:
            member = self.members[org_index][person_index]
            grant_role(session, self.network, member.line_user_id, Role.COORDINATOR)
            self.coordinators.append(member)
        for name in data.AREAS:
            session.add(Area(network_id=self.network.id, name=name))
        rule = parse_rule(data.MEETING_RULE)
        assert isinstance(rule, MeetingRule)
        self.rule = rule
        self.schedule_at = self.start + timedelta(hours=3)
        set_schedule(session, self.network, rule, data.MEETING_PLACE, None, self.organizer, self.schedule_at)
        session.flush()
        count = sum(len(members) for members in self.members)
        self.progress("people", count, count)

    def _group_id(self) -> str:
        while True:  # a clash is only possible with an earlier demo of the same seed (--force)
            group_id = f"C{self.ids.getrandbits(128):032x}"
            if self.session.scalar(select(Network.id).where(Network.group_id == group_id)) is None:
                return group_id

    def _user_id(self) -> str:
        return f"U{self.ids.getrandbits(128):032x}"

    def _name(self) -> str:
        earlier = self.session.scalar(
            select(func.count(Network.id)).where(Network.name.startswith(data.NETWORK_NAME, autoescape=True))
        )
        return f"{data.NETWORK_NAME}（{earlier + 1}）" if earlier else data.NETWORK_NAME

    # --- threads ----------------------------------------------------------------------------
    def _plan_threads(self) -> None:
        first = self.start + timedelta(days=2)
        last = self.now - timedelta(minutes=20)
        self.total_threads = self.per_month * self.months
        weights = [org.posts for org in data.ORGANIZATIONS]
        plans = []
        for _ in range(self.total_threads):
            org = self.rng.choices(range(len(data.ORGANIZATIONS)), weights=weights)[0]
            focus = data.ORGANIZATIONS[org].focus
            category = self.rng.choice(focus) if self.rng.random() < 0.6 else self.rng.choice(CATEGORIES)
            posted = self._working_time(first, last, self._is_formal(org))
            plans.append(_Plan(0, posted, org, self.rng.choice(self.members[org]), category))
        plans.sort(key=lambda plan: plan.posted)
        for index, plan in enumerate(plans):
            plan.index = index
            self._plan_thread(plan)
        self._cover_every_outcome(plans)
        for plan in plans:
            for step in plan.steps:
                self._at(step.at, self._record_step, plan.index, step)

    def _plan_thread(self, plan: _Plan) -> None:
        rng, orgs = self.rng, data.ORGANIZATIONS
        text = rng.choice(data.OPENINGS) + rng.choice(data.TROUBLES[plan.category])
        area: str | None = rng.choice(data.AREAS)
        where = rng.random()
        if where < 0.5:
            text = f"{text}（{area}）"  # the bot reads the 地区 from the text
        elif where >= 0.85:
            area = None  # nobody said where
        plan.text = text
        guessed_category, guessed_area = guess_category(text), guess_area(text, list(data.AREAS))
        self._at(plan.posted, self._post, plan.index, plan.poster, text, guessed_category, guessed_area)
        fix: dict[str, str] = {}
        if guessed_category != plan.category:
            fix["category"] = plan.category  # the poster corrects the bot's guess with a quick reply
        if area and guessed_area != area:
            fix["area"] = area
        if fix:
            self._at(plan.posted + timedelta(seconds=rng.randint(40, 300)), self._correct, plan.index, plan.poster, fix)
        if rng.random() < RETRACTED_SHARE:
            plan.retracted = True
            self._at(plan.posted + timedelta(seconds=rng.randint(120, 900)), self._retract, plan.index)
            return

        last = plan.posted
        others = [k for k in range(len(orgs)) if k != plan.org]
        at = plan.posted
        first_answer: datetime | None = None
        if rng.random() < ANSWERED_SHARE:
            responders = self._pick_orgs(others, plan.category, self._weighted(RESPONDERS))
            for position, org in enumerate(responders):
                formal = self._is_formal(org)
                if position == 0:
                    # LINE is quick: most first answers come within hours, a few after days.
                    low, high = rng.choice([(0.2, 2.0), (0.2, 2.0), (0.5, 5.0), (4.0, 24.0), (24.0, 72.0)])
                else:
                    low, high = 0.5, 48.0
                at = self._after(at, low, high, formal)
                connection = rng.random() < (0.75 if formal else 0.45)
                kind = ResponseKind.CONNECTION if connection else ResponseKind.OFFER
                reply = rng.choice(data.CONNECTIONS[plan.category]) if connection else rng.choice(data.OFFERS)
                if self._at(at, self._respond, plan.index, rng.choice(self.members[org]), kind, reply):
                    plan.answered = True
                    first_answer = first_answer or at
                    last = max(last, at)
        for _ in range(self._weighted(COMMENT_COUNTS)):
            from_poster = first_answer is not None and rng.random() < 0.4
            org = plan.org if from_poster else rng.choice(others)
            # The poster thanks whoever answered; others chime in from the start.
            at = self._after(first_answer if first_answer and from_poster else plan.posted, 1, 72, self._is_formal(org))
            member = plan.poster if from_poster else rng.choice(self.members[org])
            comment = rng.choice(data.POSTER_COMMENTS if from_poster else data.COMMENTS)
            if self._at(at, self._respond, plan.index, member, ResponseKind.COMMENT, comment):
                last = max(last, at)
        for org in self._pick_orgs(others, plan.category, self._weighted(WATCHER_COUNTS)):
            at = self._after(plan.posted, 0.1, 30, self._is_formal(org))
            if self._at(at, self._respond, plan.index, rng.choice(self.members[org]), ResponseKind.WATCH, None):
                last = max(last, at)
        if rng.random() < MEETING_REQUEST_SHARE:
            at = self._after(plan.posted, 12, 96, self._is_formal(plan.org))
            if self._at(at, self._request_meeting, plan.index, plan.poster):
                last = max(last, at)
        plan.last_activity = last
        self._plan_outcomes(plan)

    def _plan_outcomes(self, plan: _Plan) -> None:
        rng, formal = self.rng, self._is_formal(plan.org)
        outcome = self._weighted(WITH_RESPONSES if plan.answered else WITHOUT_RESPONSES)
        if outcome is None:
            return
        assert plan.last_activity is not None
        if plan.answered:
            at = self._after(plan.last_activity, 24, 24 * rng.triangular(1, 16, 4), formal)
        else:  # nudged after 3 days, flagged after 7, often talked over at the meeting first
            at = self._after(plan.posted, 24 * 8, 24 * rng.triangular(8, 35, 14), formal)
        steps = [self._step(plan, outcome, at)]
        if outcome == Outcome.ACCOMPANYING and rng.random() < 0.4:
            final = self._weighted({Outcome.RESOLVED: 40, Outcome.EASED: 40, Outcome.ENDED: 20})
            steps.append(self._step(plan, final, self._after(at, 24 * 20, 24 * 70, formal)))
        elif outcome in (Outcome.RESOLVED, Outcome.EASED) and rng.random() < 0.06:
            # The trouble came back: reopened, and usually handled differently this time.
            back = self._after(at, 24 * 5, 24 * 25, formal)
            steps.append(_Step(back, None, plan.poster))
            if rng.random() < 0.7:
                again = self._weighted({Outcome.ACCOMPANYING: 40, Outcome.REFERRED: 40, Outcome.EASED: 20})
                steps.append(self._step(plan, again, self._after(back, 24 * 3, 24 * 12, formal)))
        plan.steps = [step for step in steps if step.at <= self.now]

    def _step(self, plan: _Plan, outcome: Outcome, at: datetime) -> _Step:
        rng = self.rng
        actor = plan.poster
        if outcome != Outcome.WITHDRAWN and rng.random() < 0.2:
            actor = rng.choice(self.coordinators)  # a coordinator records it after a call or a meeting
        step = _Step(at, outcome, actor)
        if outcome == Outcome.REFERRED:
            usual = data.REFERRAL_BY_CATEGORY[plan.category]
            step.referred_to = usual if rng.random() < 0.75 else rng.choice(REFERRAL_DESTINATIONS)
        elif outcome == Outcome.ENDED:
            step.end_reason = self._weighted(data.END_REASON_WEIGHTS)
        return step

    def _cover_every_outcome(self, plans: list[_Plan]) -> None:
        """Make sure each outcome appears at least once (a workshop shows every figure)."""
        finals = Counter(plan.final for plan in plans if not plan.retracted)
        for outcome in Outcome:
            if finals[outcome]:
                continue
            donors = [
                plan
                for plan in plans
                if plan.answered and len(plan.steps) == 1 and plan.final is not None and finals[plan.final] > 2
            ]
            if not donors:
                continue
            donor = self.rng.choice(donors)
            finals[donor.final] -= 1
            donor.steps = [self._step(donor, outcome, donor.steps[0].at)]
            finals[outcome] += 1

    # --- replayed actions (each receives its moment first) ------------------------------------
    def _thread(self, index: int) -> Thread:
        return self.threads[index]

    def _post(self, at: datetime, index: int, poster: Member, text: str, category: str, area: str | None) -> None:
        thread, _masked = post_thread(self.session, self.network, poster, text, at, category=category, area=area)
        self.threads[index] = thread
        self.posted += 1
        if self.posted % 10 == 0:
            self.progress("threads", self.posted, self.total_threads)

    def _correct(self, at: datetime, index: int, poster: Member, changes: dict[str, str]) -> None:
        correct(self.session, self._thread(index), poster, at, **changes)

    def _retract(self, at: datetime, index: int) -> None:
        retract(self.session, self._thread(index), at)

    def _respond(self, at: datetime, index: int, member: Member, kind: ResponseKind, text: str | None) -> None:
        add_response(self.session, self._thread(index), member, kind, text, at)

    def _request_meeting(self, at: datetime, index: int, member: Member) -> None:
        request_meeting(self.session, self._thread(index), member, at)

    def _record_step(self, at: datetime, index: int, step: _Step) -> None:
        thread = self._thread(index)
        if step.outcome is None:
            reopen(self.session, thread, step.actor, at)
        else:
            set_outcome(
                self.session,
                thread,
                step.actor,
                step.outcome,
                at,
                referred_to=step.referred_to,
                end_reason=step.end_reason,
            )

    # --- meetings ---------------------------------------------------------------------------
    def _plan_meetings(self) -> None:
        length = duration(self.network)
        starts = rule_starts(self.rule, TZ, self.schedule_at, self.now + timedelta(days=8))
        self.meetings_total = sum(1 for start in starts if start + length <= self.now)
        for start in starts:
            occurrence = Occurrence(start.date(), start.astimezone(UTC), (start + length).astimezone(UTC))
            for org_index, members in enumerate(self.members):
                if self.rng.random() < 0.1:
                    continue  # this organization never answers
                at = self._after(occurrence.start, -24 * 7, -1, self._is_formal(org_index))
                reply = self._weighted(ATTENDANCE)
                if self.schedule_at < at < occurrence.start:
                    self._at(at, self._answer, occurrence, self.rng.choice(members), reply)
            self._at(occurrence.start - timedelta(hours=21), self._add_to_agenda, occurrence)
            self._at(occurrence.end, self._hold_meeting, occurrence)

    def _answer(self, at: datetime, occurrence: Occurrence, member: Member, reply: str) -> None:
        answer(self.session, self.network, occurrence.original, member, reply, at)

    def _add_to_agenda(self, at: datetime, occurrence: Occurrence) -> None:
        """The organizer puts one or two answered, still open threads on the agenda (議題追加)."""
        candidates = self.session.scalars(
            select(Thread)
            .where(
                Thread.network_id == self.network.id,
                Thread.state == ThreadState.OPEN,
                Thread.retracted.is_(False),
                Thread.first_response_at.is_not(None),
                Thread.meeting_requested.is_(False),
                Thread.posted_at <= at - timedelta(days=5),
            )
            .order_by(Thread.number)
        ).all()
        for thread in self.rng.sample(candidates, min(len(candidates), self.rng.randint(1, 2))):
            change_agenda(self.session, self.network, occurrence.original, thread, "add", self.organizer, at)

    def _hold_meeting(self, at: datetime, occurrence: Occurrence) -> None:
        """The meeting discusses its agenda; the organizer records it afterwards (会議記録)."""
        agenda = build_agenda(self.session, self.network, occurrence, occurrence.start)
        threads = [thread_by_number(self.session, self.network, item.number) for item in agenda.items]
        record_discussed(self.session, self.network, occurrence.original, [t for t in threads if t], self.organizer, at)
        self.meetings_held += 1
        self.progress("meetings", self.meetings_held, self.meetings_total)

    # --- follow-ups -------------------------------------------------------------------------
    def _plan_follow_ups(self) -> None:
        day = self.start.astimezone(TZ).date() + timedelta(days=1)
        while self._at(datetime.combine(day, FOLLOW_UP_AT, TZ).astimezone(UTC), self._follow_up):
            day += timedelta(days=1)

    def _follow_up(self, at: datetime) -> None:
        """The follow-up job's steps, for the demo network only (never for the operator's others)."""
        settings = network_settings(self.network)
        if in_quiet_window(settings, at, TZ):
            for step in STEPS:
                step(self.session, self.network, settings, at)

    def _silence_outbox(self) -> int:
        """Mark what the follow-up job queued as sent: the demo group does not exist on LINE."""
        chats = [self.network.group_id, *(m.line_user_id for members in self.members for m in members)]
        result = self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_id.in_(chats),
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.HELD]),
            )
            .values(
                status=OutboxStatus.SENT,
                sent_at=OutboxMessage.created_at,
                sent_via=SENT_VIA_DEMO,
                last_error=OUTBOX_NOTE,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def demo_counts(session: Session, network: Network) -> dict[str, int]:
    """What a network holds, for the summary printed at the end."""
    counts: dict[str, int] = {}
    for kind, n in session.execute(
        select(Organization.kind, func.count()).where(Organization.network_id == network.id).group_by(Organization.kind)
    ):
        counts[f"organizations_{kind}"] = n
    counts["people"] = session.scalar(select(func.count()).where(Member.network_id == network.id)) or 0
    counts["areas"] = session.scalar(select(func.count()).where(Area.network_id == network.id)) or 0
    threads = Thread.network_id == network.id
    counts["threads"] = session.scalar(select(func.count()).where(threads, Thread.retracted == false())) or 0
    counts["retracted"] = session.scalar(select(func.count()).where(threads, Thread.retracted.is_(True))) or 0
    counts["open"] = (
        session.scalar(
            select(func.count()).where(threads, Thread.retracted == false(), Thread.state == ThreadState.OPEN)
        )
        or 0
    )
    outcomes = dict(
        session.execute(
            select(Thread.outcome, func.count()).where(threads, Thread.retracted == false()).group_by(Thread.outcome)
        ).all()
    )
    for outcome in Outcome:
        counts[f"outcome_{outcome}"] = outcomes.get(str(outcome), 0)
    counts["outcome_none"] = outcomes.get(None, 0)
    responses = dict(
        session.execute(
            select(Response.kind, func.count())
            .join(Thread, Thread.id == Response.thread_id)
            .where(threads)
            .group_by(Response.kind)
        ).all()
    )
    for kind in ResponseKind:
        counts[f"responses_{kind}"] = responses.get(str(kind), 0)
    events = dict(
        session.execute(
            select(ThreadEvent.kind, func.count())
            .join(Thread, Thread.id == ThreadEvent.thread_id)
            .where(threads)
            .group_by(ThreadEvent.kind)
        ).all()
    )
    for kind in (EventKind.FOLLOWUP, EventKind.FLAGGED, EventKind.REOPENED, EventKind.CORRECTED):
        counts[f"events_{kind}"] = events.get(str(kind), 0)
    recorded = MeetingRecord.network_id == network.id
    counts["meetings"] = session.scalar(select(func.count(distinct(MeetingRecord.meeting))).where(recorded)) or 0
    counts["discussed"] = session.scalar(select(func.count()).where(MeetingRecord.network_id == network.id)) or 0
    counts["attendance"] = session.scalar(select(func.count()).where(MeetingAttendance.network_id == network.id)) or 0
    return counts


# --- the command ------------------------------------------------------------------------------
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--months", type=int, default=DEFAULT_MONTHS, help="months of activity (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"same seed, same demo (default {DEFAULT_SEED})")
    parser.add_argument(
        "--per-month", type=int, default=DEFAULT_PER_MONTH, help=f"困りごと per month (default {DEFAULT_PER_MONTH})"
    )
    parser.add_argument(
        "--now", metavar="ISO-8601", help="end the demo at this time instead of now (e.g. serve's --simulate-time)"
    )
    parser.add_argument("--force", action="store_true", help="add a demo network even if the database has networks")


def _progress(label: str, done: int, total: int) -> None:
    print(f"{label} {done}/{total}", file=sys.stderr, flush=True)


def _now(text: str | None, config: Config) -> datetime:
    if text is None:
        return Clock().now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO-8601 time such as 2026-11-24T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(config.timezone))


@command("demo", help="fill a fresh database with a fictional demo network (workshops)", configure=_configure)
def demo(args: argparse.Namespace, config: Config) -> int:
    from bot.cli.database import open_sessions

    if not 1 <= args.months <= MAX_MONTHS:
        raise UsageError(f"--months must be between 1 and {MAX_MONTHS}, got {args.months}")
    if not 1 <= args.per_month <= MAX_PER_MONTH:
        raise UsageError(f"--per-month must be between 1 and {MAX_PER_MONTH}, got {args.per_month}")
    now = _now(args.now, config)
    sessions = open_sessions(config)
    try:
        with sessions.begin() as session:
            existing = session.scalar(select(func.count(Network.id))) or 0
            if existing and not args.force:
                raise UsageError(
                    f"the database already has {existing} network(s); `kasane demo` is meant for a fresh database "
                    "(add --force to add a demo network next to them)"
                )
            print(
                f"demo: {args.months} months up to {now.astimezone(TZ):%Y-%m-%d %H:%M} (seed {args.seed})",
                file=sys.stderr,
                flush=True,
            )
            result = generate_demo(session, now, args.months, args.seed, _progress, per_month=args.per_month)
    except OperationalError as exc:
        raise UsageError(f"cannot write the demo to the database ({exc.orig.__class__.__name__})") from None
    _print_result(result, args, config)
    return 0


def _print_result(result: DemoResult, args: argparse.Namespace, config: Config) -> None:
    c = result.counts
    kasane = f"kasane --config {args.config}" if args.config else "kasane"
    outcomes = "  ".join(f"{label} {c[f'outcome_{outcome}']}" for outcome, label in OUTCOME_LABELS.items())
    host, port = config.get("server", "host"), config.get("server", "port")
    period = f"{result.start.astimezone(TZ):%Y-%m-%d} 〜 {result.end.astimezone(TZ):%Y-%m-%d %H:%M}"
    lines = [
        f"demo network {result.network_id}: {result.name}",
        f"  group      {result.group_id} (fictional: not a LINE group; the bot sends nothing to it)",
        f"  period     {period}",
        f"  members    {c.get('organizations_formal', 0)} フォーマル + {c.get('organizations_informal', 0)}"
        f" インフォーマル organizations, {c['people']} people, {c['areas']} 校区",
        f"  threads    {c['threads']} (open {c['open']}, of which 伴走 {c['outcome_accompanying']};"
        f" unsent posts {c['retracted']})",
        f"  outcomes   {outcomes}  未完了 {c['outcome_none']}",
        f"  responses  伝手 {c['responses_connection']}  申し出 {c['responses_offer']}"
        f"  comments {c['responses_comment']}  気にかけています {c['responses_watch']}",
        f"  follow-ups {c['events_followup']} (flagged for a meeting {c['events_flagged']});"
        f" meetings held {c['meetings_held']}, threads discussed {c['discussed']}",
        "",
        f"dashboard  {kasane} login-link --user {result.organizer_user_id}"
        f"   ({result.organizer_name}, 世話役, {result.organizer_org})",
        f"           with `{kasane} serve` running, open the printed link (http://{host}:{port}/dashboard)",
    ]
    if result.report_month:
        lines.append(f"report     {kasane} report --network {result.network_id} --month {result.report_month}")
    lines.append(
        f"simulator  {kasane} serve, then http://{host}:{port}/simulator"
        " (its practice group starts empty; the demo network is for the dashboard and reports)"
    )
    print("\n".join(lines))
