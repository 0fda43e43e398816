"""基层工会换届 (union_term): one case per union and term, owned by the union's street federation.

A term case opens when a formation is approved, when a re-election is approved (the next term), by hand or by
the import of existing unions (``api.union_term_import``). Its dates are worked out when it opens: the last day
of the term (Civil Code months, ``workflow.calendar.add_months``) and the day of the reminder before it
(``reminder_months_before_end`` in the definition's config); the definition's deadlines read them
(``until_field``). The union's current term (chair, committee, start, end) is kept in ``union_terms``, one row
per union, which also keeps a union from having two open term cases.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.auth import Principal
from api.cases import SYSTEM, FireRequest, Opened, fire_event, open_many
from api.clock import now as clock_now
from api.deadlines import CALENDAR, SHANGHAI
from api.effects import bind_effect
from api.fields import one_of, text, validate_uscc
from api.lifecycles import Lifecycle, register
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.models import Case, CaseHistory, OrgUnit
from api.models_union_term import UnionTerm
from api.reports import ReportScope, common_figures
from workflow.calendar import add_months, months_later
from workflow.engine import Engine, Outcome
from workflow.errors import Conflict, InvalidData

KEY = "union_term"
SOURCES = ["formation", "re_election", "import", "manual"]
# the system opens the cases that follow an approval; it sees every unit (an empty path prefixes all)
SYSTEM = Principal(0, SYSTEM, frozenset({"system"}), "", 0, "", "city")


def config() -> dict[str, Any]:
    found: dict[str, Any] = current_app.extensions["gonghui.engine"].catalog.get(KEY).config
    return found


def _today() -> date:
    return clock_now().astimezone(SHANGHAI).date()


def not_in_future(value: date) -> None:
    if value > _today():
        raise ValidationError("日期不能晚于今天")


def allowed_term(value: int) -> None:
    allowed = config().get("allowed_term_years", [3, 5])
    if value not in allowed:
        raise ValidationError(f"任期须为 {' 或 '.join(map(str, allowed))} 年")


def names(max_items: int = 50, **kwargs: Any) -> fields.List:
    return fields.List(text(100), validate=validate.Length(max=max_items, error=f"至多 {max_items} 人"), **kwargs)


class UnionTermSchema(Schema):
    """A term case opened by hand (the import and the approvals build the same data)."""

    union_unit = text(64, required=True)
    uscc = fields.String(validate=validate_uscc, allow_none=True)
    name = text(200)
    chair = text(100, required=True)
    committee = names(load_default=list)
    term_start = fields.Date(required=True, validate=not_in_future)
    term_years = fields.Integer(strict=True, validate=allowed_term)
    source = one_of(SOURCES, load_default="manual")


class PlanSchema(Schema):
    planned_on = fields.Date(required=True)
    plan = text(5000, required=True)


class ElectionSchema(Schema):
    """The new committee as elected: every fault is named at once (a missing chair and a short committee)."""

    chair = text(100, required=True)
    committee = names(required=True)
    elected_on = fields.Date(required=True, validate=not_in_future)
    term_years = fields.Integer(strict=True, validate=allowed_term)

    @validates_schema(skip_on_field_errors=False)
    def committee_as_the_rules_require(self, data: dict[str, Any], **kwargs: Any) -> None:
        committee = data.get("committee")
        if committee is None:
            return
        minimum = int(config().get("min_committee", 3))
        faults = []
        if len(committee) < minimum:
            faults.append(f"委员会至少 {minimum} 人，报送 {len(committee)} 人")
        if len(set(committee)) != len(committee):
            faults.append("委员名单有重复")
        if faults:
            raise ValidationError(faults, "committee")


class ApprovalSchema(Schema):
    approval_no = text(64, required=True)


# ---- the dates of a term --------------------------------------------------------------------------------

def term_dates(term_start: date, years: int, reminder_months: int) -> tuple[date, date]:
    """The last day of a term that began on ``term_start`` (民法典 arts. 201–203: the corresponding day, a rest
    day moved to the next working day) and the day of the reminder ``reminder_months`` before its end."""
    months = years * 12
    due = add_months(CALENDAR, datetime.combine(term_start, time(12), SHANGHAI), months)
    last_day = (due.at - timedelta(days=1)).astimezone(SHANGHAI).date()
    reminder = months_later(term_start, months - min(max(reminder_months, 0), months))
    return last_day, reminder


def term_data(union: OrgUnit, *, chair: str | None, committee: list[str], term_start: date,
              term_years: int | None, source: str, name: str | None = None, uscc: str | None = None,
              previous: str | None = None) -> dict[str, Any]:
    """A term case's data: the union, its committee, the term and the dates the deadlines read."""
    settings = config()
    years = term_years or int(settings.get("default_term_years", 5))
    end, reminder = term_dates(term_start, years, int(settings.get("reminder_months_before_end", 6)))
    data = {"union_unit": union.code, "uscc": uscc or union.uscc, "name": name or union.name, "chair": chair,
            "committee": list(committee), "term_start": term_start.isoformat(), "term_years": years,
            "term_end": end.isoformat(), "reminder_on": reminder.isoformat(), "source": source,
            "street": street_of(union).code}
    if previous:
        data["previous_case"] = previous
    return data


