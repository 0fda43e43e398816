"""基层工会换届 (union_term): one case per union and term, owned by the union's street federation.

A term case opens when a formation is approved (a reaction to ``union_formation``'s ``approve``), when a
re-election is approved (the next term, the effect ``open_next_term``), by hand or by the import of existing
unions (``.importer``, ``gonghui import-union-terms``, ``POST /union-terms/import``). Its dates are worked out
when it opens (``workflow.rules.union_term``): the last day of the term in Civil Code months and the day of the
reminder before it (``reminder_months_before_end`` in the definition's config); the definition's deadlines read
them (``until_field``). The union's current term (chair, committee, start, end) is kept in ``union_terms``
(``.models``), one row per union, which also keeps a union from having two open term cases.

The plug-in is everything this lifecycle adds to the service: this package, ``definitions/union_term.v1.yaml``,
``workflow/rules/union_term.py``, its line in ``api.plugins`` and the migration of its table.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from api.cases import FireRequest, fire_event
from api.fields import being_loaded, not_in_future, one_of, text, validate_uscc
from api.lifecycles import Context, Lifecycle
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.lifecycles.union_term import commands, views
from api.lifecycles.union_term.models import UnionTerm
from api.lifecycles.union_term.terms import KEY, SOURCES, open_case_of, open_terms, record_terms, street_of, term_data
from api.models import Case, CaseHistory, OrgUnit
from api.reports import ReportScope, common_figures
from workflow.calendar import SHANGHAI, months_later
from workflow.engine import Outcome
from workflow.errors import Conflict, InvalidData
from workflow.rules.union_term import TermRules, status_of, term_end


def allowed_term(value: int) -> None:
    fault = TermRules.of(being_loaded().config).term_years_fault(value)
    if fault:
        raise ValidationError(fault)


def names(max_items: int = 50, **kwargs: Any) -> fields.List[Any]:
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
        faults = TermRules.of(being_loaded().config).committee_faults(committee)
        if faults:
            raise ValidationError(faults, "committee")


class ApprovalSchema(Schema):
    approval_no = text(64, required=True)


# ---- the terms that follow an approval --------------------------------------------------------------------

def _by_the_system(context: Context) -> Context:
    """The union_term definition's context, the system opening the case (the approval was someone else's)."""
    return Context(context.session, context.engine, context.engine.catalog.get(KEY), None, context.now)


def after_formation(context: Context, formation: Case, outcome: Outcome) -> None:
    """A formation approved (its union just founded): the new union's first term, from the election reported
    (the definition's default term unless its rules say otherwise: ``term_years`` on the election report or the
    approval)."""
    union = context.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == formation.data.get("union_unit")))
    if union is None or open_case_of(context.session, union.id) is not None:
        return
    data = formation.data
    elected = data.get("elected_on")
    term_start = date.fromisoformat(elected) if elected else context.today
    terms = _by_the_system(context)
    open_terms(terms, [(union, term_data(
        terms, union, chair=data.get("chair"), committee=data.get("committee") or [], term_start=term_start,
        term_years=data.get("term_years"), source="formation", uscc=data["enterprise"]["uscc"],
        previous=formation.number))])


def open_next_term(context: Context, case: Case, outcome: Outcome) -> None:
    """The re-election approved: this term closes and the next opens, with the committee just elected."""
    union = context.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == case.data["union_unit"]))
    election = case.data.get("election") or {}
    if union is None or not election:
        raise InvalidData({"data.election": ["没有可批复的选举结果"]})
    terms = _by_the_system(context)
    opened = open_terms(terms, [(union, term_data(
        terms, union, chair=election["chair"], committee=election["committee"],
        term_start=date.fromisoformat(election["elected_on"]), term_years=election["term_years"],
        source="re_election", name=case.data.get("name"), uscc=case.data.get("uscc"), previous=case.number))])
    case.data = {**case.data, "next_case": opened[0].number}


# ---- hooks of a case opened by hand ----------------------------------------------------------------------

def before_open(context: Context, data: dict[str, Any]) -> str | None:
    """The union must be a known enterprise-level union with no open term case (409 naming it); the case
    belongs to its street, and its dates are worked out here."""
    session, principal = context.session, context.principal
    union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == data["union_unit"]))
    if union is None or (principal is not None and not principal.sees(union.path)):
        raise InvalidData({"data.union_unit": [f"未知或不在本单位范围内的工会：{data['union_unit']}"]})
    existing = open_case_of(session, union.id, lock=True)
    if existing is not None:
        raise Conflict(f"该工会本届任期已有换届案件 {existing.number}", case=existing.number)
    data.update(term_data(context, union, chair=data["chair"], committee=data.get("committee") or [],
                          term_start=date.fromisoformat(data["term_start"]), term_years=data.get("term_years"),
                          source=data.get("source", "manual"), name=data.get("name"), uscc=data.get("uscc")))
    return street_of(union).code


def after_open(context: Context, case: Case) -> None:
    union = context.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == case.data["union_unit"]))
    assert union is not None
    try:
        record_terms(context.session, [(union.id, case.id, case.data)], context.now)
    except sa.exc.IntegrityError as error:
        raise Conflict("该工会刚刚开立了换届案件，请刷新后重试") from error


def prepare_event(context: Context, case: Case, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The election reported is kept apart (``election``) from the committee of the term running, which it
    replaces only when the next term opens; its term is the union's rules' (this term's) unless it says.
    When the reminder falls due, the end of the term is counted again: a year whose holiday schedule was not
    known when the term began (a provisional count) may have been loaded since."""
    if event == "report_election":
        years = (data.get("term_years") or case.data.get("term_years")
                 or TermRules.of(context.config).default_term_years)
        return {"election": {**data, "term_years": years}}
    if event == "fall_due":
        end = term_end(date.fromisoformat(case.data["term_start"]), int(case.data["term_years"]), context.calendar)
        context.session.execute(sa.update(UnionTerm).where(UnionTerm.case_id == case.id).values(term_end=end)
                        .execution_options(synchronize_session=False))
        return {**data, "term_end": end.isoformat()}
    return data


