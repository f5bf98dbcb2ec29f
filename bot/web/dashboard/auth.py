"""Signing in with a one-time link from the bot, signing out, and the home page.

Opening a link does not use it up: it shows a button, and only pressing it (a POST)
signs in. LINE and mail clients fetch links to build previews; a GET that consumed the
token would let a preview robot spend it before the coordinator does.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, session, url_for

from bot.web.dashboard.web import bp, db, my_networks, now, runtime, sign_in
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
    session.clear()
    return redirect(url_for("dashboard.signin"))


@bp.get("/")
def home() -> Any:
    today = now().astimezone(ZoneInfo(runtime().config.timezone))
    year, month = previous_month(today.year, today.month)
    return render_template("dashboard/home.html", networks=my_networks(), last_month=f"{year:04d}-{month:02d}")
