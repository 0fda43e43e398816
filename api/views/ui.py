"""The clerk's web pages, in Chinese, served at ``/`` by the same app (server-rendered, no build step).

The pages call the same use cases as the API; the user comes from the session cookie (HttpOnly, SameSite),
and every form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from api import (
    accounts,
    admin_log,
    auth,
    diagram,
    documents,
    forms,
    login_guard,
    ownership,
    passwords,
    ratelimit,
    self_service,
    sessions,
    ui_errors,
    ui_words,
)
from api.cases import CaseQuery, FireRequest, OpenRequest, fire_event, get_case, list_cases, open_case, queries
from api.clock import now
from api.extensions import db
from api.history import history_of
from api.lifecycles import registry
from api.models import CalendarYear, Case, OrgUnit, User
from api.present import case_resource, engine, history_resource, local
from api.redirects import local_path
from api.ui_labels import LEVELS, ROLES, choice_label, field_label
from workflow.calendar import working_days_between
from workflow.errors import Conflict, InvalidData, StaleVersion, WorkflowError

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


@blp.app_template_filter("deadline")
def _deadline(moment: datetime | None) -> str:
    return ui_words.deadline_words(moment, now())


@blp.app_template_filter("moment")
def _moment(moment: datetime | None) -> str:
    return ui_words.moment_words(moment)


@blp.app_template_global("error_summary")
def _error_summary(errors: dict[str, list[str]], described: list[forms.FormField]) -> list[tuple[str | None, str]]:
    return ui_errors.summary(errors, described)


@blp.app_template_filter("local")
def _local(moment: datetime | None) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""  # type: ignore[union-attr]


@blp.context_processor
def _context() -> dict[str, Any]:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    principal = g.get("principal")
    latest = engine().catalog.latest()
    at_counter = registry().counter()
    openable = [definition for definition in latest if principal is not None
                and (at_counter is None or definition.key != at_counter.key)
                and principal.acting_roles & definition.open_roles]
    return {"csrf_token": session["csrf"], "principal": principal, "LEVELS": LEVELS, "ROLES": ROLES,
            "me": g.get("me"),
            "lifecycles": latest, "openable": openable,
            "unread_notifications": ownership.unread_count(db.session, principal.user_id) if principal else 0,
            "sees_dashboard": principal is not None and principal.level != "enterprise"
            and bool(principal.roles & DASHBOARD_ROLES)}


@blp.before_request
def _before() -> Any:
    user = sessions.user_of_cookie(db.session)   # None once signed out, deactivated or sessions ended
    if user is not None:
        g.principal, g.me = auth.Principal.of(user), ui_words.person(user)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
            return _expired_form()
    if g.get("principal") is None and request.endpoint not in ("ui.login", "ui.static"):
        return redirect(url_for("ui.login", next=request.full_path))   # the form is not read before sign-in
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
            abort(400, "表单已过期，请刷新页面后重试")
    return None


REPLAYABLE = ("ui.fire", "ui.new_case", "ui.counter")
REPLAY_PREFIX = "replay."


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin.rstrip("/") == request.host_url.rstrip("/")


def _expired_form() -> Any:
    """A form sent after the session expired (or with a stale token) keeps what was typed: signed out, the
    login page carries it and, once signed in, the form comes back filled in; signed in, it comes back now."""
    if request.endpoint == "ui.login" and _same_origin():
        kept = [(name, value) for name, value in request.form.items(multi=True) if name.startswith(REPLAY_PREFIX)]
        return render_template("ui/login.html", error="页面已过期，请再登录一次。", next=request.args.get("next"),
                               replay=[(name.removeprefix(REPLAY_PREFIX), value) for name, value in kept],
                               replay_path=request.form.get("replay_path")), 400
    if request.endpoint not in REPLAYABLE or not _same_origin():
        return render_template("ui/error.html", status=400, message="表单已过期，请刷新页面后重试。"), 400
    kept = [(name, value) for name, value in request.form.items(multi=True) if name != "csrf_token"]
    if g.get("principal") is None:
        return render_template("ui/login.html", replay=kept, replay_path=request.path,
                               notice="登录已过期，请重新登录。您填写的内容已保留，登录后请核对并提交。",
                               next=request.path), 401
    return _restore(request.path, kept, "页面已过期，您填写的内容已保留，请核对后重新提交。")


def _restore(path: str, kept: list[tuple[str, str]], notice: str) -> Any:
    """The page of a form, filled in with what was typed before the session expired."""
    from werkzeug.datastructures import MultiDict
    from werkzeug.exceptions import HTTPException as Failed

    try:
        endpoint, view_args = current_app.url_map.bind("localhost").match(path, method="POST")
    except Failed:
        return redirect(url_for("ui.worklist"))
    values = MultiDict(kept)
    if endpoint == "ui.fire":
        try:
            case = get_case(db.session, g.principal, view_args["case_id"])
        except WorkflowError:
            abort(404)
        return _case_page(case, open_event=view_args["event"], values=values, notice=notice)
    if endpoint == "ui.new_case":
        key = view_args["definition_key"]
        opens = [definition.key for definition in engine().catalog.latest()
                 if g.principal.acting_roles & definition.open_roles and definition.key in registry()]
        return _new_case_page(key, values, {}, notice) if key in opens else redirect(url_for("ui.worklist"))
    if endpoint == "ui.counter" and g.principal.roles & {"counter"}:
        return _counter_page(values, {}, notice)
    return redirect(url_for("ui.worklist"))


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
        kept = [(name.removeprefix(REPLAY_PREFIX), value) for name, value in request.form.items(multi=True)
                if name.startswith(REPLAY_PREFIX)]
        if user is not None:
            sessions.start(user)
            if request.form.get("replay_path"):
                g.principal, g.me = auth.Principal.of(user), ui_words.person(user)
                return _restore(request.form["replay_path"], kept,
                                "已重新登录。您此前填写的内容已恢复，请核对后提交。")
            return redirect(local_path(request.args.get("next"), url_for("ui.worklist")))
        error = "用户名或密码错误"
        if request.form.get("replay_path"):
            return render_template("ui/login.html", error=error, replay=kept, next=request.args.get("next"),
                                   replay_path=request.form["replay_path"]), 401
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
    resource["org_path"] = case.org_path
    resource["days_left"] = (working_days_between(engine().calendar, moment, case.due_at)
                             if case.due_at and case.due_at > moment else None)
    return resource


@blp.get("/worklist")
def worklist() -> Any:
    moment = now()
    args = request.args
    if args.get("q"):
        items = list_cases(db.session, g.principal, CaseQuery(
            q=args["q"], definition=args.get("definition") or None, per_page=100), moment).items
        title = f"查询“{args['q']}”"
    else:
        items = queries.worklist(db.session, engine(), g.principal, current_app.config["WORKLIST_LIMIT"])
        title = "我的待办"
    units = [unit for unit in db.session.scalars(sa.select(OrgUnit).where(
        OrgUnit.path.startswith(g.principal.org_path, autoescape=True)).order_by(OrgUnit.path))
        if unit.level != "enterprise" or g.principal.level != "city"]
    chosen = next((unit.path for unit in units if unit.code == args.get("unit")), None)
    # filtered before the rows are made: only the cases shown pass through the personal-data choke point
    items = [case for case in items if (not args.get("definition") or case.definition_key == args["definition"])
             and (not args.get("state") or case.state == args["state"])
             and (not args.get("unit") or (chosen is not None and case.org_path.startswith(chosen)))]
    rows = [_row(case, moment) for case in items]
    counts = {"overdue": sum(row["overdue"] for row in rows), "due_soon": sum(row["due_soon"] for row in rows),
              "total": len(rows)}
    states = [(definition.title, [(key, state.label) for key, state in definition.states.items()])
              for definition in engine().catalog.latest()
              if not args.get("definition") or definition.key == args["definition"]]
    return render_template("ui/worklist.html", rows=rows, counts=counts, title=title, args=args, states=states,
                           units=units)


# ---- a case ----------------------------------------------------------------------------------------

def _case_page(case: Case, errors: dict[str, list[str]] | None = None, open_event: str | None = None,
               values: Any = None, status: int = 200, notice: str | None = None,
               conflict: str | None = None) -> Any:
    moment = now()
    resource = _row(case, moment)
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    events = []
    for name in resource["allowed_events"]:
        event = definition.events[name]
        described = forms.form_for(case.definition_key, name)
        placed = ui_errors.place(errors or {}, described) if open_event == name else {}
        events.append({"name": name, "label": event.label, "fields": _known(described, resource["data"]),
                       "errors": placed, "filled": values if open_event == name and values else
                       _prefilled(described)})
    history = [history_resource(row, case, g.principal) for row in history_of(db.session, case)]
    names = ui_words.people(db.session, {entry["actor"] for entry in history})
    units = ui_words.unit_names(db.session, {code for entry in history for code in (entry["org_from"], entry["org_to"])
                                             if code})
    for entry in history:
        # a case migrated to a later version may have passed through states that version no longer has
        entry["from_label"] = _state_label(definition, entry["from_state"]) if entry["from_state"] else ""
        entry["to_label"] = _state_label(definition, entry["to_state"])
        entry["event_label"] = (definition.events[entry["event"]].label if entry["event"] in definition.events
                                else {"open": "登记", "supervise": "督办", "remind": "到期提醒",
                                      "migrate": "迁移到新版流程"}.get(entry["event"],
                                                                                              "其他"))
        entry["who"] = names.get(entry["actor"], "其他用户")
        entry["org_from_name"], entry["org_to_name"] = (units.get(entry["org_from"], "") if entry["org_from"] else "",
                                                        units.get(entry["org_to"], ""))
        entry["comment"] = ui_words.rule_words(entry["comment"], definition) if entry["comment"] else None
    # what was typed for an event that can no longer be fired here is shown back, never dropped
    unsent = []
    if open_event and open_event not in resource["allowed_events"] and values:
        described = forms.form_for(case.definition_key, open_event) if open_event in definition.events else []
        labels = {spec.name: spec.label for spec in described}
        unsent = [(labels.get(name, "备注" if name == "comment" else name), value)
                  for name, value in values.items(multi=True) if value and name in labels | {"comment": ""}]
    data = resource["data"]
    rows = ui_words.data_rows(data, definition, ui_words.unit_names(db.session, ui_words.data_units(data)))
    svg = diagram.svg(definition, case.state, keys=False)
    papers = [(kind, documents.KINDS[kind].title(case)) for kind in documents.allowed(case)]
    return render_template("ui/case.html", case=resource, definition=definition, events=events, history=history,
                           data_rows=rows, svg=svg, open_event=open_event, values=values or {}, notice=notice,
                           conflict=conflict, unsent=unsent, papers=papers,
                           read_only=not g.principal.sees(case.org_path),
                           top_errors=[message for messages in (errors or {}).values() for message in messages]
                           if open_event not in resource["allowed_events"] else []), status


def _state_label(definition: Any, name: str) -> str:
    state = definition.states.get(name)
    return state.label if state is not None else name


@blp.get("/cases/<int(max=2147483647):case_id>")
def case_page(case_id: int) -> Any:
    try:   # a case the caller's unit once held is shown read-only
        case = ownership.readable_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    return _case_page(case, notice=session.pop("message", None))


# ---- notifications ------------------------------------------------------------------------------------

@blp.get("/notifications")
def notifications() -> Any:
    unread_only = request.args.get("unread") == "1"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    found = ownership.notices(db.session, g.principal.user_id, unread_only=unread_only, page=page, per_page=50)
    return render_template("ui/notifications.html", notices=found, unread_only=unread_only, page=page,
                           kinds=ownership.KIND_LABELS)


@blp.post("/notifications/<int(max=2147483647):notice_id>/read")
def read_notification(notice_id: int) -> Any:
    notice = ownership.mark_read(db.session, g.principal.user_id, notice_id, now())
    return redirect(url_for("ui.case_page", case_id=notice["case"]))


@blp.post("/notifications/read-all")
def read_all_notifications() -> Any:
    ownership.mark_all_read(db.session, g.principal.user_id, now())
    return redirect(url_for("ui.notifications"))


@blp.post("/cases/<int(max=2147483647):case_id>/events/<event>")
def fire(case_id: int, event: str) -> Any:
    try:
        case = get_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    if event not in definition.events:
        abort(404)
    described = forms.form_for(case.definition_key, event)
    data = forms.parse(described, request.form)
    version = request.form.get("version", type=int)
    try:
        fire_event(db.session, engine(), g.principal, case, FireRequest(
            event=event, data=data, comment=request.form.get("comment") or None, expected_version=version), now())
    except InvalidData as error:
        db.session.rollback()
        case = get_case(db.session, g.principal, case_id)
        return _case_page(case, error.errors, event, request.form, 422)
    except StaleVersion:
        db.session.rollback()
        case = get_case(db.session, g.principal, case_id)
        state = engine().catalog.get(case.definition_key, case.definition_version).states[case.state].label
        return _case_page(case, {}, event, request.form, 409,
                          conflict=f"该案件已被他人处理（当前：{state}），您的“{definition.events[event].label}”未执行。")
    except WorkflowError as error:
        db.session.rollback()
        case = get_case(db.session, g.principal, case_id)
        return _case_page(case, {"_schema": [error.detail]}, event, request.form, 409)
    session["message"] = f"已{definition.events[event].label}"
    return redirect(url_for("ui.case_page", case_id=case_id))


def _prefilled(described: list[forms.FormField]) -> Any:
    """What the system knows for an event's form: the mediator is the signed-in mediator."""
    from werkzeug.datastructures import MultiDict

    known = MultiDict()
    if "mediator" in g.principal.roles and g.get("me"):
        for spec in described:
            if spec.name == "mediator":
                known[spec.name] = str(g.me).split(" · ")[-1]
    return known


