"""Pages of the case log: the filtered thread list (and its exports) and one thread with its
timeline, coordinator notes and outcome corrections."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import abort, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from bot.replies import messages
from bot.web.dashboard import caselog, exports, timeline
from bot.web.dashboard.web import bp, db, local, network_or_404, now
from models import CATEGORIES, Area, Organization, Outcome, Thread, ThreadState
from models.casebook import casebook, is_shared, set_shared
from models.casework import OUTCOME_LABELS, set_outcome
from models.connections import (
    REFERRAL_KIND_LABELS,
    ReferralKind,
    organizations_first,
    record_missing,
    referral_kind,
    resources,
)
from models.consent import consent_of, set_consent
from models.dashboard import NOTE_LIMIT, add_note
from models.privacy import mask
from models.thread import CONSENT_LABELS, Consent

REASON_LIMIT = 500
# The lead's catalogue has the choices the chat offers; the same lists keep figures comparable.
REFERRALS: tuple[str, ...] = getattr(messages, "REFERRAL_DESTINATIONS", ())
END_REASONS: tuple[str, ...] = getattr(messages, "END_REASONS", ())


def _choices(network_id: int, filters: caselog.ThreadFilter) -> dict[str, Any]:
    session = db()
    # The network's own list of 地区 (threads take their area from it); not a DISTINCT over
    # 200,000 threads on every page view.
    areas = list(session.scalars(select(Area.name).where(Area.network_id == network_id).order_by(Area.id)))
    if filters.area and filters.area not in areas:
        areas.append(filters.area)
    orgs = session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.network_id == network_id)
        .order_by(Organization.name)
    ).all()
    return {
        "categories": CATEGORIES,
        "areas": areas,
        "organizations": orgs,
        "outcomes": [(str(o), label) for o, label in OUTCOME_LABELS.items()],
        "sorts": [(key, label) for key, (label, _) in caselog.SORTS.items()],
    }


@bp.get("/n/<int:network_id>/threads")
def threads(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    filters = caselog.ThreadFilter.from_args(request.args)
    page = caselog.thread_page(db(), network, filters)
    return render_template(
        "dashboard/threads.html",
        network=network,
        filters=filters,
        page=page,
        local=lambda value: local(value, network),
        summary=caselog.summary_text,
        state_labels=caselog.STATE_LABELS,
        **_choices(network.id, filters),
    )


@bp.get("/n/<int:network_id>/threads.<any(xlsx, csv):fmt>")
def threads_export(network_id: int, fmt: str) -> Any:
    network, _ = network_or_404(network_id)
    filters = caselog.ThreadFilter.from_args(request.args)
    rows = caselog.export_rows(db(), network, filters.conditions(network))
    name = f"kasane-case-log-{network.id}{'-' + filters.month if filters.month else ''}.{fmt}"
    return send_export(fmt, name, "困りごと一覧", caselog.EXPORT_COLUMNS, rows)


def send_export(fmt: str, name: str, title: str, columns: Any, rows: Any, extra: list[Any] | None = None) -> Any:
    # A spooled file: small exports stay in memory, a whole 200,000-thread log goes to disk.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    if fmt == "xlsx":
        exports.write_xlsx([exports.Sheet(title, columns, rows), *(extra or [])], out)
        mime = exports.XLSX_MIME
    else:
        exports.write_csv(columns, rows, out)
        mime = exports.CSV_MIME
    out.seek(0)
    return send_file(out, mimetype=mime, as_attachment=True, download_name=name)


def _thread_or_404(network_id: int, number: int) -> tuple[Any, Any, Thread]:
    network, member = network_or_404(network_id)
    thread = db().scalar(select(Thread).where(Thread.network_id == network.id, Thread.number == number))
    if thread is None:
        abort(404)
    return network, member, thread


@bp.get("/n/<int:network_id>/threads/<int:number>")
def thread(network_id: int, number: int, errors: list[str] | None = None, form: dict[str, str] | None = None) -> Any:
    network, _, item = _thread_or_404(network_id, number)
    organization = db().get(Organization, item.organization_id) if item.organization_id else None
    return render_template(
        "dashboard/thread.html",
        network=network,
        thread=item,
        organization=organization,
        summary=caselog.summary_text(item),
        entries=timeline.timeline(db(), item),
        notes=timeline.notes(db(), item),
        local=lambda value: local(value, network),
        outcomes=[(str(o), label) for o, label in OUTCOME_LABELS.items()],
        end_reasons=END_REASONS,
        errors=errors or [],
        form=form or {},
        note_limit=NOTE_LIMIT,
        saved=request.args.get("saved", ""),
        state_labels=caselog.STATE_LABELS,
        consent=consent_of(db(), item),
        referrals=organizations_first(db(), network, REFERRALS),
        referral_kinds=[(str(kind), label) for kind, label in REFERRAL_KIND_LABELS.items()],
        resources=resources(network),
        shared=is_shared(db(), item),
        consent_labels=[(str(value), label) for value, label in CONSENT_LABELS.items()],
    ), (400 if errors else 200)


@bp.post("/n/<int:network_id>/threads/<int:number>/missing")
def thread_missing(network_id: int, number: int) -> Any:
    """足りなかった資源 for this thread, from the network's list."""
    network, member, item = _thread_or_404(network_id, number)
    resource = request.form.get("resource", "")
    if resource not in resources(network):
        return thread(network_id, number, errors=["足りなかった資源を一覧から選んでください。"])
    record_missing(db(), item, member, resource, now(), via="dashboard")
    db().commit()
    return redirect(url_for("dashboard.thread", network_id=network_id, number=number, saved="missing") + "#timeline")


