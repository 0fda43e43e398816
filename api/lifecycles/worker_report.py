"""职工反映问题 (worker_report): data, routing of public reports, anonymity, and the report."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from api.deadlines import CALENDAR
from api.fields import flag, one_of, text, validate_uscc
from api.lifecycles import Lifecycle, register
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.models import Case, CaseHistory, Employer, OrgUnit
from api.reports import ReportScope, common_figures, rate
from workflow.calendar import working_days_between

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
        found = session.scalar(sa.select(Employer).where(Employer.uscc == data["employer_uscc"]))
        if found:
            return found
    name = str(data["employer"]).strip()
    if len(name) == 18:
        found = session.scalar(sa.select(Employer).where(Employer.uscc == name.upper()))
        if found:
            return found
    return session.scalar(sa.select(Employer).where(Employer.name == name))


def route(session: Session, principal: Any, data: dict[str, Any]) -> str | None:
    """The employer's union if it has one, else its street; a wage-arrears warning goes to the street at once;
    an employer not on the roster goes to the street named in the report, else to the city."""
    employer = _employer(session, data)
    if employer is not None:
        data["employer"], data["employer_uscc"] = employer.name, employer.uscc
        street = employer.street_unit.code if employer.street_unit else None
        if data["category"] != "wage_arrears" and employer.union_unit is not None:
            return employer.union_unit.code
        if street:
            return street
    if data.get("street"):
        wanted = str(data["street"]).strip()
        unit = session.scalar(sa.select(OrgUnit).where(
            OrgUnit.level == "street", sa.or_(OrgUnit.name == wanted, OrgUnit.name == f"{wanted}总工会",
                                              OrgUnit.code == wanted)))
        if unit is not None:
            return unit.code
    if principal.username == "intake":
        return "wenling"
    return None if principal.level == "street" or data["category"] != "wage_arrears" else "wenling"


def extra(case: Case) -> dict[str, Any]:
    return {"early_warning": case.category == "wage_arrears" and not case.closed}


def _mean_working_days(session: Session, cases: list[Case], event: str) -> float | None:
    spans = []
    for _case_id, created, at in session.execute(
            sa.select(Case.id, Case.created_at, sa.func.min(CaseHistory.at)).join(CaseHistory)
            .where(Case.id.in_([case.id for case in cases]), CaseHistory.event == event)
            .group_by(Case.id, Case.created_at)):
        spans.append(working_days_between(CALENDAR, created, at))
    return round(sum(spans) / len(spans), 2) if spans else None


def report(session: Session, scope: ReportScope) -> dict[str, Any]:
    where = scope.where()
    result = common_figures(session, scope)
    cases = list(session.scalars(sa.select(Case).where(*where)))
    by_category = dict(session.execute(sa.select(Case.category, sa.func.count()).where(*where)
                                       .group_by(Case.category)).all())
    by_employer = dict(session.execute(sa.select(Case.party, sa.func.count()).where(*where)
                                       .group_by(Case.party)).all())
    reopened = session.scalar(sa.select(sa.func.count(sa.distinct(CaseHistory.case_id))).join(Case).where(
        *where, CaseHistory.event == "reopen")) or 0
    resolved = session.scalar(sa.select(sa.func.count(sa.distinct(CaseHistory.case_id))).join(Case).where(
        *where, CaseHistory.event == "resolve")) or 0
    warnings: dict[str, int] = {}
    for case in cases:
        if case.category == "wage_arrears" and not case.closed:
            street = case.org_unit if case.org_unit.level == "street" else case.org_unit.parent
            code = street.code if street is not None else case.org_unit.code
            warnings[code] = warnings.get(code, 0) + 1
    result.update({
        "by_category": by_category, "by_employer": by_employer,
        "avg_working_days_to_acknowledge": _mean_working_days(session, cases, "acknowledge"),
        "avg_working_days_to_resolve": _mean_working_days(session, cases, "resolve"),
        "reopened": reopened, "reopen_rate": rate(reopened, resolved),
        "open_wage_arrears_warnings": warnings,
    })
    return result


register(Lifecycle(
    key=KEY,
    open_schema=WorkerReportSchema,
    event_schemas={"decline": ReasonSchema, "reopen": ReasonSchema, "serve_opinion": OpinionSchema,
                   "refer": ReferSchema, "resolve": ResolveSchema, "escalate": EscalateSchema},
    report=report, before_open=route, extra=extra, lookup_secret=True,
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
))


