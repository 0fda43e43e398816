"""The union's record (its current term) and the import of existing unions, over HTTP; the term columns of the
employers list. The web adapter of the plug-in: it reads the request's session and the app's engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import abort, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.lifecycles import Context, context
from api.lifecycles.union_term.models import UnionTerm
from api.lifecycles.union_term.terms import KEY, current_status
from api.models import Employer, OrgUnit
from workflow.calendar import SHANGHAI
from workflow.rules.union_term import status_of

blp = Blueprint("union_terms", __name__, url_prefix="/api/v1", description="基层工会换届")


class CaseBriefSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    state_label = fields.String()
    due_at = fields.DateTime(format="iso", allow_none=True)


class UnionTermRecordSchema(Schema):
    union_unit = fields.String()
    name = fields.String()
    street = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    chair = fields.String(allow_none=True)
    committee = fields.List(fields.String())
    term_start = fields.Date()
    term_years = fields.Integer()
    term_end = fields.Date()
    reminder_on = fields.Date(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "in_term | due | overdue"})
    case = fields.Nested(CaseBriefSchema, allow_none=True)


def term_record(context: Context, union: OrgUnit) -> dict[str, Any] | None:
    term = context.session.get(UnionTerm, union.id)
    if term is None:
        return None
    case = term.case
    definition = context.engine.catalog.get(case.definition_key, case.definition_version)
    return {"union_unit": union.code, "name": union.name, "street": union.parent.code if union.parent else None,
            "uscc": union.uscc or case.data.get("uscc"), "chair": term.chair, "committee": term.committee,
            "term_start": term.term_start, "term_years": term.term_years, "term_end": term.term_end,
            "reminder_on": date.fromisoformat(case.data["reminder_on"]) if case.data.get("reminder_on") else None,
            "status": status_of(case.state, term.term_end.isoformat(), case.data.get("reminder_on"), context.today),
            "case": {"id": case.id, "number": case.number, "state": case.state,
                     "state_label": definition.states[case.state].label,
                     "due_at": case.due_at.astimezone(SHANGHAI) if case.due_at else None}}


def employer_columns(context: Context, employer: Employer) -> dict[str, Any]:
    """The term of an employer's union, for the employers list."""
    term = context.session.get(UnionTerm, employer.union_unit_id) if employer.union_unit_id else None
    if term is None:
        return {"term_end": None, "term_status": None}
    return {"term_end": term.term_end, "term_status": current_status(term, context.today)}


EMPLOYER_FIELDS: dict[str, Callable[[], fields.Field[Any]]] = {
    "term_end": lambda: fields.Date(allow_none=True, metadata={"description": "the last day of its union's term"}),
    "term_status": lambda: fields.String(allow_none=True, metadata={"description": "in_term | due | overdue (换届)"}),
}


def _context() -> Context:
    from api import auth
    from api.clock import now
    from api.extensions import current_session
    from api.present import engine

    return context(current_session(), engine(), KEY, auth.current(), now())


@blp.route("/org-units/<string:code>/term")
class UnionTermRecord(MethodView):
    @blp.response(200, UnionTermRecordSchema)
    def get(self, code: str) -> Any:
        """The union's current term: chair, committee, start and end, and its term case (404 when the union
        is outside the caller's scope or has no term on record)."""
        found = _context()
        if len(code) > 64 or "\x00" in code:   # no such code can exist (and PostgreSQL refuses NUL)
            abort(404)
        union = found.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        if union is None or found.principal is None or not found.principal.sees(union.path):
            abort(404)
        record = term_record(found, union)
        if record is None:
            abort(404)
        return record


class ImportRejectedSchema(Schema):
    row = fields.Integer()
    union = fields.String()
    reason = fields.String()


class TermImportSchema(Schema):
    rows = fields.Integer()
    cases_opened = fields.Integer()
    case_numbers = fields.List(fields.String())
    unions_created = fields.Integer()
    already_open = fields.List(fields.String(), metadata={"description": "unions passed over: code: open case"})
    rejected = fields.List(fields.Nested(ImportRejectedSchema))


@blp.route("/union-terms/import")
class UnionTermImport(MethodView):
    @blp.response(200, TermImportSchema)
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    def post(self) -> Any:
        """Import existing unions (CSV: 工会代码/工会名称, 统一社会信用代码, 所属镇街, 工会主席, 委员,
        成立或上次换届日期, 任期（年）) as one transaction: a term case opened for each union that has none open."""
        from api import auth
        from api.lifecycles.union_term.importer import import_terms, rows_of
        from api.problems import problem
        from api.roster import RosterError

        principal = auth.require_role("clerk", "admin")
        if principal.level == "enterprise":
            return problem(403, "只有镇（街道）或市总工会可以导入工会换届台账")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return problem(422, "请上传台账文件（表单字段 file）", errors={"file": ["必填"]})
        try:
            result = import_terms(_context(), rows_of(upload.stream))
        except RosterError as error:
            return problem(422, str(error), errors={"file": [str(error)]})
        return result.summary()