def _known(described: list[forms.FormField], data: dict[str, Any]) -> list[forms.FormField]:
    """A supplement offers only the documents still missing."""
    from dataclasses import replace

    missing = data.get("missing_documents")
    if not missing:
        return described
    return [replace(spec, choices=[choice for choice in spec.choices if choice[0] in missing])
            if spec.name == "documents" and spec.kind == "checkboxes" else spec for spec in described]


# ---- new cases ---------------------------------------------------------------------------------------

def _attempt(action: Any) -> tuple[Any, dict[str, list[str]]]:
    """Run a use case for a form: its result, or the faults to show beside the fields (nothing written)."""
    try:
        result = action()
        db.session.flush()
        return result, {}
    except InvalidData as error:
        db.session.rollback()
        return None, error.errors
    except WorkflowError as error:
        db.session.rollback()
        return None, {"_schema": [error.detail]}


@blp.route("/new/<definition_key>", methods=["GET", "POST"])
def new_case(definition_key: str) -> Any:
    try:
        definition = engine().catalog.get(definition_key)
    except WorkflowError:
        abort(404)
    if not g.principal.acting_roles & definition.open_roles or definition_key not in registry():
        return render_template("ui/error.html", status=403, message="您不能开立此类案件。"), 403
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = forms.parse(forms.form_for(definition_key, None), request.form)
        case, errors = _attempt(lambda: open_case(db.session, engine(), g.principal, OpenRequest(
            definition_key, request.form.get("org_unit") or None, data), now()))
        if case is not None and definition_key == self_service.REPORT:
            return render_template("ui/report_issued.html", case=case, secret=self_service.issue_secret(case)), 201
        if case is not None:
            session["message"] = f"已登记，编号 {case.number}"
            return redirect(url_for("ui.case_page", case_id=case.id))
    return _new_case_page(definition_key, request.form, errors)


