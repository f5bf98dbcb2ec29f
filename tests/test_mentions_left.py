"""Never lose a message to a mention of someone who left the group (LINE refuses the whole
message: 400 "The mentioned user is not a member of the chat")."""

from __future__ import annotations

import pytest


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob = world.person("Carol"), world.person("Bob")
    group.add(carol, bob)
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    carol.says(group, "困りごと 配食サービスを探しています")
    world.deliver()
    return group, carol, bob


def test_a_poster_who_left_is_named_not_mentioned(world, net):
    group, carol, bob = net
    world.platform.remove_member(group.id, carol.id)
    world.send(world.line.member_left(group.id, [carol.id]))
    answer = bob.says(group, "#1 伝手 社協の配食があります")
    [notice] = [m for m in answer.messages if "伝手が届きました" in str(m)]
    assert notice["type"] == "text" and "substitution" not in notice
    assert answer.deliveries[0].via == "reply"


def test_a_mention_line_still_refuses_is_sent_without_it(world, net):
    group, carol, bob = net
    world.platform.remove_member(group.id, carol.id)  # LINE knows she left; Kasane was not told
    answer = bob.says(group, "#1 伝手 社協の配食があります")
    assert "メンバーの方 さん、#1 に東部地域包括支援センターから伝手が届きました" in answer.text
    refused = [r for r in world.platform.requests if r.status == 400 and r.path.endswith("/reply")]
    assert len(refused) == 1 and answer.deliveries[0].via == "reply"  # the same reply token, unused