def street_of(union: OrgUnit) -> OrgUnit:
    if union.level != "enterprise" or union.parent is None or union.parent.level != "street":
        raise InvalidData({"data.union_unit": [f"{union.code} 不是镇（街道）下的基层工会"]})
    return union.parent


def status_of(state: str, term_end: str | None, reminder_on: str | None, today: date) -> str | None:
    """Where a union stands: in_term, due (a re-election is due or under way), overdue, or None when closed."""
    if state in ("re_elected", "dissolved"):
        return None
    if state == "overdue":
        return "overdue"
    if state == "elected":
        return "due"
    day = today.isoformat()
    if term_end and term_end < day:
        return "overdue"
    if state == "in_term" and not (reminder_on and reminder_on < day):
        return "in_term"
    return "due"


# ---- opening term cases -------------------------------------------------------------------------------

def open_terms(session: Session, engine: Engine, principal: Principal, items: list[tuple[OrgUnit, dict[str, Any]]],
               now: datetime) -> list[Opened]:
    """Open one term case per ``(union, data)`` with one insert per table, and make each the union's current
    term. The caller has checked that none of these unions has an open term case."""
    opened = open_many(session, engine, principal, KEY,
                                [(street_of(union).code, data) for union, data in items], now, validated=True)
    _record_terms(session, [(union.id, case.id, data) for (union, data), case in zip(items, opened, strict=True)],
                  now)
    return opened


def _record_terms(session: Session, rows: list[tuple[int, int, dict[str, Any]]], now: datetime) -> None:
    if not rows:
        return
    table = UnionTerm.__table__
    insert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)
    columns = ("case_id", "chair", "committee", "term_start", "term_years", "term_end", "updated_at")
    statement = insert.on_conflict_do_update(index_elements=[table.c.org_unit_id],
                                             set_={name: insert.excluded[name] for name in columns})
    session.execute(statement, [
        {"org_unit_id": unit_id, "case_id": case_id, "chair": data.get("chair"), "committee": data["committee"],
         "term_start": date.fromisoformat(data["term_start"]), "term_years": data["term_years"],
         "term_end": date.fromisoformat(data["term_end"]), "updated_at": now} for unit_id, case_id, data in rows])
    written = {unit_id for unit_id, _, _ in rows}
    for held in [item for item in session.identity_map.values() if isinstance(item, UnionTerm)]:
        if held.org_unit_id in written:   # read again when next used: the statement went around the session
            session.expire(held)