def _new_case_page(definition_key: str, values: Any, errors: dict[str, list[str]], notice: str | None = None) -> Any:
    definition = engine().catalog.get(definition_key)
    described = forms.form_for(definition_key, None)
    units = [unit for unit in db.session.scalars(sa.select(OrgUnit).order_by(OrgUnit.path))
             if g.principal.sees(unit.path) and unit.level in definition.owner_levels]
    return render_template("ui/new_case.html", definition=definition, fields=described,
                           errors=ui_errors.place(errors, described, ["org_unit"]), values=values, units=units,
                           notice=notice), 422 if errors else 200


# ---- the counter ----------------------------------------------------------------------------------------

@blp.route("/counter", methods=["GET", "POST"])
@requires("counter")
def counter() -> Any:
    key = _counter_key()
    described = forms.form_for(key, None)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        submission = request.form.get("submission", "")
        done = session.get("submissions", {})
        if submission in done:  # the same form sent twice: show the claim it created
            return redirect(url_for("ui.receipt", case_id=done[submission]))
        data = forms.parse(described, request.form)
        case, errors = _attempt(lambda: open_case(db.session, engine(), g.principal,
                                                           OpenRequest(key, None, data), now()))
        if case is not None:
            session["submissions"] = dict(list({**done, submission: case.id}.items())[-20:])
            return redirect(url_for("ui.receipt", case_id=case.id))
    return _counter_page(request.form, errors)


