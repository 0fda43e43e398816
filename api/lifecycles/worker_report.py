"""职工反映问题 (worker_report): data, routing of public reports, anonymity, and the report."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from api.fields import flag, one_of, text, validate_uscc
from api.lifecycles import Context, Lifecycle
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.models import Case, CaseHistory, Employer, OrgUnit
from api.reports import ReportScope, common_figures, count, rate, tallies
from workflow.calendar import working_days_between
from workflow.rules import worker_report as rules

KEY = "worker_report"
CATEGORIES = ["social_insurance", "safety", "overtime_pay", "employment", "wage_arrears", "other"]
OFFICES = ["labour", "safety", "justice", "housing", "market"]
MAX_DESCRIPTION = 5000


class WorkerReportSchema(Schema):
    employer = text(200, required=True)
    employer_uscc = fields.String(validate=validate_uscc, allow_none=True, metadata={
        "description": "统一社会信用代码（18 位）；第 18 位与内含组织机构代码的校验码须正确"
                       "（GB 32100、GB 11714），否则 422"})
    street = text(50)   # where the workplace is, when the employer is not on the roster
    category = one_of(CATEGORIES, required=True)
    description = text(MAX_DESCRIPTION, required=True)
    contact = text(100)
    anonymous = flag(load_default=False)
    channel = one_of(["wechat", "phone", "visit", "operator"], load_default="operator")


class OpinionSchema(Schema):
    opinion = text(5000, required=True)


class ReferSchema(Schema):
    offices = fields.List(one_of(OFFICES), required=True, validate=validate.Length(min=1))
    note = text(2000)


class ResolveSchema(Schema):
    feedback = text(5000, required=True)


def _employer(session: Session, data: dict[str, Any]) -> Employer | None:
    if data.get("employer_uscc"):
        found: Employer | None = session.scalar(sa.select(Employer).where(Employer.uscc == data["employer_uscc"]))
        if found:
            return found
    name = str(data["employer"]).strip()
    if len(name) == 18:
        by_code: Employer | None = session.scalar(sa.select(Employer).where(Employer.uscc == name.upper()))
        if by_code:
            return by_code
    by_name: Employer | None = session.scalar(sa.select(Employer).where(Employer.name == name))
    return by_name


def _named_street(session: Session, data: dict[str, Any]) -> str | None:
    if not data.get("street"):
        return None
    wanted = str(data["street"]).strip()
    return session.scalar(sa.select(OrgUnit.code).where(
        OrgUnit.level == "street", sa.or_(OrgUnit.name == wanted, OrgUnit.name == f"{wanted}总工会",
                                          OrgUnit.code == wanted)))


def route(context: Context, data: dict[str, Any]) -> str | None:
    """Where the report goes (``workflow.rules.worker_report.route``), from the employer the roster knows."""
    session = context.session
    found = _employer(session, data)
    employer = None
    if found is not None:
        data["employer"], data["employer_uscc"] = found.name, found.uscc
        employer = rules.Employer(found.union_unit.code if found.union_unit is not None else None,
                                  found.street_unit.code if found.street_unit is not None else None)
    principal = context.principal
    city = session.scalar(sa.select(OrgUnit.code).where(OrgUnit.level == "city").order_by(OrgUnit.id).limit(1))
    return rules.route(data["category"], employer, _named_street(session, data),
                       early_warning=context.definition.early_warning_categories, city=city or "",
                       public_intake=principal is None or principal.username == "intake",
                       caller_level=principal.level if principal is not None else "city")


def extra(case: Case) -> dict[str, Any]:
    return {"early_warning": case.category == "wage_arrears" and not case.closed}


def _mean_working_days(session: Session, scope: ReportScope, event: str, context: Context) -> float | None:
    """The mean working days from opening to the first ``event``, over the scope's cases that had it."""
    spans = [working_days_between(context.calendar, created, at) for created, at in session.execute(
        sa.select(Case.created_at, sa.func.min(CaseHistory.at)).join(CaseHistory)
        .where(*scope.where(), CaseHistory.event == event).group_by(Case.id, Case.created_at))]
    return round(sum(spans) / len(spans), 2) if spans else None


