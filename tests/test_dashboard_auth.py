"""Who may see the dashboard: one-time links, sessions, CSRF, per-network access, headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from test_dashboard_world import csrf_token, form_token, login_link, path_of, sign_in, two_networks

from bot.clock import Clock
from models import LoginToken, OrgKind, Role, ThreadNote
from models.membership import grant_role, network_for_group, register_member


@pytest.fixture
def nets(session, clock):
    return two_networks(session, clock.now())


def test_anonymous_is_sent_to_sign_in(client, nets):
    a, _ = nets
    for path in ("/dashboard/", f"/dashboard/n/{a.id}/threads", f"/dashboard/n/{a.id}/report"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/dashboard/signin")
    assert "<strong>ログイン</strong>" in client.get("/dashboard/signin").get_data(as_text=True)


def test_a_link_signs_in_once(client, runtime, nets):
    a, _ = nets
    path = path_of(login_link(runtime, a.coordinator))
    page = client.get(path)
    # Opening the link (as LINE's preview robot would) does not use it up.
    assert page.status_code == 200 and client.get(path).status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 200

    # Used: refused (signing in renewed the CSRF token: take the new one from a page).
    assert client.get(path).status_code == 400
    again = client.post(path, data={"csrf_token": form_token(client, "/dashboard/")})
    assert again.status_code == 400 and "使えません" in again.get_data(as_text=True)


def test_an_expired_link_is_refused(client, runtime, clock, nets):
    a, _ = nets
    path = path_of(login_link(runtime, a.coordinator))
    token = form_token(client, path)
    clock.advance(timedelta(minutes=10, seconds=1))
    assert client.post(path, data={"csrf_token": token}).status_code == 400
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 302


def test_a_tampered_link_is_refused(client, runtime, session, nets):
    a, _ = nets
    path = path_of(login_link(runtime, a.coordinator))
    token = form_token(client, path)
    secret, signature = path.rsplit("/", 1)[1].split(".")
    for forged in (f"{secret}x.{signature}", f"{secret}.{signature[:-2]}AA", secret, "nothing"):
        forged_path = f"/dashboard/login/{forged}"
        assert client.get(forged_path).status_code == 400
        assert client.post(forged_path, data={"csrf_token": token}).status_code == 400
    # Only a hash was ever stored; the genuine link still works afterwards.
    stored = session.scalars(select(LoginToken.token_hash)).all()
    session.rollback()
    assert secret not in stored and all(len(h) == 64 for h in stored)
    assert client.post(path, data={"csrf_token": token}).status_code == 302


def test_forms_without_the_csrf_token_are_refused(client, runtime, session, nets):
    a, _ = nets
    path = path_of(login_link(runtime, a.coordinator))
    client.get(path)
    assert client.post(path).status_code == 400  # sign-in form without a token
    assert client.post(path, data={"csrf_token": "wrong"}).status_code == 400
    sign_in(client, runtime, a.coordinator)
    thread = f"/dashboard/n/{a.id}/threads/1"
    for action, data in (("notes", {"text": "メモ"}), ("outcome", {"outcome": "resolved", "reason": "確認済み"})):
        assert client.post(f"{thread}/{action}", data=data).status_code == 400
        assert client.post(f"{thread}/{action}", data={**data, "csrf_token": "forged"}).status_code == 400
    assert client.post("/dashboard/logout").status_code == 400
    assert client.get(thread).status_code == 200  # still signed in: the refused logout did nothing
    assert session.scalar(select(func.count(ThreadNote.id))) == 0
    session.refresh(a.threads[0])
    assert a.threads[0].outcome is None


def test_a_member_without_a_role_gets_no_link_and_no_access(client, runtime, session, clock, nets):
    a, _ = nets
    member_user = a.members["東部包括"].line_user_id
    assert client.get("/dashboard/", follow_redirects=False).status_code == 302
    # A link made anyway (e.g. the role was revoked after) signs in to nothing.
    sign_in(client, runtime, member_user)
    assert "ネットワークがありません" in client.get("/dashboard/").get_data(as_text=True)
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 404


def test_a_revoked_role_ends_access_at_once(client, runtime, session, nets):
    a, _ = nets
    sign_in(client, runtime, a.coordinator)
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 200
    grant_role(session, a.network, a.coordinator, Role.MEMBER)
    session.commit()
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 404


def test_another_networks_pages_are_404(client, runtime, session, clock, nets):
    a, b = nets
    sign_in(client, runtime, a.coordinator)
    for network_id in (b.id, b.id + 1, 999):
        for page in (
            "threads",
            "threads/1",
            "threads/2",
            "report",
            "report.xlsx",
            "report.csv",
            "threads.xlsx",
            "threads.csv",
            "map",
            "organizations",
            "meetings",
        ):
            answer = client.get(f"/dashboard/n/{network_id}/{page}")
            assert answer.status_code == 404, (network_id, page)
            assert "西部" not in answer.get_data(as_text=True)
    token = form_token(client, f"/dashboard/n/{a.id}/threads/1")
    before = thread_as_stored(runtime, b.threads[0].id)
    assert (
        client.post(f"/dashboard/n/{b.id}/threads/1/notes", data={"csrf_token": token, "text": "x"}).status_code == 404
    )
    outcome = {"csrf_token": token, "outcome": "resolved", "reason": "x"}
    assert client.post(f"/dashboard/n/{b.id}/threads/1/outcome", data=outcome).status_code == 404
    assert thread_as_stored(runtime, b.threads[0].id) == before  # read again from the database
    # The same POSTs on its own network's thread do change it (so the check above can see a POST).
    mine = thread_as_stored(runtime, a.threads[0].id)
    note = {"csrf_token": token, "text": "x"}
    assert client.post(f"/dashboard/n/{a.id}/threads/1/notes", data=note).status_code < 400
    assert client.post(f"/dashboard/n/{a.id}/threads/1/outcome", data=outcome).status_code < 400
    (outcome_now, _), notes, _ = thread_as_stored(runtime, a.threads[0].id)
    assert outcome_now == "resolved" and notes == mine[1] + 1
    # A coordinator of both sees both.
    grant_role(session, b.network, a.coordinator, Role.ORGANIZER)
    session.commit()
    assert client.get(f"/dashboard/n/{b.id}/threads/1").status_code == 200


def thread_as_stored(runtime, thread_id: int) -> tuple[object, ...]:
    """A thread's outcome, state, notes and events, read on a connection of its own (never a cached object)."""
    with runtime.engine.connect() as connection:
        row = connection.execute(text("SELECT outcome, state FROM threads WHERE id = :i"), {"i": thread_id}).one()
        notes = connection.execute(text("SELECT count(*) FROM thread_notes WHERE thread_id = :i"), {"i": thread_id})
        events = connection.execute(
            text("SELECT kind, count(*) FROM thread_events WHERE thread_id = :i GROUP BY kind ORDER BY kind"),
            {"i": thread_id},
        ).all()
        return (tuple(row), notes.scalar(), tuple(map(tuple, events)))


