"""The worker's pages under ``/public/`` (no account; Chinese; phone first): report a problem and receive the
查询码, follow a report (and ask to reopen it), follow a medical mutual-aid claim.

They call the same use cases as the public JSON API (``api.self_service``); misses answer one message and are
limited per number and per client; pages carry the clerk pages' strict Content-Security-Policy (``api.headers``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError

from api import lookups, ratelimit, self_service
from api.clock import now
from api.deadlines import written_date
from api.documents import qr_svg
from api.extensions import current_session, db
from api.lifecycles.worker_report import CATEGORIES, WorkerReportSchema
from api.models import Employer
from api.self_service import NOT_FOUND
from api.ui.labels import choice_label
from workflow.errors import InvalidData, WorkflowError

blp = Blueprint("public", __name__, url_prefix="/public", static_folder="../static/public",
                static_url_path="/static")

FLOOD = "提交过于频繁，请 {minutes} 分钟后再试"
FORM_EXPIRED = "页面已过期，请重新提交"


@blp.context_processor
def _context() -> dict[str, Any]:
    return {"choice": choice_label, "chinese_date": written_date}


@blp.errorhandler(CSRFError)
def _expired(_error: CSRFError) -> Any:
    """A form whose CSRF token (Flask-WTF's, in every form) is missing or stale."""
    return render_template("public/message.html", title="页面已过期", message=FORM_EXPIRED), 400


def _too_many(seconds: int, template: str, **context: Any) -> Any:
    message = self_service.TOO_MANY.format(minutes=max(1, -(-seconds // 60)))
    return render_template(template, error=message, **context), 429, {"Retry-After": str(seconds)}


# ---- report a problem ------------------------------------------------------------------------------------

def _flooded() -> int | None:
    """The public intake's flood limit (shared with ``POST /api/v1/intake/worker-reports``)."""
    config = current_app.config
    return ratelimit.hit(current_session(), f"intake:{request.remote_addr}", now(), limit=config.get("INTAKE_LIMIT", 5),
                         window=timedelta(seconds=config.get("INTAKE_WINDOW_SECONDS", 600)))


@blp.route("/report", methods=["GET", "POST"])
def report() -> Any:
    values = request.form if request.method == "POST" else {}
    errors: dict[str, list[str]] = {}
    context = {"categories": [(code, choice_label(code)) for code in CATEGORIES]}
    if request.method == "POST":
        form = {name: request.form.get(name, "").strip() for name in ("employer", "category", "description",
                                                                      "contact")}
        submitted: dict[str, Any] = {key: value for key, value in form.items() if value or key != "contact"}
        submitted["anonymous"] = request.form.get("anonymous") == "on"
        try:
            data = WorkerReportSchema().load(submitted)
        except ValidationError as error:
            errors = {key: [str(message) for message in messages] for key, messages in
                      error.normalized_messages().items()}
        if not errors:
            wait = _flooded()
            if wait is not None:
                message = FLOOD.format(minutes=max(1, -(-wait // 60)))
                return (render_template("public/report.html", values=values, errors={}, error=message, **context),
                        429, {"Retry-After": str(wait)})
            data = WorkerReportSchema().dump(data)
            data["channel"] = "wechat"   # the federation's WeChat platform opens these pages
            try:
                case, secret = self_service.file_report(data, now())
            except InvalidData as error:
                db.session.rollback()
                errors = {key.removeprefix("data."): messages for key, messages in error.errors.items()}
            else:
                return _issued(case.number, secret, case.org_unit.name), 201
    return render_template("public/report.html", values=values, errors=errors, **context), 422 if errors else 200


def status_link(number: str, secret: str) -> str:
    """The status page with both filled in; the 查询码 rides in the fragment, which no server log sees."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}{url_for('public.report_status', number=number)}#code={secret}"


def _issued(number: str, secret: str, unit: str) -> str:
    link = status_link(number, secret)
    return render_template("public/report_done.html", number=number, secret=secret, unit=unit, link=link,
                           qr=qr_svg(link, scale=5))


@blp.get("/employers")
def employers() -> Any:
    """Suggestions for the employer field: up to 15 names from the employers table containing what was typed."""
    typed = request.args.get("q", "").strip()[:50]
    if len(typed) < 2:
        return jsonify([])
    pattern = "%" + typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    names = db.session.scalars(sa.select(Employer.name).where(Employer.name.like(pattern, escape="\\"))
                               .order_by(Employer.name).limit(15))
    return jsonify(list(names))


# ---- follow a report ---------------------------------------------------------------------------------------

def _report_lookup(number: str, code: str, template: str, **context: Any) -> tuple[Any, Any]:
    """(case, None) when found; (None, response) for a miss or a refused look-up (the API's miss limits)."""
    try:
        case = lookups.find_report_for_reporter(current_session(), number, code, client=request.remote_addr, now=now())
    except ratelimit.Throttled as refusal:
        return None, _too_many(refusal.retry_after, template, number=number, **context)
    if case is None:
        return None, (render_template(template, number=number, error=NOT_FOUND, **context), 404)
    return case, None


@blp.route("/report/status", methods=["GET", "POST"])
def report_status() -> Any:
    number = (request.form.get("number") or request.args.get("number") or "").strip().upper()[:40]
    if request.method == "GET":
        return render_template("public/report_status.html", number=number)
    case, refused = _report_lookup(number, request.form.get("code", "").strip()[:40], "public/report_status.html")
    if refused is not None:
        return refused
    return render_template("public/report_status.html", number=number, status=self_service.report_status(case, now()),
                           code=request.form.get("code", "").strip())


@blp.post("/report/reopen")
def report_reopen() -> Any:
    number = request.form.get("number", "").strip().upper()[:40]
    code = request.form.get("code", "").strip()[:40]
    case, refused = _report_lookup(number, code, "public/report_status.html")
    if refused is not None:
        return refused
    reason = request.form.get("reason", "").strip()
    error = None
    if not reason:
        error = "请写明不满意的原因"
    elif len(reason) > 2000:
        error = "原因请不超过 2000 字"
    else:
        try:
            self_service.reopen_report(case, reason, now())
        except WorkflowError as refusal:
            db.session.rollback()
            faults = getattr(refusal, "errors", None) or {}
            error = "；".join(m for ms in faults.values() for m in ms) or "当前状态不能要求重新办理"
    status = 200 if error is None else 422
    return render_template("public/report_status.html", number=number, code=code, reopen_error=error,
                           reopened=error is None, status=self_service.report_status(case, now())), status


# ---- follow a claim ----------------------------------------------------------------------------------------

@blp.route("/claim/status", methods=["GET", "POST"])
def claim_status() -> Any:
    number = (request.form.get("number") or request.args.get("number") or "").strip().upper()[:40]
    if request.method == "GET":
        return render_template("public/claim_status.html", number=number)
    tail = request.form.get("id_last6", "").strip()[:6]
    try:
        case = lookups.find_claim_for_applicant(current_session(), number, tail, client=request.remote_addr, now=now())
    except ratelimit.Throttled as refusal:
        return _too_many(refusal.retry_after, "public/claim_status.html", number=number)
    if case is None:
        return render_template("public/claim_status.html", number=number, error=NOT_FOUND), 404
    return render_template("public/claim_status.html", number=number, status=self_service.claim_status(case))


@blp.get("/")
def index() -> Any:
    return render_template("public/index.html")


def not_found() -> Any:
    """The public pages' own 404 (no staff navigation)."""
    return render_template("public/message.html", title="找不到该页面",
                           message="您要找的页面不存在。可以反映问题或查询办理进度："), 404

