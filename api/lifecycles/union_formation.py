"""基层工会组建 (union_formation): data, one open case per employer, approval creating the new union,
and the coverage report."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from api.fields import being_loaded, flag, not_in_future, one_of, text, validate_uscc
from api.lifecycles import Context, Lifecycle
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.models import Case, Employer, OrgUnit
from api.reports import ReportScope, common_figures, count, rate, tallies
from workflow.engine import Engine, Outcome
from workflow.errors import Conflict, InvalidData
from workflow.rules.union_formation import Screening

KEY = "union_formation"


def screening(engine: Engine) -> Screening:
    """Who must form a union, as the latest definition's ``config`` says (``threshold_staff``,
    ``min_years_in_operation``)."""
    return Screening.of(engine.catalog.get(KEY).config)


def allowed_term(value: int) -> None:
    allowed = [int(years) for years in being_loaded().config["allowed_term_years"]]
    if value not in allowed:
        raise ValidationError(f"任期须为 {' 或 '.join(map(str, allowed))} 年")


class EnterpriseSchema(Schema):
    uscc = fields.String(required=True, validate=validate_uscc)
    name = text(200, required=True)
    insured_staff = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    founded_on = fields.Date()
    street = text(50)


class FormationSchema(Schema):
    kind = one_of(["single", "joint"], required=True)
    enterprise = fields.Nested(EnterpriseSchema, required=True)
    members = fields.List(fields.String(validate=validate_uscc), validate=validate.Length(max=500))
    source = one_of(["roster", "manual"], load_default="manual")

    @validates_schema
    def joint_lists_members(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") == "joint" and len(data.get("members") or []) < 2:
            raise ValidationError("联合基层工会须列出至少两家成员单位", "members")


class NotifySchema(Schema):
    notice_date = fields.Date(required=True)


class PreparationSchema(Schema):
    leader = text(100, required=True)
    prep_group = fields.List(text(100), required=True, validate=validate.Length(min=1, max=50))


class ElectionCallSchema(Schema):
    members_registered = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1_000_000))


class ElectionReportSchema(Schema):
    chair = text(100, required=True)
    committee = fields.List(text(100), required=True, validate=validate.Length(min=1, max=50))
    # the day of the election and the term of the committee under the union's rules (3 or 5 years)
    elected_on = fields.Date(validate=not_in_future)
    term_years = fields.Integer(strict=True, validate=allowed_term)


class ApprovalSchema(Schema):
    approval_no = text(64, required=True)
    term_years = fields.Integer(strict=True, validate=allowed_term)


class SixStandardsSchema(Schema):
    chair = flag(required=True)
    organization = flag(required=True)
    venue = flag(required=True)
    rules = flag(required=True)
    funds = flag(required=True)
    performance = flag(required=True)


class AssessSchema(Schema):
    six_standards = fields.Nested(SixStandardsSchema, required=True)


def employer_of(session: Session, code: str, *, lock: bool = False) -> Employer | None:
    query = sa.select(Employer).where(Employer.uscc == code)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def open_case_of(session: Session, employer: Employer) -> Case | None:
    if employer.formation_case_id is None:
        return None
    case = session.get(Case, employer.formation_case_id)
    return case if case is not None and not case.closed else None


def before_open(context: Context, data: dict[str, Any]) -> str | None:
    """One open case per employer (409 naming it); the case belongs to the employer's street."""
    session = context.session
    employer = employer_of(session, data["enterprise"]["uscc"], lock=True)
    if employer is None:
        return None
    existing = open_case_of(session, employer)
    if existing is not None:
        raise Conflict(f"该单位已有进行中的建会案件 {existing.number}", case=existing.number)
    if employer.union_status != "none":
        raise InvalidData({"data.enterprise.uscc": ["该单位已建立工会或已加入联合工会"]})
    return employer.street_unit.code if employer.street_unit else None


def after_open(context: Context, case: Case) -> None:
    employer = employer_of(context.session, case.data["enterprise"]["uscc"])
    if employer is not None:
        employer.formation_case_id = case.id


def create_union_unit(context: Context, case: Case, outcome: Outcome) -> None:
    """Approval founds the union: an enterprise-level org unit under the employer's street, coded
    ``<street>-u<employer id>``, whose clerks can then be given accounts and receive cases. (Lifecycles that
    follow a new union, such as its terms, react to the approval once this is done.)"""
    session, now = context.session, context.now
    data = case.data
    employer = employer_of(session, data["enterprise"]["uscc"])
    street = (employer.street_unit if employer and employer.street_unit else
              case.org_unit if case.org_unit.level == "street" else None)
    if street is None:
        raise InvalidData({"data.enterprise": ["无法确定新工会所属的镇（街道）"]})
    joint = data.get("kind") == "joint"
    suffix = "联合工会" if joint else "工会"
    code = f"{street.code}-u{employer.id}" if employer else f"{street.code}-c{case.id}"
    # no flush here: a flush would write the case once now and once more with its history row, leaving a gap
    # in its versions (the history's seq 7 missing); everything goes in with the one flush of the transition.
    # A new unit is inserted on its own (its id is needed at once: a reaction to the approval may point at it).
    name, path = f"{data['enterprise']['name']}{suffix}", f"{street.path}{code}/"
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit_id = session.connection().execute(sa.insert(OrgUnit).values(
            code=code, name=name, level="enterprise", parent_id=street.id, path=path,
            uscc=data["enterprise"]["uscc"], created_at=now).returning(OrgUnit.id)).scalar_one()
        unit = session.get(OrgUnit, unit_id)
        assert unit is not None
    unit.name, unit.level, unit.parent, unit.path = name, "enterprise", street, path
    unit.uscc = data["enterprise"]["uscc"]
    covered = [data["enterprise"]["uscc"], *(data.get("members") or [])]
    for member_code in dict.fromkeys(covered):
        member = employer_of(session, member_code)
        if member is not None:
            member.union_status = "joint" if joint else "single"
            member.union_unit, member.updated_at = unit, now
    case.data = {**data, "union_unit": unit.code, "chair": data.get("chair"), "units_covered": len(set(covered))}


