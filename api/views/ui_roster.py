"""参保名单导入 and 用人单位: the roster import in the browser (street and city clerks) and the employers that
must form a union (未建会, 25 insured staff or more) or may join a joint union, each with its formation case.

The import is ``api.roster.import_roster``, the same as ``gonghui import-enterprises`` and the API's.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import sqlalchemy as sa
from flask import Response, g, render_template, request

from api import LARGE_UPLOADS, roster
from api.clock import now
from api.extensions import db
from api.lifecycles.union_formation import screening
from api.models import Case, Employer, OrgUnit
from api.present import engine
from api.views import ui as _ui  # these pages are the ui blueprint's (no ``blp`` of their own here)
from workflow.privacy import STYLES

LARGE_UPLOADS["ui.roster_import"] = 64 * 1024 * 1024   # a roster of 100,000 rows, as over the API
ROSTER_ROLES = ("clerk", "admin")
PER_PAGE = 50
LISTS = {"required": "应建会单位（未建会、参保 {} 人及以上）", "candidates": "联合建会对象（未建会、参保不足 {} 人）"}


def _refused() -> Any:
    if g.principal.level == "enterprise":
        return render_template("ui/error.html", status=403, message="参保名单由镇（街道）和市总工会导入和查看。"), 403
    return None


@_ui.blp.route("/roster", methods=["GET", "POST"])
@_ui.requires(*ROSTER_ROLES)
def roster_import() -> Any:
    refused = _refused()
    if refused is not None:
        return refused
    if request.method == "GET":
        return render_template("ui/roster.html", result=None, problem=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("ui/roster.html", result=None, problem="请选择要导入的名单文件（CSV 或 Excel）"), 422
    try:
        result = roster.import_roster(db.session, engine(), g.principal, roster.rows_of(upload.filename, upload.stream),
                                      now())
    except roster.RosterError as error:
        db.session.rollback()
        return render_template("ui/roster.html", result=None, problem=str(error)), 422
    summary = result.summary()
    cases = {number: case_id for number, case_id in db.session.execute(
        sa.select(Case.number, Case.id).where(Case.number.in_(summary["case_numbers"][:200])))}
    rejected = [[item["row"], item["uscc"], item["reason"]] for item in summary["rejected"]]
    return render_template("ui/roster.html", result=summary, problem=None, cases=cases,
                           filename=upload.filename, rejected_json=json.dumps(rejected, ensure_ascii=False))


@_ui.blp.post("/roster/rejected.csv")
@_ui.requires(*ROSTER_ROLES)
def roster_rejected() -> Any:
    """The rejected rows of the import just shown, as a CSV to correct and import again."""
    try:
        rows = [[int(row), str(code), str(reason)] for row, code, reason in json.loads(request.form.get("rows", "[]"))]
    except (ValueError, TypeError):
        rows = []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "统一社会信用代码", "原因"])
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=rejected-rows.csv; "
                                                    "filename*=UTF-8''%E6%9C%AA%E5%AF%BC%E5%85%A5%E7%9A%84%E8%A1%8C.csv"})


def _contact(employer: Employer) -> dict[str, str]:
    """The roster's contact: in full for the clerks who form unions (they call the employer first), masked
    for everyone else."""
    name, phone = employer.contact_name or "", employer.contact_phone or ""
    if not g.principal.roles & {"clerk", "admin"}:
        name = f"{name[:1]}{'*' * (len(name) - 1)}" if name else ""
        phone = STYLES["first3_last4"](phone) if phone else ""
    return {"contact_name": name, "contact_phone": phone}


@_ui.blp.get("/employers")
@_ui.requires(*ROSTER_ROLES, "viewer", "mediator")
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
    base = sa.select(Employer, OrgUnit.name, Case).join(OrgUnit, Employer.street_unit_id == OrgUnit.id).outerjoin(
        Case, Case.id == Employer.formation_case_id).where(*where)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    rows = db.session.execute(base.order_by(Employer.insured_staff.desc(), Employer.uscc)
                              .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    states = {definition.key: definition for definition in engine().catalog.latest()}
    listed = [{"employer": employer, "street": street_name, "case": case, **_contact(employer),
               "state": states[case.definition_key].states[case.state].label
               if case is not None and case.definition_key in states and case.state in
               states[case.definition_key].states else None}
              for employer, street_name, case in rows]
    lists = {name: title.format(threshold) for name, title in LISTS.items()}
    return render_template("ui/employers.html", lists=lists, chosen=chosen, rows=listed, total=total, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), streets=streets, args=request.args)
