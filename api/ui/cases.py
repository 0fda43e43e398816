"""The cases in the clerk's pages: the worklist and search, a case page (its data labelled by its lifecycle,
the diagram, a form for each event the user may fire now, the history by person), new cases, notifications,
and documents on screen and as PDF.

The worklist's filters (lifecycle, state, unit) are part of its query (``api.cases.queries.worklist``), so a
filtered view holds every matching case, not the matching ones among the first page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, current_app, g, redirect, render_template, request, session, url_for

from api import diagram, documents, forms, ownership, self_service
from api.cases import CaseQuery, FireRequest, OpenRequest, fire_event, get_case, list_cases, open_case, queries
from api.clock import now
from api.extensions import current_session, db
from api.history import history_of
from api.lifecycles import registry
from api.models import Case, OrgUnit
from api.present import case_resource, engine, history_resource
from api.ui import blp
from api.ui import errors as ui_errors
from api.ui import words as ui_words
from workflow.calendar import working_days_between
from workflow.definitions import Definition
from workflow.errors import InvalidData, StaleVersion, WorkflowError

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
    units = [unit for unit in db.session.scalars(sa.select(OrgUnit).where(
        OrgUnit.path.startswith(g.principal.org_path, autoescape=True)).order_by(OrgUnit.path))
        if unit.level != "enterprise" or g.principal.level != "city"]
    definition, state, unit = args.get("definition") or None, args.get("state") or None, args.get("unit") or None
    chosen = next((found.path for found in units if found.code == unit), None)
    # filtered in the query: only the cases shown pass through the personal-data choke point
    if unit is not None and chosen is None:
        items: list[Case] = []   # a unit that is not on the list: none of its cases
    elif args.get("q"):
        items = list_cases(current_session(), g.principal, CaseQuery(
            q=args["q"], definition=definition, state=state, org_unit=unit, per_page=100), moment).items
    else:
        items = queries.worklist(current_session(), engine(), g.principal, current_app.config["WORKLIST_LIMIT"],
                                 definition_key=definition, state=state, unit_path=chosen)
    title = f"查询“{args['q']}”" if args.get("q") else "我的待办"
    rows = [_row(case, moment) for case in items]
    counts = {"overdue": sum(row["overdue"] for row in rows), "due_soon": sum(row["due_soon"] for row in rows),
              "total": len(rows)}
    states = [(found.title, [(key, named.label) for key, named in found.states.items()])
              for found in engine().catalog.latest() if not definition or found.key == definition]
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
    history = [history_resource(row, case, g.principal) for row in history_of(current_session(), case)]
    names = ui_words.people(current_session(), {entry["actor"] for entry in history})
    units = ui_words.unit_names(current_session(), {code for entry in history
                                                    for code in (entry["org_from"], entry["org_to"]) if code})
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
    rows = ui_words.data_rows(data, definition, ui_words.unit_names(current_session(), ui_words.data_units(data)))
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
        case = ownership.readable_case(current_session(), g.principal, case_id)
    except WorkflowError:
        abort(404)
    return _case_page(case, notice=session.pop("message", None))


# ---- notifications ------------------------------------------------------------------------------------

@blp.get("/notifications")
def notifications() -> Any:
    unread_only = request.args.get("unread") == "1"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    found = ownership.notices(current_session(), g.principal.user_id, unread_only=unread_only, page=page, per_page=50)
    return render_template("ui/notifications.html", notices=found, unread_only=unread_only, page=page,
                           kinds=ownership.KIND_LABELS)


@blp.post("/notifications/<int(max=2147483647):notice_id>/read")
def read_notification(notice_id: int) -> Any:
    notice = ownership.mark_read(current_session(), g.principal.user_id, notice_id, now())
    return redirect(url_for("ui.case_page", case_id=notice["case"]))


@blp.post("/notifications/read-all")
def read_all_notifications() -> Any:
    ownership.mark_all_read(current_session(), g.principal.user_id, now())
    return redirect(url_for("ui.notifications"))


@blp.post("/cases/<int(max=2147483647):case_id>/events/<event>")
def fire(case_id: int, event: str) -> Any:
    try:
        case = get_case(current_session(), g.principal, case_id)
    except WorkflowError:
        abort(404)
    definition = engine().catalog.get(case.definition_key, case.definition_version)
    if event not in definition.events:
        abort(404)
    described = forms.form_for(case.definition_key, event)
    data = forms.parse(described, request.form)
    version = request.form.get("version", type=int)
    try:
        fire_event(current_session(), engine(), g.principal, case, FireRequest(
            event=event, data=data, comment=request.form.get("comment") or None, expected_version=version), now())
    except InvalidData as error:
        db.session.rollback()
        case = get_case(current_session(), g.principal, case_id)
        return _case_page(case, error.errors, event, request.form, 422)
    except StaleVersion:
        db.session.rollback()
        case = get_case(current_session(), g.principal, case_id)
        state = engine().catalog.get(case.definition_key, case.definition_version).states[case.state].label
        return _case_page(case, {}, event, request.form, 409,
                          conflict=f"该案件已被他人处理（当前：{state}），您的“{definition.events[event].label}”未执行。")
    except WorkflowError as error:
        db.session.rollback()
        case = get_case(current_session(), g.principal, case_id)
        return _case_page(case, {"_schema": [error.detail]}, event, request.form, 409)
    session["message"] = f"已{definition.events[event].label}"
    return redirect(url_for("ui.case_page", case_id=case_id))


def restore_fire(view_args: Mapping[str, Any], values: Any, notice: str) -> Any:
    """The event's form on the case page, filled in with what was typed."""
    try:
        case = get_case(current_session(), g.principal, view_args["case_id"])
    except WorkflowError:
        abort(404)
    return _case_page(case, open_event=view_args["event"], values=values, notice=notice)


