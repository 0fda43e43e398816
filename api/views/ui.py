"""The clerk's web pages, in Chinese, served at ``/`` by the same app (server-rendered, no build step).

The pages call the same use cases as the API; the user comes from the session cookie (HttpOnly, SameSite),
and every form carries a per-session CSRF token.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from api import (
    accounts,
    admin_log,
    auth,
    calendar_store,
    diagram,
    documents,
    forms,
    login_guard,
    passwords,
    ratelimit,
    self_service,
    services,
    sessions,
)
from api.clock import now
from api.deadlines import CALENDAR, SHANGHAI
from api.extensions import db
from api.lifecycles import LIFECYCLES
from api.models import CalendarYear, Case, OrgUnit, User
from api.present import case_resource, engine, history_resource, local
from api.redirects import local_path
from api.reports import ReportScope
from api.ui_labels import LEVELS, ROLES, choice_label, field_label
from workflow.calendar import working_days_between
from workflow.errors import Conflict, InvalidData, WorkflowError
from workflow.schedules import ScheduleError, parse

blp = Blueprint("ui", __name__, template_folder="../templates", static_folder="../static/ui",
                static_url_path="/ui-static")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


@blp.app_template_filter("label")
def _label(name: str) -> str:
    return field_label(name)


@blp.app_template_filter("choice")
def _choice(value: Any) -> str:
    return choice_label(value)


@blp.app_template_filter("local")
def _local(moment: datetime | None) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""  # type: ignore[union-attr]


@blp.context_processor
def _context() -> dict[str, Any]:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    principal = g.get("principal")
    latest = engine().catalog.latest()
    openable = [definition for definition in latest if principal is not None and definition.key != "medical_aid_claim"
                and principal.acting_roles & definition.open_roles]
    return {"csrf_token": session["csrf"], "principal": principal, "LEVELS": LEVELS, "ROLES": ROLES,
            "lifecycles": latest, "openable": openable,
            "sees_dashboard": principal is not None and principal.level != "enterprise"
            and bool(principal.roles & DASHBOARD_ROLES)}


@blp.before_request
def _before() -> Any:
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
            abort(400, "表单已过期，请刷新页面后重试")
    user = sessions.user_of_cookie(db.session)   # None once signed out, deactivated or sessions ended
    if user is not None:
        g.principal = auth.Principal.of(user)
    if g.get("principal") is None and request.endpoint not in ("ui.login", "ui.static"):
        return redirect(url_for("ui.login", next=request.full_path))
    return None


@blp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blp.app_errorhandler(404)
def _not_found(error: HTTPException) -> Any:
    if request.path.startswith("/api/") or request.path in ("/healthz", "/metrics"):
        from api.problems import from_http_exception

        return from_http_exception(error)
    if request.path.startswith("/public/"):
        from api.views.public import not_found

        return not_found()
    return render_template("ui/error.html", status=404, message="页面或案件不存在，或不在您的管辖范围内。"), 404


def requires(*roles: str) -> Any:
    def decorate(view: Any) -> Any:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not g.principal.roles & set(roles):
                return render_template("ui/error.html", status=403, message="您没有此项操作的权限。"), 403
            return view(*args, **kwargs)
        return wrapped
    return decorate


# ---- sign-in ---------------------------------------------------------------------------------------

@blp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        try:
            user = login_guard.sign_in(request.form.get("username", ""), request.form.get("password", ""),
                                       request.remote_addr, now())
        except ratelimit.Throttled as refusal:
            return render_template("ui/login.html", error=refusal.description), 429, \
                {"Retry-After": str(refusal.retry_after)}
        if user is not None:
            sessions.start(user)
            return redirect(local_path(request.args.get("next"), url_for("ui.worklist")))
        error = "用户名或密码错误"
    return render_template("ui/login.html", error=error), 401 if error else 200


@blp.post("/logout")
def logout() -> Any:
    """Sign out everywhere: every browser session and session token of the user ends (a copied cookie too)."""
    user = db.session.get(User, g.principal.user_id)
    if user is not None:
        sessions.end_all(db.session, user)
    session.clear()
    return redirect(url_for("ui.login"))


@blp.get("/")
def home() -> Any:
    return redirect(url_for("ui.worklist"))


# ---- worklist and search -------------------------------------------------------------------------------

def _row(case: Case, moment: datetime) -> dict[str, Any]:
    resource = case_resource(case, g.principal, moment)
    resource["definition_title"] = engine().catalog.get(case.definition_key, case.definition_version).title
    resource["party"] = case.party
    resource["days_left"] = (working_days_between(CALENDAR, moment, case.due_at)
                             if case.due_at and case.due_at > moment else None)
    return resource


@blp.get("/worklist")
def worklist() -> Any:
    moment = now()
    args = request.args
    if args.get("q"):
        items = services.list_cases(db.session, g.principal, services.CaseQuery(
            q=args["q"], definition=args.get("definition") or None, per_page=100), moment).items
        title = f"查询“{args['q']}”"
    else:
        items = services.worklist(db.session, engine(), g.principal, current_app.config["WORKLIST_LIMIT"])
        title = "我的待办"
    # filtered before the rows are made: only the cases shown pass through the personal-data choke point
    items = [case for case in items if (not args.get("definition") or case.definition_key == args["definition"])
             and (not args.get("state") or case.state == args["state"])
             and (not args.get("unit") or case.org_unit.code == args["unit"])]
    rows = [_row(case, moment) for case in items]
    counts = {"overdue": sum(row["overdue"] for row in rows), "due_soon": sum(row["due_soon"] for row in rows),
              "total": len(rows)}
    return render_template("ui/worklist.html", rows=rows, counts=counts, title=title, args=args)


# ---- a case ----------------------------------------------------------------------------------------

def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        label = f"{prefix}{field_label(key)}"
        if isinstance(value, dict):
            rows += _flatten(value, f"{label} · ")
        else:
            rows.append((label, _text(value)))
    return rows


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "；".join(_text(item) for item in value)
    if isinstance(value, dict):
        return "，".join(f"{field_label(k)}：{_text(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "是" if value else "否"
    return choice_label(value) if value is not None else ""


def _case_page(case: Case, errors: dict[str, list[str]] | None = None, open_event: str | None = None,
               values: Any = None, status: int = 200) -> Any:
    moment = now()
    resource = _row(case, moment)
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    lifecycle = LIFECYCLES[case.definition_key]
    events = []
    for name in resource["allowed_events"]:
        event = definition.events[name]
        events.append({"name": name, "label": event.label,
                       "fields": forms.describe(lifecycle.schema_for(name))})
    history = [history_resource(row, case, g.principal) for row in services.history(db.session, case)]
    for entry in history:
        entry["from_label"] = definition.states[entry["from_state"]].label if entry["from_state"] else ""
        entry["to_label"] = definition.states[entry["to_state"]].label
        entry["event_label"] = (definition.events[entry["event"]].label if entry["event"] in definition.events
                                else {"open": "登记", "supervise": "督办", "remind": "到期提醒"}.get(entry["event"],
                                                                                              entry["event"]))
    svg = diagram.svg(definition, case.state)
    papers = [(kind, documents.KINDS[kind].title(case)) for kind in documents.allowed(case)]
    return render_template("ui/case.html", case=resource, definition=definition, events=events, history=history,
                           data_rows=_flatten(resource["data"]), svg=svg, errors=errors or {},
                           open_event=open_event, values=values or {}, papers=papers), status


@blp.get("/cases/<int(max=2147483647):case_id>")
def case_page(case_id: int) -> Any:
    try:
        case = services.get_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    return _case_page(case)


@blp.post("/cases/<int(max=2147483647):case_id>/events/<event>")
def fire(case_id: int, event: str) -> Any:
    try:
        case = services.get_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    lifecycle = LIFECYCLES[case.definition_key]
    described = forms.describe(lifecycle.schema_for(event))
    data = forms.parse(described, request.form)
    version = request.form.get("version", type=int)
    try:
        services.fire_event(db.session, engine(), g.principal, case, services.FireRequest(
            event=event, data=data, comment=request.form.get("comment") or None, expected_version=version), now())
    except InvalidData as error:
        db.session.rollback()
        case = services.get_case(db.session, g.principal, case_id)
        return _case_page(case, forms.field_errors(error.errors), event, request.form, 422)
    except WorkflowError as error:
        db.session.rollback()
        case = services.get_case(db.session, g.principal, case_id)
        return _case_page(case, {"_schema": [error.detail]}, event, request.form, 409)
    return redirect(url_for("ui.case_page", case_id=case_id))


# ---- new cases ---------------------------------------------------------------------------------------

def _attempt(action: Any) -> tuple[Any, dict[str, list[str]]]:
    """Run a use case for a form: its result, or the faults to show beside the fields (nothing written)."""
    try:
        result = action()
        db.session.flush()
        return result, {}
    except InvalidData as error:
        db.session.rollback()
        return None, forms.field_errors(error.errors)
    except WorkflowError as error:
        db.session.rollback()
        return None, {"_schema": [error.detail]}


@blp.route("/new/<definition_key>", methods=["GET", "POST"])
def new_case(definition_key: str) -> Any:
    try:
        definition = engine().catalog.get(definition_key)
    except WorkflowError:
        abort(404)
    if not g.principal.acting_roles & definition.open_roles or definition_key not in LIFECYCLES:
        return render_template("ui/error.html", status=403, message="您不能开立此类案件。"), 403
    described = forms.describe(LIFECYCLES[definition_key].schema_for(None))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = forms.parse(described, request.form)
        case, errors = _attempt(lambda: services.open_case(db.session, engine(), g.principal, services.OpenRequest(
            definition_key, request.form.get("org_unit") or None, data), now()))
        if case is not None and definition_key == self_service.REPORT:
            return render_template("ui/report_issued.html", case=case, secret=self_service.issue_secret(case)), 201
        if case is not None:
            return redirect(url_for("ui.case_page", case_id=case.id))
    units = [unit for unit in db.session.scalars(sa.select(OrgUnit).order_by(OrgUnit.path))
             if g.principal.sees(unit.path) and unit.level in definition.owner_levels]
    return render_template("ui/new_case.html", definition=definition, fields=described, errors=errors,
                           values=request.form, units=units), 422 if errors else 200


# ---- the counter ----------------------------------------------------------------------------------------

@blp.route("/counter", methods=["GET", "POST"])
@requires("counter")
def counter() -> Any:
    from api.lifecycles.medical_aid_claim import KEY

    lifecycle = LIFECYCLES[KEY]
    described = forms.describe(lifecycle.schema_for(None))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        submission = request.form.get("submission", "")
        done = session.get("submissions", {})
        if submission in done:  # the same form sent twice: show the claim it created
            return redirect(url_for("ui.receipt", case_id=done[submission]))
        data = forms.parse(described, request.form)
        case, errors = _attempt(lambda: services.open_case(db.session, engine(), g.principal,
                                                           services.OpenRequest(KEY, None, data), now()))
        if case is not None:
            session["submissions"] = dict(list({**done, submission: case.id}.items())[-20:])
            return redirect(url_for("ui.receipt", case_id=case.id))
    return render_template("ui/counter.html", fields=described, errors=errors, values=request.form,
                           submission=secrets.token_urlsafe(12)), 422 if errors else 200


@blp.get("/counter/receipts/<int(max=2147483647):case_id>")
@requires("counter")
def receipt(case_id: int) -> Any:
    try:
        case = services.get_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    moment = now()
    papers = [documents.context(case, kind, g.principal, moment) for kind in documents.allowed(case)
              if kind in ("receipt", "notice")]
    return render_template("ui/receipt.html", case=case_resource(case, g.principal, moment), papers=papers)


# ---- documents ------------------------------------------------------------------------------------------

def _document_case(case_id: int, kind: str) -> Case:
    try:
        case = services.get_case(db.session, g.principal, case_id)
        documents.check(case, kind)
    except (WorkflowError, documents.UnknownKind, documents.DocumentNotAllowed):
        abort(404)
    return case


@blp.get("/cases/<int(max=2147483647):case_id>/documents/<kind>")
def document_page(case_id: int, kind: str) -> Any:
    """A document on screen (the same template as its PDF), with the PDF one click away."""
    case = _document_case(case_id, kind)
    return render_template("ui/document.html", doc=documents.context(case, kind, g.principal, now()))


@blp.get("/cases/<int(max=2147483647):case_id>/documents/<kind>.pdf")
def document_pdf(case_id: int, kind: str) -> Any:
    case = _document_case(case_id, kind)
    return Response(documents.render_pdf(case, kind, g.principal, now()), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{documents.filename(case, kind)}"',
        "Cache-Control": "private, no-store"})


# ---- dashboard ------------------------------------------------------------------------------------------

def _report(key: str, date_from: date | None = None, date_to: date | None = None) -> dict[str, Any]:
    lifecycle = LIFECYCLES[key]
    assert lifecycle.report is not None
    return lifecycle.report(db.session, ReportScope(key, g.principal.org_path, date_from, date_to))


def _figures(report: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in report.items() if isinstance(value, int | float | str) and
            name not in ("definition", "from", "to")]


TREND_MONTHS = 6


def _closure_trend() -> list[dict[str, Any]]:
    today = now().astimezone(SHANGHAI).date()
    first = today.replace(day=1)
    months = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        year, month = first.year, first.month - back
        while month <= 0:
            year, month = year - 1, month + 12
        start = date(year, month, 1)
        end = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
        figures = _report("mediation_case", start, end)
        months.append({"month": f"{year}-{month:02d}", "rate": figures.get("closure_rate"),
                       "accepted": figures.get("accepted", 0)})
    return months


DASHBOARD_ROLES = {"clerk", "admin", "reviewer", "mediator", "viewer"}


@blp.get("/dashboard")
@requires(*DASHBOARD_ROLES)
def dashboard() -> Any:
    if g.principal.level == "enterprise":
        return render_template("ui/error.html", status=403, message="统计面向镇（街道）和市总工会。"), 403
    reports = []
    streets = _cases_by_street()
    for definition in engine().catalog.latest():
        report = _report(definition.key)
        by_state = [(definition.states[state].label if state in definition.states else state, count)
                    for state, count in report.get("by_state", {}).items()]
        by_street = streets.get(definition.key, [])
        reports.append({"key": definition.key, "title": definition.title, "figures": _figures(report),
                        "by_state": by_state, "max": max([count for _, count in by_state] or [1]),
                        "by_street": by_street, "street_max": max([count for _, count in by_street] or [1]),
                        "per_street": report.get("per_street") or {}})
    return render_template("ui/dashboard.html", reports=reports, trend=_closure_trend())


def _cases_by_street() -> dict[str, list[tuple[str, int]]]:
    """Cases in scope per lifecycle and street (a case at an enterprise counts for its street)."""
    in_scope = OrgUnit.path.startswith(g.principal.org_path, autoescape=True)
    streets = {unit.path: unit.name for unit in db.session.scalars(
        sa.select(OrgUnit).where(OrgUnit.level == "street", in_scope))}
    counts: dict[str, dict[str, int]] = {}
    rows = db.session.execute(sa.select(Case.definition_key, Case.org_path, sa.func.count())
                              .where(Case.org_path.startswith(g.principal.org_path, autoescape=True))
                              .group_by(Case.definition_key, Case.org_path))
    for key, path, count in rows:
        street = next((name for street_path, name in streets.items() if path.startswith(street_path)), None)
        if street is not None:
            per_key = counts.setdefault(key, {})
            per_key[street] = per_key.get(street, 0) + count
    return {key: sorted(values.items(), key=lambda item: -item[1]) for key, values in counts.items()}


def _rows_for_export(report: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for name, value in report.items():
        if isinstance(value, dict):
            rows += _rows_for_export(value, f"{prefix}{name}.")
        elif isinstance(value, list):
            rows.append((f"{prefix}{name}", "；".join(map(str, value))))
        else:
            rows.append((f"{prefix}{name}", value))
    return rows


@blp.get("/dashboard/<key>.<fmt>")
@requires(*DASHBOARD_ROLES)
def export(key: str, fmt: str) -> Any:
    if key not in LIFECYCLES or fmt not in ("csv", "xlsx"):
        abort(404)
    rows = _rows_for_export(_report(key))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["指标", "数值"])
        writer.writerows(rows)
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={key}.csv"})
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = key[:30]
    sheet.append(["指标", "数值"])
    for name, value in rows:
        sheet.append([name, value])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), headers={"Content-Disposition": f"attachment; filename={key}.xlsx"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ---- administration -------------------------------------------------------------------------------------

@blp.route("/admin", methods=["GET"])
@requires("admin")
def admin() -> Any:
    moment = now()
    units = list(db.session.scalars(sa.select(OrgUnit).order_by(OrgUnit.path)))
    log, _ = admin_log.entries(db.session, per_page=30)
    return render_template("ui/admin.html", units=units, users=accounts.list_users(db.session),
                           tokens=accounts.list_tokens(db.session, moment), years=list(db.session.scalars(
                               sa.select(CalendarYear).order_by(CalendarYear.year))),
                           lockouts=login_guard.locked_usernames(db.session, moment), log=log,
                           actions=admin_log.ACTIONS, password_rule=passwords.RULE,
                           issued=session.pop("issued_token", None), message=session.pop("message", None),
                           errors=session.pop("admin_errors", None))


def _admin_action(action: Any) -> Any:
    """Run an administration change; its faults go back to the admin page."""
    try:
        action()
    except InvalidData as error:
        db.session.rollback()
        session["admin_errors"] = error.errors
    except Conflict as error:
        db.session.rollback()
        session["admin_errors"] = {"username": [error.detail]}
    except accounts.UnknownUser as error:
        db.session.rollback()
        session["admin_errors"] = {"username": [f"没有用户 {error}"]}
    return redirect(url_for("ui.admin"))


@blp.post("/admin/users")
@requires("admin")
def admin_create_user() -> Any:
    def save() -> None:
        accounts.create_user(db.session, actor=g.principal.username, username=request.form.get("username", "").strip(),
                             org=request.form.get("org", ""), roles=request.form.getlist("roles"),
                             password=request.form.get("password", ""), now=now())
        session["message"] = "用户已创建"

    return _admin_action(save)


@blp.post("/admin/users/change")
@requires("admin")
def admin_change_user() -> Any:
    username = request.form.get("username", "")

    def change() -> None:
        accounts.update_user(db.session, actor=g.principal.username, user=accounts.find_user(db.session, username),
                             now=now(), org=request.form.get("org") or None,
                             roles=request.form.getlist("roles") or None)   # nothing ticked: roles unchanged
        session["message"] = f"用户 {username} 已修改"

    return _admin_action(change)


@blp.post("/admin/users/password")
@requires("admin")
def admin_set_password() -> Any:
    username = request.form.get("username", "")

    def change() -> None:
        accounts.set_password(db.session, actor=g.principal.username, user=accounts.find_user(db.session, username),
                              password=request.form.get("password", ""), now=now())
        session["message"] = f"用户 {username} 的密码已重置，其全部会话已结束"

    return _admin_action(change)


@blp.post("/admin/users/<username>/active")
@requires("admin")
def admin_set_active(username: str) -> Any:
    active = request.form.get("active") == "1"

    def change() -> None:
        accounts.update_user(db.session, actor=g.principal.username, user=accounts.find_user(db.session, username),
                             now=now(), active=active)
        session["message"] = f"用户 {username} 已{'启用' if active else '停用，其全部会话已结束'}"

    return _admin_action(change)


@blp.post("/admin/users/<username>/sessions/end")
@requires("admin")
def admin_end_sessions(username: str) -> Any:
    def end() -> None:
        accounts.end_sessions(db.session, actor=g.principal.username, user=accounts.find_user(db.session, username),
                              now=now())
        session["message"] = f"用户 {username} 的全部会话已结束"

    return _admin_action(end)


@blp.post("/admin/users/<username>/unlock")
@requires("admin")
def admin_unlock(username: str) -> Any:
    def unlock() -> None:
        accounts.find_user(db.session, username)
        login_guard.unlock(db.session, actor=g.principal.username, username=username, now=now())
        session["message"] = f"用户 {username} 的登录锁定已解除"

    return _admin_action(unlock)


@blp.post("/admin/tokens")
@requires("admin")
def admin_issue_token() -> Any:
    def issue() -> None:
        session["issued_token"] = accounts.issue_service_token(
            db.session, actor=g.principal.username, username=request.form.get("username", ""),
            label=request.form.get("label") or None, now=now())

    return _admin_action(issue)


@blp.post("/admin/tokens/<int(max=2147483647):token_id>/revoke")
@requires("admin")
def admin_revoke_token(token_id: int) -> Any:
    accounts.revoke_token(db.session, actor=g.principal.username, token_id=token_id, now=now())
    session["message"] = "令牌已吊销"
    return redirect(url_for("ui.admin"))


# ---- one's own password -----------------------------------------------------------------------------------

@blp.route("/account/password", methods=["GET", "POST"])
def account_password() -> Any:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if request.form.get("new_password", "") != request.form.get("confirm_password", ""):
            errors = {"confirm_password": ["两次输入的新密码不一致"]}
        else:
            user = db.session.get(User, g.principal.user_id)
            assert user is not None
            try:
                accounts.change_own_password(db.session, user=user, current=request.form.get("current_password", ""),
                                             new=request.form.get("new_password", ""), now=now())
            except InvalidData as error:
                db.session.rollback()
                errors = error.errors
            else:
                session.clear()
                return render_template("ui/password.html", done=True, errors={}, password_rule=passwords.RULE)
    return render_template("ui/password.html", done=False, errors=errors, password_rule=passwords.RULE), \
        422 if errors else 200


@blp.post("/admin/calendar")
@requires("admin")
def admin_load_calendar() -> Any:
    try:
        schedule = parse("upload.yaml", request.form.get("schedule", ""))
        recounted = calendar_store.store(db.session, schedule, source="网页上传", actor=g.principal.username,
                                         now=now())
        session["message"] = f"{schedule.year} 年放假安排已载入，重新计算了 {recounted} 个临时期限"
    except ScheduleError as error:
        db.session.rollback()
        session["admin_errors"] = error.errors
    return redirect(url_for("ui.admin"))