def _covered_staff(session: Session, codes: list[str]) -> int:
    if not codes:
        return 0
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Employer.insured_staff), 0))
                              .where(Employer.uscc.in_(codes))) or 0)


ESTABLISHED = ("established", "standardized")


def report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """New unions in the period (single vs joint), units covered, workers reached, open cases, formation rate."""
    rows = tallies(session, scope)
    result = common_figures(session, scope, rows)
    established = [row for row in rows if row.state in ESTABLISHED]
    covered_codes = [code for (data,) in session.execute(sa.select(Case.data).where(*scope.where(),
                                                                                    Case.state.in_(ESTABLISHED)))
                     for code in dict.fromkeys([data["enterprise"]["uscc"], *(data.get("members") or [])])]
    streets: dict[str, dict[str, Any]] = {}
    employers = session.execute(
        sa.select(OrgUnit.code, OrgUnit.name, sa.func.count(),
                  sa.func.count().filter(Employer.union_status != "none"))
        .join(Employer, Employer.street_unit_id == OrgUnit.id)
        .where(Employer.insured_staff >= Screening.of(context.config).threshold_staff,
               OrgUnit.path.startswith(scope.org_path, autoescape=True))
        .group_by(OrgUnit.code, OrgUnit.name))
    total_required = total_with_union = 0
    for code, name, required, with_union in employers:
        streets[code] = {"name": name, "employers_25_plus": required, "with_union": with_union,
                         "formation_rate": rate(with_union, required)}
        total_required += required
        total_with_union += with_union
    result.update({
        "new_unions": count(established), "single": count(established, lambda row: row.category == "single"),
        "joint": count(established, lambda row: row.category == "joint"),
        "units_covered": len(set(covered_codes)), "workers_reached": _covered_staff(session, covered_codes),
        "open_by_state": {state: number for state, number in result["by_state"].items()
                          if state not in ("established", "standardized", "exempted")},
        "formation_rate": rate(total_with_union, total_required), "per_street": streets,
    })
    return result


plugin = Lifecycle(
    key=KEY,
    open_schema=FormationSchema,
    event_schemas={"notify": NotifySchema, "start_preparation": PreparationSchema, "call_election": ElectionCallSchema,
                   "report_election": ElectionReportSchema, "approve": ApprovalSchema,
                   "return_for_correction": ReasonSchema, "assess": AssessSchema, "exempt": ReasonSchema,
                   "escalate": EscalateSchema},
    report=report, before_open=before_open, after_open=after_open, effects={"create_union_unit": create_union_unit},
    config_keys=("threshold_staff", "min_years_in_operation", "allowed_term_years"),
    choices={"single": "单独组建", "joint": "联合组建", "roster": "参保名单", "manual": "手工录入"},
    labels={
        "kind": "组建方式", "enterprise": "用人单位", "enterprise.uscc": "统一社会信用代码",
        "enterprise.name": "单位名称",
        "enterprise.insured_staff": "参保人数", "enterprise.founded_on": "成立日期", "enterprise.street": "所属镇街",
        "members": "成员单位的统一社会信用代码", "source": "来源", "notice_date": "告知书送达日期",
        "leader": "筹备组组长", "prep_group": "筹备组成员", "members_registered": "登记会员人数", "chair": "工会主席",
        "committee": "工会委员", "approval_no": "批复文号", "six_standards": "“六有”验收",
        "six_standards.chair": "有依法选举的工会主席", "six_standards.organization": "有健全的组织",
        "six_standards.venue": "有服务职工的阵地", "six_standards.rules": "有规范的制度",
        "six_standards.funds": "有独立的经费", "six_standards.performance": "有会员满意的工作成效",
        "union_unit": "新建工会", "units_covered": "覆盖单位数", "reason": "理由",
    },
    figures=[("new_unions", "新建工会", "count"), ("single", "单独建会", "count"), ("joint", "联合建会", "count"),
             ("units_covered", "覆盖单位", "count"), ("workers_reached", "惠及职工", "count"),
             ("formation_rate", "建会率（应建会单位）", "rate"), ("open", "在办", "count"),
             ("overdue", "超期", "count")],
)