@bp.post("/n/<int:network_id>/threads/<int:number>/share")
def thread_share(network_id: int, number: int) -> Any:
    """事例として共有 (closed threads): the 事例集 lists it, anonymised."""
    _, member, item = _thread_or_404(network_id, number)
    if item.state != ThreadState.CLOSED:
        return thread(network_id, number, errors=["事例として共有できるのは、終わった困りごとだけです。"])
    set_shared(db(), item, member, request.form.get("shared") == "1", now())
    db().commit()
    return redirect(url_for("dashboard.thread", network_id=network_id, number=number, saved="share") + "#timeline")


CASEBOOK_COLUMNS = (
    "番号",
    "分野",
    "地区",
    "要約（伏せ字済み・団体名は同意のあるものだけ）",
    "結果",
    "伝手",
    "申し出",
    "終わるまでの日数",
    "投稿団体（名前を出すことに同意した団体だけ）",
)


@bp.get("/n/<int:network_id>/casebook.<any(xlsx, csv):fmt>")
def casebook_export(network_id: int, fmt: str) -> Any:
    """事例集: the threads marked 事例として共有, anonymised (models.casebook)."""
    network, _ = network_or_404(network_id)
    rows = [
        (s.number, s.categories, s.area, s.summary, s.outcome, s.connections, s.offers, s.days, s.organization)
        for s in casebook(db(), network)
    ]
    return send_export(fmt, f"kasane-casebook-{network.id}.{fmt}", "事例集", CASEBOOK_COLUMNS, rows)


@bp.post("/n/<int:network_id>/threads/<int:number>/consent")
def thread_consent(network_id: int, number: int) -> Any:
    """本人同意 from the dashboard (coordinators and organizers), kept in the timeline."""
    _, member, item = _thread_or_404(network_id, number)
    value = request.form.get("consent", "")
    if value not in {str(c) for c in Consent}:
        return thread(network_id, number, errors=["本人同意を選んでください。"])
    set_consent(db(), item, member, Consent(value), now(), via="dashboard")
    db().commit()
    return redirect(url_for("dashboard.thread", network_id=network_id, number=number, saved="consent") + "#timeline")


@bp.post("/n/<int:network_id>/threads/<int:number>/notes")
def thread_note(network_id: int, number: int) -> Any:
    _, member, item = _thread_or_404(network_id, number)
    text = request.form.get("text", "").strip()
    if not text:
        return thread(network_id, number, errors=["メモを入力してください。"])
    add_note(db(), item, member, text, now())
    db().commit()
    return redirect(url_for("dashboard.thread", network_id=network_id, number=number, saved="note") + "#notes")


@bp.post("/n/<int:network_id>/threads/<int:number>/outcome")
def thread_outcome(network_id: int, number: int) -> Any:
    network, member, item = _thread_or_404(network_id, number)
    keys = ("outcome", "referred_to", "referral_kind", "end_reason", "reason")
    form = {key: request.form.get(key, "").strip() for key in keys}
    errors = []
    if form["outcome"] not in {str(o) for o in Outcome}:
        errors.append("結果を選んでください。")
    if not form["reason"]:
        errors.append("修正の理由を入力してください（経過に残ります）。")
    if form["outcome"] == Outcome.REFERRED and not form["referred_to"]:
        errors.append("つなぎ先を入力してください。")
    if form["outcome"] == Outcome.ENDED and not form["end_reason"]:
        errors.append("終了の理由を選んでください。")
    if errors:
        return thread(network_id, number, errors=errors, form=form)
    kind = form.get("referral_kind") or None
    if form["outcome"] == Outcome.REFERRED:
        said = ReferralKind(kind) if kind in {str(k) for k in ReferralKind} else None
        kind = referral_kind(db(), network, form["referred_to"][:100], said)
    set_outcome(
        db(),
        item,
        member,
        Outcome(form["outcome"]),
        now(),
        referred_to=form["referred_to"][:100] or None,
        referral_kind=kind,
        end_reason=form["end_reason"][:200] or None,
        # The reason stays in the timeline for years: masked like every stored text.
        reason=mask(form["reason"][:REASON_LIMIT]).text,
        via="dashboard",
    )
    db().commit()
    return redirect(url_for("dashboard.thread", network_id=network_id, number=number, saved="outcome") + "#timeline")
