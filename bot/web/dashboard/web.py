"""The dashboard blueprint: who is signed in, which networks they may see, and the headers
every dashboard response carries.

Access is checked on every request against the database (a revoked role takes effect at
once); a network the person does not coordinate is a 404, exactly like one that does not
exist, so ids cannot be probed.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session

from models import Member, Network, Outcome
from models.casework import OUTCOME_LABELS
from models.dashboard import coordinated_networks, coordinator_in, session_user, start_session

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
PUBLIC_ENDPOINTS = {"dashboard.signin", "dashboard.login", "dashboard.static"}

# No script runs on these pages at all; styles only from our own stylesheet (inline SVG
# charts use presentation attributes, which CSP allows). frame-ancestors: no clickjacking.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    # The sign-in link carries a token in its path: never let it leave in a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()


def runtime() -> Any:
    return current_app.extensions["kasane"]


def now() -> datetime:
    return runtime().clock.now()


def session_time() -> float:
    """Sessions age in real time, not on the simulator's clock: moving the simulated clock on by a
    day must not sign the coordinator out. (Tests may set ``SESSION_CLOCK`` to a function of their own.)"""
    return float(current_app.config.get("SESSION_CLOCK", time.time)())


def db() -> Session:
    if "dashboard_db" not in g:
        g.dashboard_db = runtime().sessions()
    return g.dashboard_db


@bp.teardown_app_request
def _close_db(_exc: BaseException | None) -> None:
    db_session = g.pop("dashboard_db", None)
    if db_session is not None:
        db_session.close()


@bp.before_request
def _authenticate() -> Any:
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = session.get("uid")
    if not user:
        return redirect(url_for("dashboard.signin"))
    stamp = session_time()
    idle = stamp - float(session.get("seen", 0)) > IDLE_TIMEOUT.total_seconds()
    too_old = stamp - float(session.get("since", 0)) > ABSOLUTE_TIMEOUT.total_seconds()
    if idle or too_old:
        session.clear()
        return redirect(url_for("dashboard.signin", expired=1))
    if session_user(db(), session.get("sid")) != user:
        # Ended on the server (ログアウト elsewhere, sign out everywhere, a revoked role): every
        # copy of this cookie is worthless (issue 18, finding 4).
        session.clear()
        return redirect(url_for("dashboard.signin"))
    session["seen"] = stamp
    g.user = user
    return None


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    # after_app_request: also a 404 for an unknown /dashboard/... address gets the headers.
    if request.path.startswith(bp.url_prefix or "/dashboard"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(_error: CSRFError) -> tuple[str, int]:
    return render_template("dashboard/error.html", title="送信できませんでした", csrf=True), 400


@bp.errorhandler(400)
def _bad_request(error: Exception) -> tuple[str, int]:
    message = getattr(error, "description", "") or "入力を確かめてください。"
    return render_template("dashboard/error.html", title="入力を確かめてください", csrf=False, message=message), 400


@bp.errorhandler(404)
def _not_found(_error: Exception) -> tuple[str, int]:
    return render_template("dashboard/error.html", title="見つかりません", csrf=False), 404


def sign_in(line_user_id: str) -> None:
    """A new server-side session, its id in the (signed) cookie: a fresh id at every sign-in."""
    session.clear()
    sid = start_session(db(), line_user_id, now())
    db().commit()
    stamp = session_time()
    session.update(uid=line_user_id, sid=sid, since=stamp, seen=stamp)


def my_networks() -> list[Network]:
    return coordinated_networks(db(), g.user)


def network_or_404(network_id: int) -> tuple[Network, Member]:
    """The network and the signed-in person's Member row in it, or 404 (never 403: no leak)."""
    member = coordinator_in(db(), network_id, g.user)
    if member is None:
        abort(404)
    g.network = member.network
    g.member = member
    return member.network, member


def local(value: datetime | None, network: Network, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(network.timezone or "Asia/Tokyo")).strftime(fmt)


@bp.app_template_filter("outcome_label")
def outcome_label(value: str | None) -> str:
    if not value:
        return "未完了"
    try:
        return OUTCOME_LABELS[Outcome(value)]
    except ValueError:
        return value


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"signed_in": bool(g.get("user"))}
