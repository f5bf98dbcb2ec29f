"""POST /callback: signatures, payload shapes, redelivery, standby, failures, LINE's fixtures."""

from __future__ import annotations

import json
import logging

import flask
import pytest
from conftest import SECRET, require_shared
from harness import outcomes, stored
from sqlalchemy import func, select, text

from bot.fakeline import encode_body, sign
from bot.pipeline.inbox import parse_event
from bot.pipeline.webhook import event_key
from bot.replies import messages
from models import Network, OutboxMessage


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_verify_button_gets_200(world):
    assert world.post(b'{"destination":"U0","events":[]}').status_code == 200


def test_missing_or_wrong_signature_is_400_and_stores_nothing(world, engine, caplog):
    group = world.group()
    body = encode_body(world.line.payload(world.line.join(group.id)))
    before = stored(engine)

    with caplog.at_level(logging.INFO):
        missing = world.post(body, signature=None)
        wrong = world.post(body, signature=sign(body, "another-secret"))
        tampered = world.post(body.replace(b"join", b"leave"), signature=sign(body, SECRET))

    assert [missing.status_code, wrong.status_code, tampered.status_code] == [400, 400, 400]
    assert b"join" not in wrong.data and b"events" not in wrong.data
    assert stored(engine) == before, "the inbox (its own file on SQLite) and every table unchanged"
    assert not world.deliver() and stored(engine) == before, "nothing for the worker to handle either"
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


def test_unknown_event_types_are_acknowledged(world, engine):
    event = world.line.join(world.group().id)
    event["type"] = "somethingNew"
    answer = world.send(event)
    assert answer.status == 200 and not answer
    assert outcomes(engine) == {event["webhookEventId"]: "unparsed"}  # recorded once, not acted on


def kept_at_the_door(body: bytes) -> list[dict]:
    """The events of a body the webhook keeps for the worker (objects with an object source, not standby)."""
    return [
        e
        for e in json.loads(body).get("events", [])
        if isinstance(e, dict) and isinstance(e.get("source", {}), dict) and e.get("mode") != "standby"
    ]


def distinct_event_ids(body: bytes, n: int) -> bytes:
    """The fixtures reuse a few webhookEventIds (``testwebhookeventid`` 27 times): give each event its
    own, or all but the first would be skipped as redeliveries and never reach a handler."""
    payload = json.loads(body)
    for i, event in enumerate(payload.get("events", [])):
        if isinstance(event, dict) and "webhookEventId" in event:
            event["webhookEventId"] = f"01FIXTURE{n:03d}{i:03d}{event['webhookEventId'][:8]}"
    return json.dumps(payload, ensure_ascii=False).encode()


def test_every_line_fixture_is_acknowledged_and_handled(world, engine, caplog):
    """Real bodies from LINE's SDK test suites: 200, then handled by the worker without an error.

    Every event the SDK can parse is handled (its handlers ran without a failure); shapes the
    SDK cannot parse are recorded as such; none fails, none is left waiting, nobody gets an apology.
    """
    fixtures = sorted(require_shared("line-fixtures").glob("*.json"))
    assert fixtures
    handled = 0
    for n, path in enumerate(fixtures):
        body = distinct_event_ids(path.read_bytes(), n)
        with caplog.at_level(logging.INFO):
            caplog.clear()
            response = world.post(body)
            world.runtime.inbox.drain()  # the worker (the fixtures' reply tokens and ids are unknown to LINE)
        assert response.status_code == 200, path.name
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], path.name
        assert not [r for r in caplog.records if "handler failed" in r.getMessage()], path.name
        with engine.connect() as connection:
            queued = connection.execute(text("SELECT messages FROM outbox")).scalars().all()
        texts = [m.get("text") for batch in queued for m in (json.loads(batch) if isinstance(batch, str) else batch)]
        assert messages.SORRY_FAILED not in texts, path.name
        seen = outcomes(engine)
        for event in kept_at_the_door(body):
            key = event_key(event)
            parsed = parse_event(key, event) is not None
            expected = "handled" if parsed else "unparsed"
            assert seen.get(key) == expected, (path.name, event.get("type"), seen.get(key))
            handled += parsed
    with world.runtime.inbox.inbox.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inbox")).scalar() == 0, "nothing left waiting"
    assert handled >= 20, handled  # the fixtures' join, text, postback, follow… events reached their handlers
