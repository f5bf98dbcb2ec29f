"""The network's membership, as a chat: the bot joins, people arrive and register their organizations."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Friend, Member, Network, Organization, WebhookEvent


def test_bot_added_to_a_group_creates_the_network_and_greets(world, session):
    group = world.group("久留米ささえあいネット")

    answer = world.invite_bot(group)

    assert "はじめまして" in answer.to(group).text
    assert "団体登録" in answer.text
    network = session.scalar(select(Network))
    assert network.group_id == group.id and network.active
    # The group's name comes from LINE's group summary API, fetched by the sender, not in the webhook.
    assert network.name == "久留米ささえあいネット"


def test_a_member_registers_an_organization_and_becomes_organizer_first(world, session):
    group = world.group()
    alice, bob = world.person("Alice"), world.person("Bob")
    world.invite_bot(group)
    group.add(alice, bob)

    first = alice.says(group, "団体登録 子ども食堂ひまわり")
    second = bob.says(group, "団体登録 東部地域包括支援センター フォーマル")

    assert first.text == (
        "@Alice さんを「子ども食堂ひまわり」（インフォーマル）として登録しました。\n"
        "最初に登録された方なので、このネットワークの世話役になりました。"
    )
    assert second.text == "@Bob さんを「東部地域包括支援センター」（フォーマル）として登録しました。"
    members = {m.line_user_id: m for m in session.scalars(select(Member))}
    assert members[alice.id].role == "organizer" and members[bob.id].role == "member"
    assert members[bob.id].organization.kind == "formal"
    # Display names are cached from the group member profile API by the sender.
    assert members[alice.id].display_name == "Alice"


def test_registering_again_updates_the_organization(world, session):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 ひまわり フォーマル")

    answer = alice.says(group, "団体登録 ひまわり")  # no kind: the existing kind stays

    assert "（フォーマル）" in answer.text
    alice.says(group, "団体登録 子ども食堂ひまわり インフォーマル")
    member = session.scalar(select(Member).where(Member.line_user_id == alice.id))
    assert member.organization.name == "子ども食堂ひまわり"
    assert session.scalar(select(func.count(Member.id))) == 1


def test_registration_mistakes_get_the_right_form(world, session):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)

    assert "団体登録 団体名 フォーマル" in alice.says(group, "団体登録").text
    assert "団体登録 団体名 フォーマル" in alice.says(group, "団体登録 フォーマル").text
    assert "長すぎます" in alice.says(group, "団体登録 " + "あ" * 51).text
    assert "グループの中で" in alice.says(None, "団体登録 ひまわり").text
    assert session.scalar(select(func.count(Organization.id))) == 0


def test_new_members_are_welcomed_with_a_mention(world):
    group = world.group()
    world.invite_bot(group)
    carol = world.person("Carol")

    answer = group.add(carol)

    assert answer.text.startswith("@Carol さん、ようこそ。")
    assert answer.messages[0]["type"] == "textV2"


def test_follow_greets_and_records_the_friend(world, session):
    dan = world.person("Dan")

    answer = dan.follows_bot()

    assert "友だち追加ありがとうございます" in answer.to(dan.id).text
    assert session.get(Friend, dan.id).following


def test_leave_keeps_the_data_and_marks_the_network_inactive(world, session):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 ひまわり")

    world.send(world.line.leave(group.id))

    network = session.scalar(select(Network))
    session.refresh(network)
    assert not network.active and network.left_at is not None
    assert session.scalar(select(func.count(Organization.id))) == 1


def test_help_lists_the_commands(world):
    # ヘルプ is a card of five topics now (issue 21); the commands are one tap away.
    alice = world.person("Alice")
    answer = alice.says(None, "ヘルプ")
    assert "使い方" in answer.text
    assert "団体登録" in alice.presses(None, answer.button("投稿")).text


def test_every_handled_event_is_recorded_by_id(world, session):
    group = world.group()
    world.invite_bot(group)
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_a_member_who_leaves_is_marked_and_cleared_on_return(world, session):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 ひまわり")

    world.send(world.line.member_left(group.id, [alice.id]))
    member = session.scalar(select(Member))
    session.commit()
    assert member.left_at is not None

    group.add(alice)
    session.expire_all()
    assert session.scalar(select(Member)).left_at is None
    session.commit()
