"""Employers from the social-insurance roster, and the roster import."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import auth, roster
from api.clock import now
from api.extensions import current_session, db
from api.lifecycles import Lifecycles, context, registry
from api.models import Employer, OrgUnit
from api.pagination import Page, PageQuerySchema, count_capped, count_limit, envelope, next_link, page_schema, paged
from api.present import employer_contact, engine
from api.uploads import FileRefused, Limits
from workflow.errors import InvalidData, RoleNotPermitted

blp = Blueprint("enterprises", __name__, url_prefix="/api/v1/enterprises", description="用人单位（社保参保名单）")


class EnterpriseQuerySchema(PageQuerySchema):
    street = fields.String(validate=validate.Length(max=64))
    unionized = fields.Boolean()
    min_staff = fields.Integer(validate=validate.Range(min=0, max=10_000_000))
    q = fields.String(validate=validate.Length(max=100))


class EnterpriseSchema(Schema):
    uscc = fields.String()
    name = fields.String()
    street = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    insured_staff = fields.Integer(allow_none=True)
    founded_on = fields.Date(allow_none=True)
    union_status = fields.String()
    union_unit = fields.String(allow_none=True)
    formation_case = fields.String(allow_none=True)
    contact_name = fields.String(allow_none=True, metadata={
        "description": "联系人 from the roster; personal data: whole for clerks and administrators of a street or "
                       "the city with the employer in scope (they contact the employer), else masked (陈**)"})
    contact_phone = fields.String(allow_none=True, metadata={
        "description": "联系电话 from the roster; personal data, as contact_name (else masked: 057******3456)"})
    # and the columns the lifecycles add (``Lifecycle.employer_fields``, declared by ``add_columns``)


def add_columns(lifecycles: Lifecycles) -> None:
    """Declare the columns each lifecycle adds to an employer (its union's term, ...) before the blueprint is
    documented; a column already declared stays."""
    for lifecycle in lifecycles.values():
        for name, make in lifecycle.employer_fields.items():
            EnterpriseSchema._declared_fields.setdefault(name, make())


EnterprisePageSchema = page_schema(EnterpriseSchema, "EnterprisePageSchema")


class RejectedSchema(Schema):
    row = fields.Integer()
    uscc = fields.String()
    reason = fields.String()


class ImportResultSchema(Schema):
    rows = fields.Integer()
    employers_upserted = fields.Integer()
    cases_opened = fields.Integer()
    case_numbers = fields.List(fields.String())
    joint_union_candidates = fields.Integer()
    candidates = fields.List(fields.String())
    duplicates_merged = fields.Integer()
    rejected = fields.List(fields.Nested(RejectedSchema), metadata={
        "description": f"the first {roster.REJECTED_SHOWN} rejected rows; all of them with ?format=csv"})
    rejected_count = fields.Integer(metadata={"description": "every rejected row"})
    rejected_truncated = fields.Boolean(metadata={"description": "more rows were rejected than are listed"})


def resource(employer: Employer, principal: auth.Principal) -> dict[str, Any]:
    """An employer as ``principal`` may see it: the roster's contact through ``present.employer_contact``."""
    from api.models import Case

    case = db.session.get(Case, employer.formation_case_id) if employer.formation_case_id else None
    columns: dict[str, Any] = {}
    for lifecycle in registry().values():
        if lifecycle.employer_columns is not None:
            columns.update(lifecycle.employer_columns(
                context(current_session(), engine(), lifecycle.key, principal, now()), employer))
    return {"uscc": employer.uscc, "name": employer.name, **employer_contact(employer, principal),
            "street": employer.street_unit.code if employer.street_unit else None, "industry": employer.industry,
            "insured_staff": employer.insured_staff, "founded_on": employer.founded_on,
            "union_status": employer.union_status,
            "union_unit": employer.union_unit.code if employer.union_unit else None,
            "formation_case": case.number if case else None, **columns}


@blp.route("")
class Enterprises(MethodView):
    @blp.arguments(EnterpriseQuerySchema, location="query")
    @blp.response(200, EnterprisePageSchema)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Employers in the caller's scope (their street is at or below the caller's unit), by code, a page at a
        time."""
        principal = auth.current()
        page, per_page = args["page"], args["per_page"]
        query = sa.select(Employer).join(OrgUnit, Employer.street_unit_id == OrgUnit.id)
        path = principal.org_path
        where: list[Any] = []
        if args.get("street"):
            street = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == args["street"]))
            if street is None or not (principal.sees(street.path) or street.path.startswith(principal.org_path)):
                return envelope(Page([], 0, True, page, per_page), []), {}
            where.append(Employer.street_unit_id == street.id)
        if principal.level == "enterprise":  # an enterprise union sees its own employer only
            where.append(Employer.union_unit_id == principal.org_unit_id)
        else:
            where.append(OrgUnit.path.startswith(path, autoescape=True))
        if args.get("unionized") is not None:
            where.append((Employer.union_status != "none") if args["unionized"] else (Employer.union_status == "none"))
        if args.get("min_staff") is not None:
            where.append(Employer.insured_staff >= args["min_staff"])
        if args.get("q"):
            where.append(sa.or_(Employer.name.contains(args["q"], autoescape=True), Employer.uscc == args["q"]))
        matches = query.where(*where)
        total, exact = count_capped(current_session(), matches, count_limit())
        found = paged(list(db.session.scalars(matches.order_by(Employer.uscc).limit(per_page)
                                              .offset((page - 1) * per_page))), total, exact, page, per_page)
        return envelope(found, [resource(item, principal) for item in found.items]), next_link(found)


@blp.route("/import")
class EnterpriseImport(MethodView):
    @blp.response(200, ImportResultSchema)
    @blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {
            "type": "string", "format": "binary", "description": "名单：UTF-8 的 CSV 或 XLSX，表头见 DOMAIN.md；"
            "不能读取或缺表头时 422，超过行数、单元格数、解压大小等上限时 413（problem 的 limit 写明上限）"}}}}}})
    def post(self) -> Any:
        """Import a roster (CSV with a BOM, or XLSX) as one transaction; ``?format=csv`` answers with the
        report of rejected rows as CSV."""
        principal = auth.require_role("clerk", "admin")
        if principal.level == "enterprise":
            raise RoleNotPermitted("只有镇（街道）或市总工会可以导入参保名单")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidData({"file": ["必填"]}, detail="请上传名单文件（表单字段 file）")
        try:
            result = roster.import_roster(current_session(), engine(), principal, roster.rows_of(
                upload.filename, upload.stream, Limits.from_config(current_app.config)), now())
        except FileRefused as error:
            raise error.as_error() from error
        except roster.RosterError as error:
            raise InvalidData({"file": [str(error)], **({"headers": error.missing} if error.missing else {})},
                              detail=str(error)) from error
        if request.args.get("format") == "csv":
            # every rejected row, streamed from the file the import wrote them to (the transaction is committed
            # by the time the body is sent)
            return Response(result.rejected.stream_csv(), mimetype="text/csv",
                            headers={"Content-Disposition": "attachment; filename=rejected-rows.csv"})
        result.rejected.close()
        return result.summary()