def open_case_of(session: Session, union_id: int, *, lock: bool = False) -> Case | None:
    """The union's open term case, if it has one (locked on PostgreSQL when asked)."""
    query = sa.select(UnionTerm).where(UnionTerm.org_unit_id == union_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    term = session.scalar(query)
    return term.case if term is not None and not term.case.closed else None


def after_formation(session: Session, formation: Case, union: OrgUnit, now: datetime) -> None:
    """A formation approved: the new union's first term, from the election reported (5 years unless its rules
    say 3: ``term_years`` on the election report or the approval)."""
    data = formation.data
    elected = data.get("elected_on")
    term_start = date.fromisoformat(elected) if elected else now.astimezone(SHANGHAI).date()
    if open_case_of(session, union.id) is not None:
        return
    open_terms(session, current_app.extensions["gonghui.engine"], SYSTEM, [(union, term_data(
        union, chair=data.get("chair"), committee=data.get("committee") or [], term_start=term_start,
        term_years=data.get("term_years"), source="formation", uscc=data["enterprise"]["uscc"],
        previous=formation.number))], now)


@bind_effect("open_next_term")
def open_next_term(session: Session, case: Case, outcome: Outcome, now: datetime) -> None:
    """The re-election approved: this term closes and the next opens, with the committee just elected."""
    union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == case.data["union_unit"]))
    election = case.data.get("election") or {}
    if union is None or not election:
        raise InvalidData({"data.election": ["没有可批复的选举结果"]})
    opened = open_terms(session, current_app.extensions["gonghui.engine"], SYSTEM, [(union, term_data(
        union, chair=election["chair"], committee=election["committee"],
        term_start=date.fromisoformat(election["elected_on"]), term_years=election["term_years"],
        source="re_election", name=case.data.get("name"), uscc=case.data.get("uscc"), previous=case.number))], now)
    case.data = {**case.data, "next_case": opened[0].number}


# ---- hooks of a case opened by hand ----------------------------------------------------------------------

def before_open(session: Session, principal: Any, data: dict[str, Any]) -> str | None:
    """The union must be a known enterprise-level union with no open term case (409 naming it); the case
    belongs to its street, and its dates are worked out here."""
    union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == data["union_unit"]))
    if union is None or not principal.sees(union.path):
        raise InvalidData({"data.union_unit": [f"未知或不在本单位范围内的工会：{data['union_unit']}"]})
    existing = open_case_of(session, union.id, lock=True)
    if existing is not None:
        raise Conflict(f"该工会本届任期已有换届案件 {existing.number}", case=existing.number)
    data.update(term_data(union, chair=data["chair"], committee=data.get("committee") or [],
                          term_start=date.fromisoformat(data["term_start"]), term_years=data.get("term_years"),
                          source=data.get("source", "manual"), name=data.get("name"), uscc=data.get("uscc")))
    return street_of(union).code


def after_open(session: Session, case: Case, now: datetime) -> None:
    union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == case.data["union_unit"]))
    assert union is not None
    try:
        _record_terms(session, [(union.id, case.id, case.data)], now)
    except sa.exc.IntegrityError as error:
        raise Conflict("该工会刚刚开立了换届案件，请刷新后重试") from error


