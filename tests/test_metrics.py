"""/metrics, /healthz?deep=1 and JSON logs, on a real ``kasane serve`` (web, worker and sender processes).

The scrape is parsed with prometheus-client's own parser: what the worker and the sender counted in
processes of their own shows in the web process's /metrics (multiprocess mode).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET, TOKEN, make_config
from faults import KasaneProcess, free_port, post_webhook, signed, write_config
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id
from bot.runtime import build_runtime
from models.operations import beat

METRICS_TOKEN = "metrics-token-for-tests"
POSTED = "一人暮らしの方の通院の付き添いを探しています"


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[name, tuple(sorted(labels.items()))]


def eventually(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def served(tmp_path: Path, database_url: str):
    platform = FakeLinePlatform(TOKEN)
    with FakeLineServer(platform) as line_server:
        port, metrics_port = free_port(), free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
        )
        with config.open("a", encoding="utf-8") as file:
            file.write(
                f'[metrics]\ntoken = "{METRICS_TOKEN}"\naddress = "127.0.0.1:{metrics_port}"\n'
                '[log]\nformat = "json"\nlevels = { "bot.pipeline.inbox" = "DEBUG" }\n'
            )
        server = KasaneProcess(config, port=port, log_dir=tmp_path, name="serve").start(fork=False)
        try:
            server.wait_healthy()
            yield server, platform, metrics_port
        finally:
            server.stop()


def test_a_scrape_counts_every_process_and_lines_name_the_event(served):
    server, platform, metrics_port = served
    group, alice = new_group_id(), new_user_id()
    platform.add_group(group, "ささえあいネット")
    platform.add_member(group, alice, "社協 田中")
    line = WebhookBuilder(platform)
    events = [line.join(group), line.text(group, alice, "団体登録 社会福祉協議会 フォーマル")]
    events += [line.text(group, alice, f"困りごと {POSTED}{n}") for n in range(3)]
    for event in events:
        assert post_webhook(server.url, *signed(line, SECRET, event)) == 200
    assert post_webhook(server.url, b'{"events": []}', {"X-Line-Signature": "forged"}) == 400

    def settled() -> dict[Any, float] | None:
        status, text = get(server.url + "/metrics", METRICS_TOKEN)
        assert status == 200, text
        found = samples(text)
        handled = found.get(("kasane_events_total", (("outcome", "handled"),)), 0)
        recorded = found.get(("kasane_send_latency_seconds_count", ()), 0)  # the last step of a send
        return found if handled == len(events) and recorded >= 5 else None

    found = eventually(settled, what="every event handled and answered")
    # The web process's own counts ...
    assert value(found, "kasane_webhook_requests_total", status="200") == len(events)
    assert value(found, "kasane_webhook_requests_total", status="400") == 1
    assert value(found, "kasane_webhook_ack_seconds_count") == len(events) + 1
    # ... the worker's (a process of its own) ...
    assert value(found, "kasane_events_total", outcome="handled") == len(events)
    # ... and the sender's (another one): LINE's answers, and how long a message took.
    assert value(found, "kasane_line_responses_total", endpoint="reply_message", status="200") >= 5
    # Read from the database at the scrape.
    assert value(found, "kasane_database_up") == 1
    assert value(found, "kasane_inbox_waiting_events") == 0
    assert value(found, "kasane_inbox_oldest_waiting_seconds") == 0
    assert value(found, "kasane_outbox_messages", status="failed", kind="push") == 0
    roles = {dict(labels)["role"] for name, labels in found if name == "kasane_heartbeat_age_seconds"}
    assert {"worker", "sender"} <= roles
    assert value(found, "kasane_outbox_messages", status="waiting", kind="reply") == 0

    # Only with the token on the main port; the metrics address needs none.
    assert get(server.url + "/metrics")[0] == 401
    assert get(server.url + "/metrics", "wrong")[0] == 401
    status, text = get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert status == 200 and "kasane_events_total" in text

    status, body = get(server.url + "/healthz?deep=1")
    assert status == 200, body
    assert json.loads(body)["heartbeat_age"].keys() == {"worker", "sender"}

    # JSON lines; those about an event name it, its network and its thread, never its text.
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    assert lines and all({"timestamp", "level", "logger", "message"} <= line.keys() for line in lines)
    about_posts = [line for line in lines if line.get("event_id") == events[-1]["webhookEventId"]]
    assert about_posts and all(line["network_id"] >= 1 and line["thread_number"] == 3 for line in about_posts)
    assert POSTED not in server.logs()


def test_deep_health_sees_stale_heartbeats_and_events_kept_waiting(config, clock, platform, client, session):
    assert client.get("/healthz").status_code == 200
    answer = client.get("/healthz?deep=1")
    assert answer.status_code == 503 and "worker heartbeat missing" in answer.json["problems"]

    now = datetime.now(UTC)
    for role in ("worker", "sender"):
        beat(session, role=role, instance=f"{role}:test:1", host="test", pid=1, started_at=now, now=now)
    session.commit()
    answer = client.get("/healthz?deep=1")
    assert answer.status_code == 200, answer.json

    stale = now - timedelta(seconds=config.get("health", "heartbeat_timeout") + 5)
    beat(session, role="sender", instance="sender:test:1", host="test", pid=1, started_at=now, now=stale)
    session.commit()
    answer = client.get("/healthz?deep=1")
    assert answer.status_code == 503 and any("sender heartbeat" in p for p in answer.json["problems"])
    beat(session, role="sender", instance="sender:test:1", host="test", pid=1, started_at=now, now=now)
    session.commit()

    # An event acknowledged and never handled (no worker runs here): too old after the limit.
    line = WebhookBuilder(platform)
    body, headers = line.signed_request(SECRET, line.text(new_group_id(), new_user_id(), "ヘルプ"))
    assert client.post("/callback", data=body, headers=headers).status_code == 200
    assert client.get("/healthz?deep=1").status_code == 200
    clock.advance(timedelta(seconds=config.get("health", "max_waiting_age") + 1))
    answer = client.get("/healthz?deep=1")
    assert answer.status_code == 503 and any("waited" in p for p in answer.json["problems"])


def test_health_answers_503_when_the_database_is_unreachable():
    config = make_config("postgresql://kasane@127.0.0.1:1/nowhere", "http://127.0.0.1:1")
    app = create_app(build_runtime(config))
    client = app.test_client()
    assert client.get("/healthz").status_code == 503
    answer = client.get("/healthz?deep=1")
    assert answer.status_code == 503 and answer.json["database"] is False
    app.extensions["kasane"].close()
