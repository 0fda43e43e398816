"""The administrator's pages for changing lifecycles while cases run: the versions of each lifecycle, a new
version's diff (with both diagrams) before it is deployed, the migration of open cases with its dry-run table
and a confirm step, and a holiday schedule's moved deadlines before it is loaded.

The routes are the clerk pages' (``api.ui``: session sign-in, CSRF).
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from api import definition_migrations, definition_store, diagram
from api.clock import now
from api.context import this_app
from api.extensions import current_session, db
from api.present import engine
from api.ui import blp
from api.ui.session import requires
from workflow.diff import diff
from workflow.errors import Conflict, InvalidData, UnknownDefinition


@blp.get("/admin/definitions")
@requires("admin")
def definitions_page() -> Any:
    lifecycles = [{"key": key, "versions": definition_store.versions(current_session(), engine(), key)}
                  for key in engine().catalog.keys()]
    return render_template("ui/definitions.html", lifecycles=lifecycles, message=session.pop("message", None),
                           errors=session.pop("admin_errors", None))


def _diff_page(key: str, old_version: int | None, new: Any, *, source: str | None = None,
               status: int = 200) -> Any:
    old = engine().catalog.get(key, old_version) if old_version else None
    return render_template("ui/definition_diff.html", key=key, old=old, new=new,
                           changes=diff(old, new) if old is not None else [],
                           old_svg=diagram.svg(old) if old is not None else None, new_svg=diagram.svg(new),
                           source=source), status


@blp.get("/admin/definitions/<key>/diff")
@requires("admin")
def definition_diff_page(key: str) -> Any:
    try:
        new = engine().catalog.get(key, request.args.get("to", type=int))
        old_version = request.args.get("from", type=int) or (new.version - 1 if new.version > 1 else None)
        return _diff_page(key, old_version, new)
    except UnknownDefinition as error:
        return render_template("ui/error.html", status=404, message=error.detail), 404


@blp.post("/admin/definitions/preview")
@requires("admin")
def definition_preview() -> Any:
    """Step one of a deploy: the diff against the latest version, both diagrams, and the confirm button."""
    text = request.form.get("definition", "")
    try:
        done = definition_store.deploy_in_app(this_app(), current_session(), text, actor=g.principal.username,
                                              now=now(), origin="网页", dry_run=True)
    except (InvalidData, Conflict) as error:
        session["admin_errors"] = getattr(error, "errors", None) or {"definition": [error.detail]}
        return redirect(url_for("ui.definitions_page"))
    return _diff_page(done.definition.key, done.previous.version if done.previous else None, done.definition,
                      source=text)


@blp.post("/admin/definitions/deploy")
@requires("admin")
def definition_deploy() -> Any:
    """Step two: deploy what was previewed."""
    try:
        done = definition_store.deploy_in_app(this_app(), current_session(), request.form.get("definition", ""),
                                              actor=g.principal.username, now=now(), origin="网页")
    except (InvalidData, Conflict) as error:
        db.session.rollback()
        session["admin_errors"] = getattr(error, "errors", None) or {"definition": [error.detail]}
        return redirect(url_for("ui.definitions_page"))
    name = f"{done.definition.title} 第 {done.definition.version} 版"
    session["message"] = f"{name}已部署，新案件即按此版本办理" if done.created else f"{name}早已部署，未作改动"
    return redirect(url_for("ui.definitions_page"))


def _migration_form(key: str) -> dict[str, Any]:
    form = request.values
    return {"from_version": form.get("from", type=int), "to_version": form.get("to", type=int),
            "recount_deadlines": form.get("recount", "1") == "1",
            "state_map": {name.removeprefix("map-"): value for name, value in form.items()
                          if name.startswith("map-") and value}}


@blp.route("/admin/definitions/<key>/migrate", methods=["GET", "POST"])
@requires("admin")
def migration_page(key: str) -> Any:
    """The plan (where each state goes), its dry run (every case with its new due date), then the run."""
    body = _migration_form(key)
    versions = engine().catalog.versions(key)
    if not versions:
        return render_template("ui/error.html", status=404, message=f"没有名为 {key} 的流程定义"), 404
    body["from_version"] = body["from_version"] or versions[0].version
    body["to_version"] = body["to_version"] or versions[-1].version
    moves, errors, result, plan = None, None, None, None
    action = request.form.get("action") if request.method == "POST" else None
    try:
        plan = definition_migrations.make_plan(engine(), key, body)
        if action == "preview":
            moves = definition_migrations.dry_run(current_session(), plan)
        elif action == "run":
            db.session.rollback()
            result = definition_migrations.run(lambda: Session(db.engine), plan,
                                               actor=g.principal.username, now=now())
            moves = result.moves
    except InvalidData as error:
        errors = error.errors
    status = 422 if errors and action else 200
    return render_template("ui/definition_migrate.html", key=key, versions=versions, body=body, plan=plan,
                           moves=moves, errors=errors, result=result, action=action), status
