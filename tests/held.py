"""What a job queued to go out: pushed now, or held for the next free reply in a group.

Group notices not worth a push to every member (nudges, the day-before and morning reminders,
a その後いかがですか for a poster who does not follow the bot) are held until a reply in the
group carries them (jobs/budget.py). A test of *when* a job sends what reads both.
"""

from __future__ import annotations

from harness import Answer
from sqlalchemy import select

from bot.fakeline import Delivery
from models import OutboxMessage, OutboxStatus


def sent_or_held(world) -> Answer:
    """What LINE delivered since last asked, then the messages held since last asked (``via`` "held")."""
    answer = world.deliver()
    seen = getattr(world, "_held_seen", 0)
    with world.runtime.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.HELD, OutboxMessage.id > seen)
            .order_by(OutboxMessage.id)
        ).all()
    if rows:
        world._held_seen = rows[-1].id
    held = [
        Delivery(
            to=row.chat_id,
            messages=row.messages,
            via="held",
            retry_key=None,
            request_id="",
            at=row.created_at,
            index=-1,
            sent_messages=[],
        )
        for row in rows
    ]
    return Answer(answer.deliveries + held, answer.names, answer.status)
