"""Who follows the bot: a 1:1 message or a profile LINE gives marks a friend; an unfollow or a
404 clears it. Only friends get 1:1 notices (cost 1) instead of a group push (cost: everyone)."""

from __future__ import annotations

from bot.pipeline import outbox
from models.membership import is_friend


def friend(world, user_id: str) -> bool:
    with world.runtime.sessions() as session:
        return is_friend(session, user_id)


def test_a_1_to_1_message_marks_a_friend(world):
    dan = world.person("Dan")
    world.platform.add_friend(dan.id, "Dan")  # added the bot before the webhook was on: no follow event
    assert not friend(world, dan.id)
    assert dan.says(None, "ヘルプ")
    assert friend(world, dan.id)


def test_a_profile_line_gives_marks_a_friend_and_a_404_clears_it(world):
    group = world.group()
    world.invite_bot(group)
    carol = world.person("Carol")
    group.add(carol)
    world.platform.add_friend(carol.id, "Carol")
    carol.says(group, "団体登録 民生委員の会")  # Kasane asks LINE for her profile: she follows
    assert friend(world, carol.id)
    assert [r.status for r in world.platform.requests if r.path.endswith(f"/profile/{carol.id}")] == [200]

    world.platform.remove_friend(carol.id)  # blocked the bot, and no unfollow event reached Kasane
    with world.runtime.sessions.begin() as session:
        outbox.enqueue_lookup(session, "profile", now=world.runtime.clock.now(), user_id=carol.id)
    world.deliver()
    assert not friend(world, carol.id)


def test_an_unfollow_clears_it(world):
    dan = world.person("Dan")
    dan.follows_bot()
    assert friend(world, dan.id)
    world.platform.remove_friend(dan.id)
    world.send(world.line.unfollow(dan.id))
    assert not friend(world, dan.id)