def test_security_headers_on_every_dashboard_response(client, runtime, nets):
    a, _ = nets
    responses = [client.get("/dashboard/signin"), client.get("/dashboard/nowhere"), client.get("/dashboard/login/x")]
    sign_in(client, runtime, a.coordinator)
    responses += [client.get(f"/dashboard/n/{a.id}/threads"), client.get(f"/dashboard/n/{a.id}/report.csv")]
    responses.append(client.get("/dashboard/n/999/threads"))
    for answer in responses:
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp and "'unsafe-inline'" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in responses[3].get_data(as_text=True)


def test_session_cookie_flags_and_idle_timeout(app, client, runtime, clock, nets):
    # Sessions age in real time since issue 21 (the simulator's clock must not sign people out):
    # this test moves a clock of its own for them.
    wall = Clock(fixed=clock.now())
    app.config["SESSION_CLOCK"] = lambda: wall.now().timestamp()
    a, _ = nets
    path = path_of(login_link(runtime, a.coordinator))
    answer = client.post(path, data={"csrf_token": form_token(client, path)})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; Secure when public_url is https
    clock.advance(timedelta(days=3))  # the simulated clock: no effect on the session
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 200
    wall.advance(timedelta(hours=1, minutes=59))
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 200
    wall.advance(timedelta(hours=2, minutes=1))
    answer = client.get(f"/dashboard/n/{a.id}/threads")
    assert answer.status_code == 302 and "expired=1" in answer.headers["Location"]


def test_sign_out(client, runtime, nets):
    a, _ = nets
    sign_in(client, runtime, a.coordinator)
    token = form_token(client, "/dashboard/")
    assert client.post("/dashboard/logout", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/dashboard/n/{a.id}/threads").status_code == 302


# --- the chat side: ログイン ----------------------------------------------------------------


def test_login_in_a_group_is_told_to_use_a_one_to_one_chat(world):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    group.add(alice)

    answer = alice.says(group, "ログイン")

    assert "1対1のトーク" in answer.to(group).text
    assert "/dashboard/login/" not in str(answer.messages)


def test_login_one_to_one(world, session, clock):
    coordinator, member, stranger = world.person("Coord"), world.person("Member"), world.person("Stranger")
    network, _ = network_for_group(session, "Cgroup-chat", clock.now())
    register_member(session, network, member.id, "東部包括", OrgKind.FORMAL, clock.now())
    grant_role(session, network, member.id, Role.MEMBER)
    grant_role(session, network, coordinator.id, Role.COORDINATOR)
    session.commit()

    assert "コーディネーターと世話役" in member.says(None, "ログイン").text
    assert "コーディネーターと世話役" in stranger.says(None, "ログイン").text
    answer = coordinator.says(None, "ログイン")

    link = answer.button("ダッシュボードを開く")
    assert link["type"] == "uri" and "/dashboard/login/" in link["uri"]
    assert "10分間" in answer.text and "1回だけ" in answer.text
    page = world.client.get(path_of(link["uri"]))
    assert page.status_code == 200 and "ログインする" in page.get_data(as_text=True)


def test_login_links_are_rate_limited(world, session, clock):
    coordinator = world.person("Coord")
    network, _ = network_for_group(session, "Cgroup-rate", clock.now())
    grant_role(session, network, coordinator.id, Role.ORGANIZER)
    session.commit()
    for _ in range(5):
        assert coordinator.says(None, "ログイン").button("ダッシュボードを開く")
    refused = coordinator.says(None, "ログイン")
    assert "1時間ほどあけて" in refused.text and not refused.buttons
    clock.advance(timedelta(hours=1, seconds=1))
    assert coordinator.says(None, "ログイン").button("ダッシュボードを開く")


def test_old_sign_in_links_are_forgotten(runtime, session, clock, nets):
    from jobs.retention import forget_login_links

    a, _ = nets
    login_link(runtime, a.coordinator)
    assert forget_login_links(session, clock.now() + timedelta(days=1)) == 0
    assert forget_login_links(session, clock.now() + timedelta(days=2, seconds=1)) == 1
