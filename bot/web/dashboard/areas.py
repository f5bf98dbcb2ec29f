"""The 地区 page: a city's areas (Kurume has 46 校区) added, renamed, merged and put in order.

Renaming and merging move the threads too, each with a correction in its timeline; reports of
past periods keep the names they had then (models.report reads the timeline)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import func, select

from bot.web.dashboard.web import bp, db, network_or_404, now
from models import Thread
from models.areas import add_areas, area_names, merge_areas, move_area, rename_area


@bp.get("/n/<int:network_id>/areas")
def areas(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    counts = dict(
        db()
        .execute(
            select(Thread.area, func.count())
            .where(Thread.network_id == network.id, Thread.retracted.is_(False))
            .group_by(Thread.area)
        )
        .all()
    )
    names = area_names(db(), network.id)
    return render_template(
        "dashboard/areas.html",
        network=network,
        rows=[(name, counts.get(name, 0)) for name in names],
        names=names,
        saved=request.args.get("saved", ""),
    )


@bp.post("/n/<int:network_id>/areas")
def areas_change(network_id: int) -> Any:
    network, member = network_or_404(network_id)
    action, form = request.form.get("action", ""), request.form
    if action == "add":
        names = form.get("names", "").replace("、", " ").replace(",", " ").split()
        if not names:
            abort(400, "加える地区の名前を入力してください。")
        add_areas(db(), network.id, names)
    elif action in ("rename", "merge"):
        change = rename_area if action == "rename" else merge_areas
        target = form.get("new", "") if action == "rename" else form.get("into", "")
        if change(db(), network, form.get("name", ""), target.strip(), member, now(), "dashboard") is None:
            abort(400, "変更できませんでした。名前を確かめてください（同じ名前の地区はつくれません）。")
    elif action in ("up", "down"):
        move_area(db(), network.id, form.get("name", ""), -1 if action == "up" else 1)
    else:
        abort(400, "操作を選んでください。")
    db().commit()
    return redirect(url_for("dashboard.areas", network_id=network.id, saved=action))
