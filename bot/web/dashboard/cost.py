"""The 送信数 page: counted messages this month (as LINE bills them) by kind and by network, the
plan and what is left, a projection, and what was not pushed and why; organizers set the plan."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, redirect, render_template, request, url_for

from bot.replies import messages
from bot.web.dashboard.web import bp, db, network_or_404, now
from models.budget import parse_plan, set_plan
from models.cost import month_cost
from models.ledger import QuotaMonth, month_of


@bp.get("/n/<int:network_id>/cost")
def cost(network_id: int, errors: list[str] | None = None) -> Any:
    network, member = network_or_404(network_id)
    month = request.args.get("month") or month_of(now())
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        abort(400)
    report = month_cost(db(), month, now())
    quota = db().get(QuotaMonth, month)
    warning = None
    if quota is not None and quota.told_100_at is not None:
        warning = messages.COST_PAGE_SPENT
    elif quota is not None and quota.told_80_at is not None:
        warning = messages.COST_PAGE_80
    labels = messages.COST_KIND_LABELS
    return render_template(
        "dashboard/cost.html",
        network=network,
        month=month,
        report=report,
        warning=warning,
        by_kind=[(labels.get(kind, kind), counted, pushes) for kind, counted, pushes in report.by_kind],
        not_pushed=[
            (messages.COST_OUTCOME_LABELS.get(outcome, outcome), labels.get(kind, kind), reason, n)
            for outcome, kind, reason, n in report.not_pushed
        ],
        can_set_plan=member.is_organizer,
        errors=errors or [],
    ), (400 if errors else 200)


@bp.post("/n/<int:network_id>/cost/plan")
def cost_plan(network_id: int) -> Any:
    network, member = network_or_404(network_id)
    if not member.is_organizer:
        abort(403)
    allowance = parse_plan(request.form.get("plan", ""))
    if allowance is None:
        return cost(network_id, errors=[messages.PLAN_UNKNOWN.format(text=request.form.get("plan", "")[:20])])
    set_plan(network, allowance)
    db().commit()
    return redirect(url_for("dashboard.cost", network_id=network_id, saved="plan"))
