"""Administration of the working-day calendar: the official schedules of later years."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import auth, calendar_store
from api.clock import now
from api.extensions import current_session, db
from api.models import CalendarYear
from api.present import engine, local
from workflow.schedules import from_lists

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/admin", description="工作日历：各年度法定节假日安排")


# a calendar day (2027-02-06) or an inclusive range of them (2027-02-06..2027-02-13), each within ``year``
_DAY = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
DAY_OR_RANGE = validate.Regexp(rf"^{_DAY}(\.\.{_DAY})?$", error="须为日期 YYYY-MM-DD 或区间 YYYY-MM-DD..YYYY-MM-DD")


class CalendarYearSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2004, max=2100))
    holidays = fields.List(fields.String(validate=DAY_OR_RANGE), required=True,
                           validate=validate.Length(min=1, max=400), metadata={
                               "description": "该年度的放假日期或区间；每个日期须为真实存在且属于 year 的日期"})
    workdays = fields.List(fields.String(validate=DAY_OR_RANGE), load_default=list,
                           validate=validate.Length(max=400), metadata={"description": "调休上班日，同上"})
    source = fields.String(validate=validate.Length(max=200), allow_none=True)
    loaded_by = fields.String(dump_only=True)
    loaded_at = fields.DateTime(format="iso", dump_only=True)
    recounted = fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "载入时重算的临时期限数；列出已载入年度时为 null"})
    dry_run = fields.Boolean(dump_only=True)
    moves = fields.List(fields.Dict(), dump_only=True,
                        metadata={"description": "with ?dry_run=true: the deadlines the schedule would move, "
                                                 "{case, number, old_due_at, new_due_at}"})


class CalendarDryRunSchema(Schema):
    dry_run = fields.Boolean(load_default=False)


def _resource(row: CalendarYear, recounted: int | None = None) -> dict[str, Any]:
    return {"year": row.year, "holidays": row.holidays, "workdays": row.workdays, "source": row.source,
            "loaded_by": row.loaded_by, "loaded_at": local(row.loaded_at), "recounted": recounted}


@blp.route("/calendar")
class CalendarYears(MethodView):
    @blp.response(200, CalendarYearSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The years loaded by administrators (2004–2026 come with chinese-calendar)."""
        auth.require_role("admin")
        return [_resource(row) for row in db.session.scalars(sa.select(CalendarYear).order_by(CalendarYear.year))]

    @blp.arguments(CalendarYearSchema)
    @blp.arguments(CalendarDryRunSchema, location="query")
    @blp.response(201, CalendarYearSchema)
    @blp.alt_response(200, schema=CalendarYearSchema, description="?dry_run=true: nothing loaded, the moves")
    def post(self, body: dict[str, Any], query: dict[str, Any]) -> Any:
        """Load (or replace) a year's schedule; provisional deadlines reaching into it are recounted.
        ``?dry_run=true`` loads nothing and lists the deadlines the schedule would move."""
        principal = auth.require_role("admin")
        schedule = from_lists(body["year"], body["holidays"], body.get("workdays", []))
        if query["dry_run"]:
            moves = [{"case": item.case_id, "number": item.number, "old_due_at": local(item.old_due_at).isoformat(),
                      "new_due_at": local(item.new_due_at).isoformat()}
                     for item in calendar_store.preview(current_session(), engine(), schedule)]
            return {**body, "dry_run": True, "moves": moves}, 200
        recounted = calendar_store.store(current_session(), engine(), schedule, source=body.get("source") or "api",
                                         actor=principal.username, now=now())
        return _resource(current_session().get_one(CalendarYear, schedule.year), recounted)