# ---- the report ------------------------------------------------------------------------------------------

def report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """Unions in term, due for re-election, overdue (now), and re-elected in the period (default: this year),
    in the scope and per street."""
    today = context.today
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


# ---- demo: a few unions at different points of their term ---------------------------------------------------

DEMO_TERMS = [  # union, chair, committee, months since the term began, term years
    ("cd-e001", "陈建国", ["陈建国", "王丽", "李明"], 62, 5),      # the term ended two months ago: overdue
    ("cd-e002", "周海燕", ["周海燕", "林强", "吴芳"], 57, 5),      # ends in three months: due
    ("dx-e001", "郑志刚", ["郑志刚", "何静", "赵磊", "孙伟"], 33, 3),  # ends in three months: due
    ("cd-c001", "黄晓梅", ["黄晓梅", "许杰", "蔡敏"], 12, 3),      # in term
]


def seed_demo_terms(context: Context) -> None:
    """Term cases for the demo unions (once), moved on as the sweep would: the city sees some due and overdue."""
    session, today = context.session, context.today
    for code, chair, committee, months_ago, years in DEMO_TERMS:
        union = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        if union is None or session.get(UnionTerm, union.id) is not None:
            continue
        data = term_data(context, union, chair=chair, committee=committee,
                         term_start=months_later(today, -months_ago), term_years=years, source="import")
        opened = open_terms(context, [(union, data)])
        case = session.get(Case, opened[0].id)
        assert case is not None
        for event, day in (("fall_due", data["reminder_on"]), ("lapse", data["term_end"])):
            if day < today.isoformat():
                fire_event(session, context.engine, None, case, FireRequest(event, {}), context.now)


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


plugin = Lifecycle(
    key=KEY,
    labels=LABELS,
    figures=FIGURES,
    choices={"formation": "建会批复", "re_election": "换届批复", "import": "台账导入", "manual": "手工录入"},
    open_schema=UnionTermSchema,
    event_schemas={"report_plan": PlanSchema, "report_election": ElectionSchema,
                   "approve_election": ApprovalSchema, "return_for_correction": ReasonSchema,
                   "dissolve": ReasonSchema, "escalate": EscalateSchema},
    report=report, before_open=before_open, after_open=after_open, prepare_event=prepare_event,
    effects={"open_next_term": open_next_term},
    reactions={("union_formation", "approve"): after_formation},
    config_keys=("default_term_years", "allowed_term_years", "reminder_months_before_end", "min_committee"),
    blueprints=[views.blp],
    commands=[commands.import_union_terms],
    demo_cases=seed_demo_terms,
    employer_columns=views.employer_columns,
    employer_fields=views.EMPLOYER_FIELDS,
)
