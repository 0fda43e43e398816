"""参保名单导入 and 用人单位: the roster import in the browser (street and city clerks) and the employers that
must form a union (未建会, 25 insured staff or more) or may join a joint union, each with its formation case.

The import is ``api.roster.import_roster``, the same as ``gonghui import-enterprises`` and the API's; in the
browser it runs as a job whose progress the page polls (``api.roster_jobs``). The roster's contact of each
employer is shown through ``api.present.employer_contact`` (personal data).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from api import roster, roster_jobs
from api.clock import now
from api.extensions import current_session, db
from api.lifecycles.union_formation import screening
from api.models import Case, Employer, OrgUnit
from api.present import employer_contact, engine
from api.ui import blp, words
from api.ui.session import requires
from api.uploads import FileRefused, Limits

ROSTER_ROLES = ("clerk", "admin")
PER_PAGE = 50
LISTS = {"required": "应建会单位（未建会、参保 {} 人及以上）", "candidates": "联合建会对象（未建会、参保不足 {} 人）"}


def _refused() -> Any:
    if g.principal.level == "enterprise":
        return render_template("ui/error.html", status=403, message="参保名单由镇（街道）和市总工会导入和查看。"), 403
    return None


@blp.route("/roster", methods=["GET", "POST"])
@requires(*ROSTER_ROLES)
def roster_import() -> Any:
    """The upload form, and the upload: the import runs in this request (one transaction) as a job whose
    progress the page polls (``roster_jobs``); then the job's result page (303), also without JavaScript."""
    refused = _refused()
    if refused is not None:
        return refused
    if request.method == "GET":
        return _roster_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _roster_page(problem="请选择要导入的名单文件（CSV 或 Excel）"), 422
    token = roster_jobs.start(request.form.get("job"), g.principal, upload.filename, now())
    try:
        opened = roster.open_roster(upload.filename, upload.stream, Limits.from_config(current_app.config))
        result = roster.import_roster(current_session(), engine(), g.principal, opened.rows, now(),
                                      progress=roster_jobs.JobProgress(token, opened, now),
                                      progress_every=int(current_app.config["ROSTER_PROGRESS_EVERY"]))
    except (roster.RosterError, FileRefused) as error:
        db.session.rollback()
        roster_jobs.fail(token, str(error), now())
        return _roster_page(problem=str(error)), error.status if isinstance(error, FileRefused) else 422
    except Exception:
        db.session.rollback()
        roster_jobs.fail(token, "导入中断，未导入任何行，请重新导入", now())
        raise
    roster_jobs.finish(current_session(), token, result, now())
    return redirect(url_for("ui.roster_job", token=token), 303)


def _roster_page(job: Any = None, problem: str | None = None) -> str:
    """The upload form (with the token of the next job, for its progress bar), the latest imports, and a
    job's progress or result."""
    result = job.result if job is not None and job.status == "done" else None
    cases = {}
    if result:
        cases = {number: case_id for number, case_id in db.session.execute(
            sa.select(Case.number, Case.id).where(Case.number.in_(result["case_numbers"])))}
    latest = roster_jobs.recent(current_session(), g.principal)
    return render_template("ui/roster.html", job=job, result=result, cases=cases, problem=problem,
                           progress=roster_jobs.status(job, now()) if job is not None else None,
                           token=roster_jobs.new_token(), latest=latest,
                           statuses={item.token: roster_jobs.status(item, now()) for item in latest},
                           people=words.people(current_session(), {item.username for item in latest}
                                                  | ({job.username} if job is not None else set())))


def _job(token: str) -> Any:
    job = roster_jobs.find(current_session(), g.principal, token)
    if job is None:
        abort(404)
    return job


@blp.get("/roster/imports/<token>")
@requires(*ROSTER_ROLES)
def roster_job(token: str) -> Any:
    """A roster import: its progress while it runs (the page refreshes itself), then its result."""
    job = _job(token)
    return _roster_page(job, problem=job.problem)


@blp.get("/roster/imports/<token>/progress")
@requires(*ROSTER_ROLES)
def roster_progress(token: str) -> Any:
    """How far the import is, for the page's progress bar (JSON, polled while the upload's request runs)."""
    job = _job(token)
    response = jsonify({**roster_jobs.status(job, now()), "result_url": url_for("ui.roster_job", token=token)})
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/roster/imports/<token>/rejected.csv")
@requires(*ROSTER_ROLES)
def roster_rejected(token: str) -> Any:
    """Every row the import rejected (row number, credit code, reasons), as a CSV to correct and import again."""
    job = _job(token)
    if job.rejected_csv is None:
        abort(404)
    return Response(job.rejected_csv.encode(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=rejected-rows.csv; "
                                                    "filename*=UTF-8''%E6%9C%AA%E5%AF%BC%E5%85%A5%E7%9A%84%E8%A1%8C.csv"})


@blp.get("/employers")
@requires(*ROSTER_ROLES, "viewer", "mediator")
def employers() -> Any:
    refused = _refused()
    if refused is not None:
        return refused
    chosen = request.args.get("list") if request.args.get("list") in LISTS else "required"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    streets = list(db.session.scalars(sa.select(OrgUnit).where(
        OrgUnit.level == "street", OrgUnit.path.startswith(g.principal.org_path, autoescape=True))
        .order_by(OrgUnit.path)))
    where: list[Any] = [Employer.union_status == "none", OrgUnit.path.startswith(g.principal.org_path, autoescape=True)]
    threshold = screening(engine()).threshold_staff
    where.append(Employer.insured_staff >= threshold if chosen == "required" else Employer.insured_staff < threshold)
    street = next((unit for unit in streets if unit.code == request.args.get("street")), None)
    if street is not None:
        where.append(Employer.street_unit_id == street.id)
    query = request.args.get("q", "").strip()[:100]
    if query:
        where.append(sa.or_(Employer.name.contains(query, autoescape=True), Employer.uscc == query.upper()))
    base = (sa.select(Employer, OrgUnit.name, OrgUnit.path, Case)
            .join(OrgUnit, Employer.street_unit_id == OrgUnit.id)
            .outerjoin(Case, Case.id == Employer.formation_case_id).where(*where))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    rows = db.session.execute(base.order_by(Employer.insured_staff.desc(), Employer.uscc)
                              .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    states = {definition.key: definition for definition in engine().catalog.latest()}
    listed = [{"employer": employer, "street": street_name, "case": case,
               **employer_contact(employer, g.principal, street_path),
               "state": states[case.definition_key].states[case.state].label
               if case is not None and case.definition_key in states and case.state in
               states[case.definition_key].states else None}
              for employer, street_name, street_path, case in rows]
    lists = {name: title.format(threshold) for name, title in LISTS.items()}
    return render_template("ui/employers.html", lists=lists, chosen=chosen, rows=listed, total=total, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), streets=streets, args=request.args)