def _counter_key() -> str:
    """The lifecycle opened at the counter (the plug-in that says so)."""
    at_counter = registry().counter()
    if at_counter is None:
        abort(404)
    return at_counter.key


def _counter_page(values: Any, errors: dict[str, list[str]], notice: str | None = None) -> Any:
    described = forms.form_for(_counter_key(), None)
    return render_template("ui/counter.html", fields=described, errors=ui_errors.place(errors, described),
                           values=values, notice=notice,
                           submission=values.get("submission") or secrets.token_urlsafe(12)), 422 if errors else 200


@blp.get("/counter/receipts/<int(max=2147483647):case_id>")
@requires("counter")
def receipt(case_id: int) -> Any:
    try:
        case = get_case(db.session, g.principal, case_id)
    except WorkflowError:
        abort(404)
    moment = now()
    papers = [documents.context(case, kind, g.principal, moment) for kind in documents.allowed(case)
              if kind in ("receipt", "notice")]
    return render_template("ui/receipt.html", case=case_resource(case, g.principal, moment), papers=papers)


# ---- documents ------------------------------------------------------------------------------------------

def _document_case(case_id: int, kind: str) -> Case:
    try:
        case = get_case(db.session, g.principal, case_id)
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


# ---- dashboard: api/views/ui_reports.py ----------------------------------------------------------------

DASHBOARD_ROLES = {"clerk", "admin", "reviewer", "mediator", "viewer"}


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


ADMIN_FIELDS = {"username": "用户名", "org": "单位", "roles": "角色", "password": "密码", "label": "说明"}


def _admin_words(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The faults of an administration form by the field's Chinese name, roles named in Chinese."""
    worded: dict[str, list[str]] = {}
    for name, messages in errors.items():
        for message in messages:
            for code, label in sorted(ROLES.items(), key=lambda item: -len(item[0])):
                message = re.sub(rf"\b{code}\b", label, message)
            worded.setdefault(ADMIN_FIELDS.get(name, "其他"), []).append(message)
    return worded


def _admin_action(action: Any) -> Any:
    """Run an administration change; its faults go back to the admin page."""
    try:
        action()
    except InvalidData as error:
        db.session.rollback()
        session["admin_errors"] = _admin_words(error.errors)
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


from api.views import ui_calendar, ui_reports, ui_roster  # noqa: E402,F401  (pages of this blueprint)

