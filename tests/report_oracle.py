"""The reports as they were computed straight from the cases and their history, before the report summary: the
oracle the summary's reports must equal (``tests/integration/test_report_summary.py``), and the baseline the
scale benchmark measures the summary against."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.lifecycles import Context
from api.lifecycles.mediation_case import CONCLUDED, DISPUTE_TYPES, _figures
from api.lifecycles.medical_aid_claim import CLAIM_TYPES
from api.lifecycles.union_formation import _covered_staff
from api.lifecycles.union_term.terms import KEY as TERM_KEY
from api.models import Case, CaseHistory, Employer, OrgUnit
from api.reports import SHANGHAI, ReportScope, money, rate
from workflow.calendar import working_days_between
from workflow.rules.union_formation import Screening
from workflow.rules.union_term import status_of


def common_figures(session: Session, scope: ReportScope) -> dict[str, Any]:
    where = scope.where()
    by_state = dict(session.execute(
        sa.select(Case.state, sa.func.count()).where(*where).group_by(Case.state)).all())
    totals = session.execute(sa.select(
        sa.func.count(),
        sa.func.count().filter(Case.closed.is_(False)),
        sa.func.count().filter(Case.overdue.is_(True), Case.closed.is_(False)),
        sa.func.count().filter(Case.escalations > 0),
    ).where(*where)).one()
    return {"definition": scope.definition, "from": _iso(scope.date_from), "to": _iso(scope.date_to),
            "total": totals[0], "by_state": by_state, "open": totals[1], "overdue": totals[2],
            "escalated": totals[3]}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def reached(event: str) -> sa.Exists:
    """Cases whose history holds ``event`` (a case that passed through a step keeps the record)."""
    return sa.exists().where(CaseHistory.case_id == Case.id, CaseHistory.event == event)


def mediation_case(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """One grouped query by level and dispute type; the totals and both breakdowns are sums of its rows."""
    result = common_figures(session, scope)
    rows = session.execute(sa.select(
        Case.level, Case.category, sa.func.count(), sa.func.count().filter(reached("accept")),
        sa.func.sum(Case.amount), sa.func.count().filter(reached("accept"), Case.state.in_(CONCLUDED)),
        sa.func.count().filter(reached("agree")),
    ).where(*scope.where()).group_by(Case.level, Case.category)).all()

    def total(keep: Any) -> dict[str, Any]:
        chosen = [row for row in rows if keep(row)]
        counts = [sum(row[index] or 0 for row in chosen) for index in (2, 3, 4, 5, 6)]
        return _figures(counts[0], counts[1], counts[2], counts[3], counts[4])

    result.update(total(lambda row: True))
    result["by_level"] = {level: total(lambda row, level=level: row[0] == level)
                          for level in ("enterprise", "street", "city")}
    result["by_dispute_type"] = {kind: total(lambda row, kind=kind: row[1] == kind) for kind in DISPUTE_TYPES}
    return result


def _mean_working_days(session: Session, cases: list[Case], event: str, context: Context) -> float | None:
    spans = []
    for _case_id, created, at in session.execute(
            sa.select(Case.id, Case.created_at, sa.func.min(CaseHistory.at)).join(CaseHistory)
            .where(Case.id.in_([case.id for case in cases]), CaseHistory.event == event)
            .group_by(Case.id, Case.created_at)):
        spans.append(working_days_between(context.calendar, created, at))
    return round(sum(spans) / len(spans), 2) if spans else None


def worker_report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
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
        "avg_working_days_to_acknowledge": _mean_working_days(session, cases, "acknowledge", context),
        "avg_working_days_to_resolve": _mean_working_days(session, cases, "resolve", context),
        "reopened": reopened, "reopen_rate": rate(reopened, resolved),
        "open_wage_arrears_warnings": warnings,
    })
    return result


def medical_aid_claim(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    where = scope.where()
    result = common_figures(session, scope)
    cases = list(session.scalars(sa.select(Case).where(*where)))
    first_visit = dict(session.execute(
        sa.select(CaseHistory.case_id, CaseHistory.to_state).where(
            CaseHistory.seq == 1, CaseHistory.case_id.in_([case.id for case in cases]))).all()) if cases else {}
    by_type: dict[str, int] = {kind: 0 for kind in CLAIM_TYPES}
    per_counter: dict[str, dict[str, Any]] = {}
    claimed = approved = paid = Decimal("0")
    days: list[int] = []
    for case in cases:
        by_type[case.category or "other"] = by_type.get(case.category or "other", 0) + 1
        eligible = Decimal(case.data.get("eligible_self_pay", "0"))
        claimed += eligible
        if case.state in ("approved", "paid") and case.amount is not None:
            approved += case.amount
        if case.state == "paid" and case.amount is not None:
            paid += case.amount
            accepted_at = session.scalar(sa.select(sa.func.min(CaseHistory.at)).where(
                CaseHistory.case_id == case.id, CaseHistory.to_state == "accepted"))
            if accepted_at is not None and case.closed_at is not None:
                days.append(working_days_between(context.calendar, accepted_at, case.closed_at))
        counter = per_counter.setdefault(case.created_by, {"claims": 0, "accepted_at_first_visit": 0})
        counter["claims"] += 1
        counter["accepted_at_first_visit"] += first_visit.get(case.id) == "accepted"
    for counter in per_counter.values():
        counter["first_visit_rate"] = rate(counter["accepted_at_first_visit"], counter["claims"])
    at_first = sum(1 for state in first_visit.values() if state == "accepted")
    streets = dict(session.execute(sa.select(OrgUnit.code, sa.func.count()).join(Case, Case.org_unit_id == OrgUnit.id)
                                   .where(*where).group_by(OrgUnit.code)).all())
    result.update({
        "by_type": by_type, "amount_claimed": money(claimed), "amount_approved": money(approved),
        "amount_paid": money(paid), "accepted_at_first_visit": at_first,
        "first_visit_rate": rate(at_first, len(cases)),  # "最多跑一次": accepted at the first visit
        "avg_working_days_to_payment": round(sum(days) / len(days), 2) if days else None,
        "per_counter": per_counter, "per_unit": streets,
    })
    return result


def union_formation(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """New unions in the period (single vs joint), units covered, workers reached, open cases, formation rate."""
    result = common_figures(session, scope)
    where = scope.where()
    established = list(session.scalars(sa.select(Case).where(*where, Case.state.in_(("established", "standardized")))))
    single = [case for case in established if case.category == "single"]
    joint = [case for case in established if case.category == "joint"]
    covered_codes = [code for case in established
                     for code in dict.fromkeys([case.data["enterprise"]["uscc"], *(case.data.get("members") or [])])]
    streets: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        sa.select(OrgUnit.code, OrgUnit.name, sa.func.count(),
                  sa.func.count().filter(Employer.union_status != "none"))
        .join(Employer, Employer.street_unit_id == OrgUnit.id)
        .where(Employer.insured_staff >= Screening.of(context.config).threshold_staff,
               OrgUnit.path.startswith(scope.org_path, autoescape=True))
        .group_by(OrgUnit.code, OrgUnit.name))
    total_required = total_with_union = 0
    for code, name, required, with_union in rows:
        streets[code] = {"name": name, "employers_25_plus": required, "with_union": with_union,
                         "formation_rate": rate(with_union, required)}
        total_required += required
        total_with_union += with_union
    result.update({
        "new_unions": len(established), "single": len(single), "joint": len(joint),
        "units_covered": len(set(covered_codes)), "workers_reached": _covered_staff(session, covered_codes),
        "open_by_state": {state: count for state, count in result["by_state"].items()
                          if state not in ("established", "standardized", "exempted")},
        "formation_rate": rate(total_with_union, total_required), "per_street": streets,
    })
    return result


def union_term(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
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
    in_scope = [Case.definition_key == TERM_KEY, Case.org_path.startswith(scope.org_path, autoescape=True)]
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



REPORTS = {"mediation_case": mediation_case, "worker_report": worker_report, "medical_aid_claim": medical_aid_claim,
           "union_formation": union_formation, "union_term": union_term}