def prepare_event(session: Session, case: Case, event: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The election reported is kept apart (``election``) from the committee of the term running, which it
    replaces only when the next term opens; its term is the union's rules' (this term's) unless it says.
    When the reminder falls due, the end of the term is counted again: a year whose holiday schedule was not
    known when the term began (a provisional count) may have been loaded since."""
    if event == "report_election":
        years = data.get("term_years") or case.data.get("term_years") or config().get("default_term_years", 5)
        return {"election": {**data, "term_years": years}}
    if event == "fall_due":
        end, _ = term_dates(date.fromisoformat(case.data["term_start"]), int(case.data["term_years"]), 0)
        session.execute(sa.update(UnionTerm).where(UnionTerm.case_id == case.id).values(term_end=end)
                        .execution_options(synchronize_session=False))
        return {**data, "term_end": end.isoformat()}
    return data


# ---- the report ------------------------------------------------------------------------------------------

def report(session: Session, scope: ReportScope) -> dict[str, Any]:
    """Unions in term, due for re-election, overdue (now), and re-elected in the period (default: this year),
    in the scope and per street."""
    today = clock_now().astimezone(SHANGHAI).date()
    result = common_figures(session, scope)
    streets = {unit.code: unit.name for unit in session.scalars(
        sa.select(OrgUnit).where(OrgUnit.level == "street",
                                 OrgUnit.path.startswith(scope.org_path, autoescape=True)))}
    per_street: dict[str, dict[str, Any]] = {code: {"name": name, "in_term": 0, "due": 0, "overdue": 0, "re_elected": 0}
                  for code, name in streets.items()}
    totals = {"in_term": 0, "due": 0, "overdue": 0, "re_elected": 0}
    in_scope = [Case.definition_key == KEY, Case.org_path.startswith(scope.org_path, autoescape=True)]
    for state, data in session.execute(sa.select(Case.state, Case.data).where(*in_scope, sa.not_(Case.closed))):
        status = status_of(state, data.get("term_end"), data.get("reminder_on"), today)
        if status is not None:
            totals[status] += 1
            if data.get("street") in per_street:
                per_street[data["street"]][status] += 1
    first = scope.date_from or today.replace(month=1, day=1)
    last = scope.date_to or today
    approvals = sa.select(Case.data).join(CaseHistory, CaseHistory.case_id == Case.id).where(
        *in_scope, CaseHistory.event == "approve_election",
        CaseHistory.at >= datetime.combine(first, time(), SHANGHAI),
        CaseHistory.at < datetime.combine(last + timedelta(days=1), time(), SHANGHAI))
    for (data,) in session.execute(approvals):
        totals["re_elected"] += 1
        if data.get("street") in per_street:
            per_street[data["street"]]["re_elected"] += 1
    result.update({"unions_in_term": totals["in_term"], "unions_due": totals["due"],
                   "unions_overdue": totals["overdue"], "re_elected": totals["re_elected"],
                   "re_elected_from": first.isoformat(), "re_elected_to": last.isoformat(),
                   "per_street": {code: figures for code, figures in per_street.items()
                                  if any(figures[name] for name in totals)}})
    return result


# ---- the union's record: its current term -----------------------------------------------------------------

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


def term_record(session: Session, union: OrgUnit, today: date) -> dict[str, Any] | None:
    term = session.get(UnionTerm, union.id)
    if term is None:
        return None
    case = term.case
    definition = current_app.extensions["gonghui.engine"].catalog.get(case.definition_key, case.definition_version)
    return {"union_unit": union.code, "name": union.name, "street": union.parent.code if union.parent else None,
            "uscc": union.uscc or case.data.get("uscc"), "chair": term.chair, "committee": term.committee,
            "term_start": term.term_start, "term_years": term.term_years, "term_end": term.term_end,
            "reminder_on": date.fromisoformat(case.data["reminder_on"]) if case.data.get("reminder_on") else None,
            "status": status_of(case.state, term.term_end.isoformat(), case.data.get("reminder_on"), today),
            "case": {"id": case.id, "number": case.number, "state": case.state,
                     "state_label": definition.states[case.state].label,
                     "due_at": case.due_at.astimezone(SHANGHAI) if case.due_at else None}}


def term_columns(session: Session, employer: Any) -> dict[str, Any]:
    """The term of an employer's union, for the employers list."""
    term = session.get(UnionTerm, employer.union_unit_id) if employer.union_unit_id else None
    if term is None:
        return {"term_end": None, "term_status": None}
    status = status_of(term.case.state, term.term_end.isoformat(), term.case.data.get("reminder_on"), _today())
    return {"term_end": term.term_end, "term_status": status}


@blp.route("/org-units/<string:code>/term")
class UnionTermRecord(MethodView):
    @blp.response(200, UnionTermRecordSchema)
    def get(self, code: str) -> Any:
        """The union's current term: chair, committee, start and end, and its term case (404 when the union
        is outside the caller's scope or has no term on record)."""
        from api import auth
        from api.extensions import db

        principal = auth.current()
        if len(code) > 64 or "\x00" in code:   # no such code can exist (and PostgreSQL refuses NUL)
            abort(404)
        union = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        if union is None or not principal.sees(union.path):
            abort(404)
        record = term_record(db.session, union, _today())
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
        from flask import request

        from api import auth
        from api.extensions import db
        from api.problems import problem
        from api.roster import RosterError
        from api.union_term_import import import_terms, rows_of

        principal = auth.require_role("clerk", "admin")
        if principal.level == "enterprise":
            return problem(403, "只有镇（街道）或市总工会可以导入工会换届台账")
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return problem(422, "请上传台账文件（表单字段 file）", errors={"file": ["必填"]})
        try:
            result = import_terms(db.session, current_app.extensions["gonghui.engine"], principal,
                                  rows_of(upload.stream), clock_now())
        except RosterError as error:
            return problem(422, str(error), errors={"file": [str(error)]})
        return result.summary()


# ---- demo: a few unions at different points of their term ---------------------------------------------------

DEMO_TERMS = [  # union, chair, committee, months since the term began, term years
    ("cd-e001", "陈建国", ["陈建国", "王丽", "李明"], 62, 5),      # the term ended two months ago: overdue
    ("cd-e002", "周海燕", ["周海燕", "林强", "吴芳"], 57, 5),      # ends in three months: due
    ("dx-e001", "郑志刚", ["郑志刚", "何静", "赵磊", "孙伟"], 33, 3),  # ends in three months: due
    ("cd-c001", "黄晓梅", ["黄晓梅", "许杰", "蔡敏"], 12, 3),      # in term
]


def seed_demo_terms(session: Session, now: datetime) -> None:
    """Term cases for the demo unions (once), moved on as the sweep would: the city sees some due and overdue."""
    engine = current_app.extensions["gonghui.engine"]
    today = now.astimezone(SHANGHAI).date()
    for code, chair, committee, months_ago, years in DEMO_TERMS:
        union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        if union is None or session.get(UnionTerm, union.id) is not None:
            continue
        data = term_data(union, chair=chair, committee=committee, term_start=months_later(today, -months_ago),
                         term_years=years, source="import")
        opened = open_terms(session, engine, SYSTEM, [(union, data)], now)
        case = session.get(Case, opened[0].id)
        assert case is not None
        for event, day in (("fall_due", data["reminder_on"]), ("lapse", data["term_end"])):
            if day < today.isoformat():
                fire_event(session, engine, None, case, FireRequest(event, {}), now)


LABELS = {
    "union_unit": "工会", "uscc": "统一社会信用代码", "name": "工会名称", "street": "所属镇街", "chair": "工会主席",
    "committee": "委员", "term_start": "本届任期开始", "term_years": "任期（年）", "term_end": "本届任期届满",
    "reminder_on": "换届提醒日", "planned_on": "计划选举日期", "plan": "换届方案", "elected_on": "选举日期",
    "election": "选举结果", "election.chair": "新任工会主席", "election.committee": "新任委员",
    "election.elected_on": "选举日期", "election.term_years": "任期（年）", "previous_case": "上一届案件",
    "next_case": "下一届案件", "reason": "理由", "note": "备注",
}
FIGURES = [
    ("unions_in_term", "任期内", "count"), ("unions_due", "应换届", "count"), ("unions_overdue", "超期未换届", "count"),
    ("re_elected", "今年已换届", "count"), ("open", "在办", "count"), ("escalated", "上报上级", "count"),
]


register(Lifecycle(
    key=KEY,
    labels=LABELS,
    figures=FIGURES,
    open_schema=UnionTermSchema,
    event_schemas={"report_plan": PlanSchema, "report_election": ElectionSchema,
                   "approve_election": ApprovalSchema, "return_for_correction": ReasonSchema,
                   "dissolve": ReasonSchema, "escalate": EscalateSchema},
    report=report, before_open=before_open, after_open=after_open, prepare_event=prepare_event,
    blueprints=[blp],
))

from api import demo  # noqa: E402

demo.CASE_HOOKS.append(seed_demo_terms)
