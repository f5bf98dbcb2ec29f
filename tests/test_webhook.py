"""POST /callback: signatures, payload shapes, redelivery, standby, failures, LINE's fixtures."""

from __future__ import annotations

import json
import logging

import flask
import pytest
from conftest import SECRET, require_shared
from sqlalchemy import func, select

from bot.fakeline import encode_body, sign
from models import Network, OutboxMessage, WebhookEvent


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_verify_button_gets_200(world):
    assert world.post(b'{"destination":"U0","events":[]}').status_code == 200


def test_missing_or_wrong_signature_is_400_and_stores_nothing(world, session, caplog):
    group = world.group()
    body = encode_body(world.line.payload(world.line.join(group.id)))

    with caplog.at_level(logging.INFO):
        missing = world.post(body, signature=None)
        wrong = world.post(body, signature=sign(body, "another-secret"))
        tampered = world.post(body.replace(b"join", b"leave"), signature=sign(body, SECRET))

    assert [missing.status_code, wrong.status_code, tampered.status_code] == [400, 400, 400]
    assert b"join" not in wrong.data and b"events" not in wrong.data
    assert count(session, WebhookEvent) == 0 and count(session, Network) == 0
    assert group.id not in caplog.text  # the body is never logged


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"events": {}}', b'{"destination": "U0"}', b"\xff\xfe", b"[" * 5000 + b"]" * 5000],
)
def test_signed_body_that_is_not_a_webhook_payload_is_400(world, body):
    assert world.post(body).status_code == 400


def test_the_webhook_opens_no_session_but_the_dashboard_does(world):
    app = world.client.application
    with app.test_request_context("/callback", method="POST"):
        assert app.session_interface.open_session(app, flask.request) is None
    with app.test_request_context("/dashboard/"):
        assert app.session_interface.open_session(app, flask.request) is not None
    answer = world.post(b'{"destination":"U0","events":[]}')
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers


def test_oversized_body_is_413(world):
    assert world.post(b" " * (1024 * 1024 + 1)).status_code == 413


def test_redelivered_event_changes_nothing(world, session):
    group = world.group()
    join = world.line.join(group.id)
    first = world.send(join)

    again = world.send(world.line.redelivery(join))
    duplicate = world.send(join)

    assert first and not again and not duplicate
    assert again.status == duplicate.status == 200
    assert count(session, Network) == 1 and count(session, OutboxMessage) == 2  # greeting + name lookup


def test_standby_events_are_acknowledged_but_not_acted_on(world, session):
    group = world.group()
    alice = world.person("Alice")
    answer = world.send(world.line.text(group.id, alice.id, "ヘルプ", mode="standby"))
    assert answer.status == 200 and not answer
    assert count(session, OutboxMessage) == 0


def test_one_failing_event_does_not_lose_the_others(world, session, monkeypatch, caplog):
    import handlers.membership as membership

    group, other = world.group(), world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    world.invite_bot(other)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(membership, "register_member", broken)
    bad = world.line.text(group.id, alice.id, "団体登録 ひまわり")
    good = world.line.text(other.id, alice.id, "ヘルプ")
    with caplog.at_level(logging.ERROR):
        answer = world.send(bad, good)

    assert answer.status == 200
    assert "使い方" in answer.to(other).text
    assert "すみません" in answer.to(group).text  # no stack trace, a short apology
    assert bad["webhookEventId"] in caplog.text


def test_unknown_event_types_are_acknowledged(world, session):
    event = world.line.join(world.group().id)
    event["type"] = "somethingNew"
    assert world.send(event).status == 200


def test_every_line_fixture_is_acknowledged(world, caplog):
    """Real bodies from LINE's SDK test suites: 200 and no error, even shapes the SDK cannot parse."""
    fixtures = sorted(require_shared("line-fixtures").glob("*.json"))
    assert fixtures
    for path in fixtures:
        body = path.read_bytes()
        json.loads(body)
        with caplog.at_level(logging.ERROR):
            caplog.clear()
            response = world.post(body)
        assert response.status_code == 200, path.name
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], path.name