def street_codes(session: Session, unit_ids: set[int]) -> dict[int, str]:
    """The code of each unit's street: its own at a street, its parent's below one (else its own)."""
    found = {}
    for unit in session.scalars(sa.select(OrgUnit).where(OrgUnit.id.in_(sorted(unit_ids)))):
        street = unit if unit.level == "street" else unit.parent
        found[unit.id] = street.code if street is not None else unit.code
    return found


def report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """From the report summary (by unit); the employers and the working days from the cases, a grouped query each."""
    rows = tallies(session, scope, by_unit=True)
    result = common_figures(session, scope, rows)
    by_category: dict[str | None, int] = {}
    for row in rows:
        by_category[row.category] = by_category.get(row.category, 0) + row.n
    by_employer = dict(session.execute(sa.select(Case.party, sa.func.count()).where(*scope.where())
                                       .group_by(Case.party)).all())
    reopened = count(rows, lambda row: row.reached(rules.REOPEN))
    resolved = count(rows, lambda row: row.reached("resolve"))
    arrears = [row for row in rows if row.category == "wage_arrears" and not row.closed]
    streets = street_codes(session, {row.org_unit_id for row in arrears if row.org_unit_id is not None})
    warnings: dict[str, int] = {}
    for row in arrears:
        code = streets[row.org_unit_id] if row.org_unit_id is not None else ""
        warnings[code] = warnings.get(code, 0) + row.n
    result.update({
        "by_category": by_category, "by_employer": by_employer,
        "avg_working_days_to_acknowledge": _mean_working_days(session, scope, "acknowledge", context),
        "avg_working_days_to_resolve": _mean_working_days(session, scope, "resolve", context),
        "reopened": reopened, "reopen_rate": rate(reopened, resolved),
        "open_wage_arrears_warnings": warnings,
    })
    return result


def reopen_last_day(context: Context, case: Case) -> date | None:
    """While a resolved report may still be reopened, the last day it may be (the guard's window); else None."""
    event = context.definition.events.get(rules.REOPEN)
    if event is None or case.state not in event.sources:
        return None
    window = rules.reopen_window(context.definition, case.level)
    if not rules.may_reopen(case.data.get("resolved_at"), context.now, window, context.calendar):
        return None
    return rules.reopen_last_day(case.data.get("resolved_at"), window, context.calendar)


plugin = Lifecycle(
    key=KEY,
    open_schema=WorkerReportSchema,
    event_schemas={"decline": ReasonSchema, "reopen": ReasonSchema, "serve_opinion": OpinionSchema,
                   "refer": ReferSchema, "resolve": ResolveSchema, "escalate": EscalateSchema},
    report=report, before_open=route, extra=extra, lookup_secret=True,
    milestones=("acknowledge", "resolve", "reopen"),
    labels={
        "employer": "用人单位", "employer_uscc": "统一社会信用代码", "street": "所在镇街", "category": "问题类别",
        "description": "问题描述", "contact": "联系方式", "anonymous": "匿名反映", "channel": "反映渠道",
        "opinion": "监督意见", "offices": "联合介入部门", "note": "备注", "feedback": "办理结果反馈",
        "reason": "理由", "decline:reason": "不予受理的理由", "reopen:reason": "重新办理的理由",
        "acknowledged_at": "受理时间", "resolved_at": "办结时间",
    },
    figures=[("total", "反映件数", "count"), ("reopened", "重新办理", "count"),
             ("avg_working_days_to_acknowledge", "平均受理用时（工作日）", "days"),
             ("avg_working_days_to_resolve", "平均办结用时（工作日）", "days"), ("escalated", "上报上级", "count"),
             ("reopen_rate", "重新办理率", "rate"), ("open", "在办", "count"), ("overdue", "超期", "count")],
    choices={"social_insurance": "社会保险", "safety": "安全生产", "overtime_pay": "加班工资", "employment": "劳动用工",
             "wage_arrears": "欠薪", "other": "其他", "wechat": "微信平台", "phone": "电话", "visit": "来访",
             "operator": "话务员录入", "labour": "人社部门", "justice": "司法部门", "housing": "住建部门",
             "market": "市场监管部门"},
)


