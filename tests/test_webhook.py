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
from bot.store.group_commit import GroupCommitTimeout
from bot.store.inbox_writer import InboxWriteFailed
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


def test_the_door_records_whether_line_says_it_redelivers_an_event(world, engine):
    """LINE marks a redelivery (``deliveryContext.isRedelivery``); the inbox keeps the mark for the worker."""
    group = world.group()
    first = world.line.join(group.id)
    door = world.runtime.door
    again = world.line.redelivery(first)
    odd = dict(first, deliveryContext="yes")  # not an object: not a redelivery
    rows = door.rows(encode_body(world.line.payload(first, again, odd)))
    assert [row["redelivery"] for row in rows] == [False, True, False]
    assert rows[0]["event_key"] == rows[1]["event_key"] == first["webhookEventId"]


# --- what the door keeps of each event (killed mutants of bot/pipeline/webhook.py; bench/mutation.py) ---


def test_the_door_keeps_each_event_by_its_id_type_and_chat(world):
    door = world.runtime.door
    group = world.group()
    alice = world.person("Alice")
    in_group = world.line.text(group.id, alice.id, "ヘルプ")
    in_room = world.line.text(group.id, alice.id, "ヘルプ")
    in_room["source"] = {"type": "room", "roomId": "R" + "1" * 32, "userId": alice.id}
    one_to_one = world.line.follow(alice.id)
    long_ids = world.line.join(group.id)
    long_ids["webhookEventId"] = "E" * 100
    long_ids["source"]["groupId"] = "C" + "2" * 99
    long_ids["type"] = "t" * 50
    no_source = world.line.join(group.id)
    del no_source["source"]
    rows = door.rows(encode_body(world.line.payload(in_group, in_room, one_to_one, long_ids, no_source)))
    assert [(r["event_key"], r["event_type"], r["chat_id"]) for r in rows] == [
        (in_group["webhookEventId"], "message", group.id),  # a group's id before its member's
        (in_room["webhookEventId"], "message", "R" + "1" * 32),  # a room's id before its member's
        (one_to_one["webhookEventId"], "follow", alice.id),
        ("E" * 80, "t" * 40, ("C" + "2" * 99)[:64]),  # cut to what the columns hold
        (no_source["webhookEventId"], "join", None),
    ]
    assert all(door.sealer.open(r["event_key"], r["payload"]) for r in rows)  # sealed, and opens again


def test_an_event_without_an_id_is_keyed_by_a_hash_of_its_content():
    import hashlib

    from bot.pipeline.webhook import event_key

    event = {"type": "join", "timestamp": 1, "source": {"type": "group", "groupId": "C1"}}
    reordered = {"source": {"groupId": "C1", "type": "group"}, "timestamp": 1, "type": "join"}
    canonical = json.dumps(event, sort_keys=True).encode()
    assert event_key(event) == event_key(reordered) == "sha256:" + hashlib.sha256(canonical).hexdigest()
    assert event_key({**event, "webhookEventId": ""}).startswith("sha256:")  # an empty id is no id
    assert event_key({**event, "webhookEventId": 7}).startswith("sha256:")  # nor is a number


def test_lone_surrogates_and_nul_become_the_replacement_character():
    from bot.pipeline.webhook import clean_text

    assert clean_text("前\ud800後\x00") == "前\ufffd後\ufffd"
    assert clean_text("😀") == "😀"


def test_bodies_up_to_the_limit_are_read_and_one_byte_more_is_413(world):
    from bot.pipeline.webhook import MAX_BODY

    events = b'{"destination":"U0","events":[]}'
    at_limit = events + b" " * (MAX_BODY - len(events))  # JSON allows trailing spaces
    assert world.post(at_limit).status_code == 200
    assert world.post(at_limit + b" ").status_code == 413


def test_a_body_that_is_not_utf8_is_refused_as_unsigned(world, caplog):
    body = b'{"destination":"U0","events":[]}\xff'
    with caplog.at_level(logging.WARNING):
        assert world.post(body).status_code == 400
    assert "missing or invalid signature" in caplog.text


def test_a_database_failure_answers_500_so_that_line_redelivers(world, monkeypatch):
    from bot.pipeline.webhook import DatabaseUnavailable

    def fails(rows):  # type: ignore[no-untyped-def]
        raise DatabaseUnavailable()

    monkeypatch.setattr(world.runtime.door, "accept", fails)
    event = world.line.join(world.group().id)
    response = world.post(encode_body(world.line.payload(event)))
    assert response.status_code == 500


def test_an_event_without_a_type_is_kept_with_an_empty_type(world):
    event = world.line.join(world.group().id)
    del event["type"]
    [row] = world.runtime.door.rows(encode_body(world.line.payload(event)))
    assert row["event_type"] == ""


