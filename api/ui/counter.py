"""窗口受理 (最多跑一次): the window's form for what a counter opens, then the receipt and the one-time notice.

Which lifecycles the window opens is the definitions' word: those whose ``open_roles`` name the counter role
(opened here, not on the 新建 pages). With several, ``?definition=KEY`` picks one (the form carries it).
A form sent twice (the same ``submission``) shows the case it created, never a second one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import abort, g, redirect, render_template, request, session, url_for

from api import documents, forms
from api.auth import Principal
from api.cases import OpenRequest, get_case, open_case
from api.clock import now
from api.extensions import current_session
from api.lifecycles import registry
from api.present import case_resource, engine
from api.ui import blp
from api.ui import errors as ui_errors
from api.ui.cases import attempt
from api.ui.session import requires
from workflow.definitions import Definition
from workflow.errors import WorkflowError

COUNTER = "counter"   # the role of a service window


def opened_at_the_counter(definition: Definition, roles: frozenset[str]) -> bool:
    """Whether ``roles`` open ``definition`` as a counter (``counter`` or ``counter@<level>`` in open_roles)."""
    return any(role.partition("@")[0] == COUNTER for role in roles & definition.open_roles)


def counter_definitions(principal: Principal) -> list[Definition]:
    return [definition for definition in engine().catalog.latest()
            if definition.key in registry() and opened_at_the_counter(definition, principal.acting_roles)]


def _chosen(key: str | None) -> Definition | None:
    offered = counter_definitions(g.principal)
    return next((definition for definition in offered if definition.key == key), None) if key else \
        next(iter(offered), None)


@blp.context_processor
def _context() -> dict[str, Any]:
    principal = g.get("principal")
    return {"counter_definitions": counter_definitions(principal) if principal is not None else []}


@blp.route("/counter", methods=["GET", "POST"])
@requires(COUNTER)
def counter() -> Any:
    definition = _chosen(request.values.get("definition"))
    if definition is None:
        return render_template("ui/error.html", status=404, message="此窗口没有可受理的业务。"), 404
    described = forms.form_for(definition.key, None)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        submission = request.form.get("submission", "")
        done = session.get("submissions", {})
        if submission in done:  # the same form sent twice: show the case it created
            return redirect(url_for("ui.receipt", case_id=done[submission]))
        data = forms.parse(described, request.form)
        case, errors = attempt(lambda: open_case(current_session(), engine(), g.principal,
                                                 OpenRequest(definition.key, None, data), now()))
        if case is not None:
            session["submissions"] = dict(list({**done, submission: case.id}.items())[-20:])
            return redirect(url_for("ui.receipt", case_id=case.id))
    return _counter_page(definition, request.form, errors)


def _counter_page(definition: Definition, values: Any, errors: dict[str, list[str]],
                  notice: str | None = None) -> Any:
    described = forms.form_for(definition.key, None)
    return render_template("ui/counter.html", definition=definition, fields=described,
                           errors=ui_errors.place(errors, described), values=values, notice=notice,
                           submission=values.get("submission") or secrets.token_urlsafe(12)), 422 if errors else 200


def restore_counter(_view_args: Mapping[str, Any], values: Any, notice: str) -> Any:
    """The window's form, filled in with what was typed, for a counter."""
    definition = _chosen(values.get("definition")) if g.principal.roles & {COUNTER} else None
    if definition is None:
        return redirect(url_for("ui.worklist"))
    return _counter_page(definition, values, {}, notice)


@blp.get("/counter/receipts/<int(max=2147483647):case_id>")
@requires(COUNTER)
def receipt(case_id: int) -> Any:
    try:
        case = get_case(current_session(), g.principal, case_id)
    except WorkflowError:
        abort(404)
    moment = now()
    papers = [documents.context(case, kind, g.principal, moment) for kind in documents.allowed(case)
              if kind in ("receipt", "notice")]
    return render_template("ui/receipt.html", case=case_resource(case, g.principal, moment), papers=papers)