def _prefilled(described: list[forms.FormField]) -> Any:
    """What the system knows for an event's form: the mediator is the signed-in mediator."""
    from werkzeug.datastructures import MultiDict

    known: MultiDict[str, str] = MultiDict()
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

def attempt(action: Any) -> tuple[Any, dict[str, list[str]]]:
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


def opens_here(definition: Definition, roles: frozenset[str]) -> bool:
    """Whether ``roles`` open ``definition`` on the 新建 pages: with a role other than a counter's (what only
    a counter opens is opened at the window, ``api.ui.counter``)."""
    from api.ui.counter import COUNTER

    return definition.key in registry() and any(role.partition("@")[0] != COUNTER
                                                for role in roles & definition.open_roles)


@blp.context_processor
def _context() -> dict[str, Any]:
    principal = g.get("principal")
    return {"openable": [definition for definition in engine().catalog.latest()
                         if principal is not None and opens_here(definition, principal.acting_roles)]}


@blp.route("/new/<definition_key>", methods=["GET", "POST"])
def new_case(definition_key: str) -> Any:
    try:
        definition = engine().catalog.get(definition_key)
    except WorkflowError:
        abort(404)
    if not opens_here(definition, g.principal.acting_roles):
        return render_template("ui/error.html", status=403, message="您不能开立此类案件。"), 403
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = forms.parse(forms.form_for(definition_key, None), request.form)
        case, errors = attempt(lambda: open_case(current_session(), engine(), g.principal, OpenRequest(
            definition_key, request.form.get("org_unit") or None, data), now()))
        if case is not None and registry()[definition_key].lookup_secret:
            return render_template("ui/report_issued.html", case=case, definition=definition,
                                   secret=self_service.issue_secret(case)), 201
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


def restore_new_case(view_args: Mapping[str, Any], values: Any, notice: str) -> Any:
    """The new case's form, filled in with what was typed, where the user may open such a case."""
    key = view_args["definition_key"]
    opens = [definition.key for definition in engine().catalog.latest()
             if opens_here(definition, g.principal.acting_roles)]
    return _new_case_page(key, values, {}, notice) if key in opens else redirect(url_for("ui.worklist"))


# ---- documents ------------------------------------------------------------------------------------------

def _document_case(case_id: int, kind: str) -> Case:
    try:
        case = get_case(current_session(), g.principal, case_id)
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