def test_the_door_gives_up_on_a_stuck_commit_well_inside_lines_two_seconds():
    """LINE gives up on a webhook after 2 s: a commit that hangs must turn into a 500 before that."""
    from bot.pipeline.webhook import COMMIT_TIMEOUT, WebhookDoor
    from bot.store.db import make_engine

    door = WebhookDoor(make_engine("sqlite://"), SECRET, now=lambda: None)  # type: ignore[arg-type, return-value]
    assert door.commits._timeout == COMMIT_TIMEOUT < 2.0


# --- what the operator sees ------------------------------------------------------------------
# Each refusal answers a status LINE acts on and a short text someone with curl can read, and
# logs one line saying why, with sizes and event keys but never the body.


def _webhook_lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "bot.pipeline.webhook"]


def test_each_refusal_answers_a_short_text_and_logs_why(world, caplog):
    signed = b'{"destination":"U0","events":[]}'
    with caplog.at_level(logging.DEBUG, logger="bot.pipeline.webhook"):
        unsigned = world.post(signed, signature=None)
        not_payload = world.post(b"[]")
        too_large = world.post(b" " * (1024 * 1024 + 1))
        fine = world.post(signed)

    assert (unsigned.status_code, unsigned.get_data(as_text=True)) == (400, "invalid signature")
    assert (not_payload.status_code, not_payload.get_data(as_text=True)) == (400, "bad request")
    assert (too_large.status_code, too_large.get_data(as_text=True)) == (413, "payload too large")
    assert (fine.status_code, fine.get_data(as_text=True)) == (200, "OK")
    assert _webhook_lines(caplog) == [
        ("WARNING", f"webhook: rejected a request with a missing or invalid signature ({len(signed)} bytes)"),
        ("WARNING", "webhook: signed body is not a LINE webhook payload (2 bytes)"),
    ]


def test_a_large_body_is_refused_by_its_declared_length_before_it_is_read(world):
    from bot.pipeline.webhook import MAX_BODY

    declared = {"CONTENT_LENGTH": str(MAX_BODY + 1)}  # a liar or a slow upload: not read at all
    answer = world.client.post("/callback", data=b"{}", environ_overrides=declared)
    assert (answer.status_code, answer.get_data(as_text=True)) == (413, "payload too large")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(InboxWriteFailed("disk I/O error"), "disk I/O error"), (GroupCommitTimeout(), "GroupCommitTimeout")],
    ids=["write failed", "commit stuck"],
)
def test_a_database_failure_is_logged_with_its_reason_and_answers_500(world, monkeypatch, caplog, failure, reason):
    def fails(rows):  # type: ignore[no-untyped-def]
        raise failure

    monkeypatch.setattr(world.runtime.door.commits, "submit", fails)
    event = world.line.join(world.group().id)
    with caplog.at_level(logging.INFO, logger="bot.pipeline.webhook"):
        answer = world.post(encode_body(world.line.payload(event, event)))
    assert (answer.status_code, answer.get_data(as_text=True)) == (500, "temporarily unavailable")
    assert _webhook_lines(caplog) == [("ERROR", f"webhook: cannot record 2 event(s): database unavailable ({reason})")]


def test_events_the_door_skips_are_logged_by_their_key(world, caplog):
    group, alice = world.group(), world.person("Alice")
    standby = world.line.text(group.id, alice.id, "ヘルプ", mode="standby")
    odd_source = world.line.join(group.id) | {"source": "C123"}
    body = encode_body(world.line.payload(standby, odd_source) | {"events": [standby, odd_source, 7]})
    with caplog.at_level(logging.DEBUG, logger="bot.pipeline.webhook"):
        assert world.runtime.door.rows(body) == []
    assert _webhook_lines(caplog) == [
        ("DEBUG", f"event {standby['webhookEventId']}: standby, not acted on"),
        ("INFO", f"event {odd_source['webhookEventId']}: skipped, its source is not an object"),
        ("INFO", "webhook: skipped an event that is not an object"),
    ]


def test_a_chunked_body_without_a_length_is_refused_once_read_past_the_limit(world):
    import io

    from bot.pipeline.webhook import MAX_BODY

    body = b" " * (MAX_BODY + 1)
    chunked = {"wsgi.input_terminated": True, "CONTENT_LENGTH": None}  # no length: read, then measured
    answer = world.client.post(
        "/callback",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "X-Line-Signature": sign(body, SECRET)},
        environ_overrides=chunked,
    )
    assert (answer.status_code, answer.get_data(as_text=True)) == (413, "payload too large")
