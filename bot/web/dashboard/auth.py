"""Signing in with a one-time link from the bot, signing out, and the home page.

Opening a link does not use it up: it shows a button, and only pressing it (a POST)
signs in. LINE and mail clients fetch links to build previews; a GET that consumed the
token would let a preview robot spend it before the coordinator does.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, g, redirect, render_template, request, session, url_for

from bot.pipeline import outbox
from bot.replies import compose, messages
from bot.web.dashboard.web import bp, db, my_networks, now, runtime, sign_in
from models.approval import approve, may_approve, waiting_group
from models.dashboard import end_all_sessions, end_session
from models.report import previous_month


@bp.get("/signin")
def signin() -> Any:
    return render_template("dashboard/signin.html", expired=bool(request.args.get("expired")))


@bp.route("/login/<token>", methods=["GET", "POST"])
def login(token: str) -> Any:
    links = runtime().links
    if request.method == "GET":
        usable = links.check_sign_in(db(), token, now())
        return render_template("dashboard/login.html", usable=usable), (200 if usable else 400)
    user = links.redeem_sign_in(db(), token, now())
    db().commit()
    if user is None:
        return render_template("dashboard/login.html", usable=False), 400
    sign_in(user)
    return redirect(url_for("dashboard.home"))


@bp.post("/logout")
def logout() -> Any:
    end_session(db(), session.get("sid"))
    db().commit()
    session.clear()
    return redirect(url_for("dashboard.signin"))


@bp.post("/logout/everywhere")
def logout_everywhere() -> Any:
    """Every browser this person is signed in on, this one too (a lost phone, a shared computer)."""
    end_all_sessions(db(), g.user)
    db().commit()
    session.clear()
    return redirect(url_for("dashboard.signin"))


@bp.get("/")
def home(notice: str = "", status: int = 200) -> Any:
    today = now().astimezone(ZoneInfo(runtime().config.timezone))
    year, month = previous_month(today.year, today.month)
    return render_template(
        "dashboard/home.html",
        networks=my_networks(),
        last_month=f"{year:04d}-{month:02d}",
        may_approve=may_approve(db(), g.user),
        notice=notice,
    ), status


@bp.post("/approve")
def approve_group() -> Any:
    """An organizer of an approved network approves a waiting group by the id the bot showed in
    it, and becomes its organizer (issue 18, finding 8)."""
    if not may_approve(db(), g.user):
        abort(404)
    network = waiting_group(db(), request.form.get("group_id", "")[:64])
    if network is None:
        return home(messages.DASHBOARD_APPROVE_UNKNOWN, 404)
    approve(db(), network, now(), by="dashboard", organizer=g.user)
    greeting = [compose.text(messages.APPROVED_GREETING)]
    outbox.enqueue(db(), network.group_id, greeting, now=now(), network_id=network.id)
    db().commit()
    return home(messages.DASHBOARD_APPROVED)
