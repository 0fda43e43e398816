"""职工医疗互助报销 (medical_aid_claim): the claim's data, eligibility and amount rules, the one-time
notice of missing documents, the "最多跑一次" counter interface and the report."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session, aliased

from api.fields import Money, one_of, text, validate_id_number
from api.lifecycles import Context, Lifecycle
from api.lifecycles.mediation_case import EscalateSchema, ReasonSchema
from api.models import Case, CaseHistory, OrgUnit
from api.models_medical import ClaimedInvoice, Member, SchemeYear
from api.reports import ReportScope, common_figures, count, money, rate, tallies
from workflow.calendar import working_days_between
from workflow.definitions import Definition
from workflow.errors import Conflict, InvalidData
from workflow.rules import medical_aid_claim as rules

KEY = "medical_aid_claim"
CLAIM_TYPES = ["inpatient", "special_outpatient", "critical_illness"]
DOCUMENT_CODES = ["id_card", "bank_card", "invoice", "itemized_bill", "insurance_settlement",
                  "discharge_summary", "diagnosis_certificate"]


class MemberSchema(Schema):
    name = text(100, required=True)
    id_number = fields.String(required=True, validate=validate_id_number)


class InvoiceSchema(Schema):
    number = text(64, required=True)
    amount = Money(required=True)


class ClaimSchema(Schema):
    member = fields.Nested(MemberSchema, required=True)
    employer = text(200)
    claim_type = one_of(CLAIM_TYPES, required=True)
    hospital = text(200, required=True)
    admitted_on = fields.Date(required=True)
    discharged_on = fields.Date(required=True)
    total_cost = Money(required=True)
    insurance_paid = Money(required=True)
    eligible_self_pay = Money(required=True)
    invoices = fields.List(fields.Nested(InvoiceSchema), required=True,
                           validate=validate.Length(min=1, max=100, error="至少一张发票"))
    documents = fields.List(one_of(DOCUMENT_CODES), load_default=list, validate=validate.Length(max=20))
    bank_account = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{8,30}$",
                                                                         error="银行账号须为 8 到 30 位数字"))
    note = text(2000)

    @validates_schema
    def amounts_and_dates_agree(self, data: dict[str, Any], **kwargs: Any) -> None:
        faults: dict[str, list[str]] = {}
        if data.get("admitted_on") and data.get("discharged_on") and data["discharged_on"] < data["admitted_on"]:
            faults["discharged_on"] = ["出院日期不能早于入院日期"]
        total = data.get("total_cost")
        if total is not None:
            if data.get("eligible_self_pay") is not None and data["eligible_self_pay"] > total:
                faults["eligible_self_pay"] = ["合规自付金额不能超过医疗总费用"]
            if data.get("insurance_paid") is not None and data["insurance_paid"] > total:
                faults["insurance_paid"] = ["医保支付金额不能超过医疗总费用"]
        numbers = [invoice["number"] for invoice in data.get("invoices", [])]
        if len(numbers) != len(set(numbers)):
            faults["invoices"] = ["同一张发票在本申请中重复列出"]
        if faults:
            raise ValidationError(faults)


class SupplementSchema(Schema):
    documents = fields.List(one_of(DOCUMENT_CODES), required=True, validate=validate.Length(min=1, max=20))


class RequestDocumentsSchema(Schema):
    documents_required = fields.List(one_of(DOCUMENT_CODES), required=True, validate=validate.Length(min=1))
    reason = text(2000, required=True)


class ApproveSchema(Schema):
    amount = Money()
    reason = text(2000)


class PaySchema(Schema):
    payment_ref = text(64, required=True)
    paid_on = fields.Date(required=True)


# ---- rules (``workflow.rules.medical_aid_claim``) applied to the stored facts --------------------------------

def _scheme_year(session: Session, id_number: str, year: int) -> rules.SchemeYear | None:
    found = session.scalar(sa.select(SchemeYear).join(Member).where(
        Member.id_number == id_number, SchemeYear.year == year, SchemeYear.paid.is_(True)))
    if found is None:
        return None
    return rules.SchemeYear(found.year, found.deductible, found.ratio, found.annual_cap, found.window_days)


def _already_approved(session: Session, id_number: str, year: int, excluding: int | None) -> Decimal:
    """What the member's other claims of the same scheme year were approved or paid."""
    query = sa.select(Case).where(Case.definition_key == KEY, Case.state.in_(("approved", "paid")),
                                  Case.amount.is_not(None))
    if excluding is not None:
        query = query.where(Case.id != excluding)
    return sum((case.amount or Decimal("0") for case in session.scalars(query)
                if case.data.get("member", {}).get("id_number") == id_number and case.data.get("scheme_year") == year),
               Decimal("0"))


def before_open(context: Context, data: dict[str, Any]) -> str | None:
    """Eligibility (422 naming every rule broken), the amount as computed, the documents still missing."""
    session = context.session
    discharged = date.fromisoformat(data["discharged_on"])
    scheme = _scheme_year(session, data["member"]["id_number"], discharged.year)
    numbers = [invoice["number"] for invoice in data["invoices"]]
    claimed = [(number, claim) for claim, number in session.execute(
        sa.select(Case.number, ClaimedInvoice.number).join(Case, Case.id == ClaimedInvoice.case_id)
        .where(ClaimedInvoice.number.in_(numbers)))]
    faults = rules.eligibility_faults(admitted_on=date.fromisoformat(data["admitted_on"]), discharged_on=discharged,
                                      scheme=scheme, invoices_claimed=claimed, now=context.now,
                                      config=context.config, calendar=context.calendar)
    if faults:
        raise InvalidData(faults, detail="不符合报销条件：" + "；".join(m for ms in faults.values() for m in ms))
    assert scheme is not None
    already = _already_approved(session, data["member"]["id_number"], discharged.year, None)
    amount = rules.compute_amount(Decimal(data["eligible_self_pay"]), scheme, already)
    data["scheme_year"] = discharged.year
    data["amount_computed"] = f"{amount.value:.2f}"
    data["amount_explanation"] = amount.explanation
    data["missing_documents"] = rules.missing_documents(context.config, data["claim_type"], data.get("documents"))
    data["counter_unit"] = context.principal.org_unit if context.principal is not None else None
    return None


def initial_state(context: Context, data: dict[str, Any]) -> str:
    return rules.initial_state(data.get("missing_documents") or [])


def after_open(context: Context, case: Case) -> None:
    for invoice in case.data["invoices"]:
        context.session.add(ClaimedInvoice(number=invoice["number"], case_id=case.id,
                                           amount=Decimal(invoice["amount"])))
    try:
        context.session.flush()
    except sa.exc.IntegrityError as error:
        raise Conflict("所列发票刚被另一份申请使用，请核对后重新提交") from error


def prepare_event(context: Context, case: Case, event: str, data: dict[str, Any]) -> dict[str, Any]:
    if event == "supplement":
        documents = sorted(set(case.data.get("documents", [])) | set(data["documents"]))
        missing = rules.missing_documents(context.config, case.data.get("claim_type"), documents)
        return {**data, "documents": documents, "missing_documents": missing}
    if event == "request_documents":
        documents = [code for code in case.data.get("documents", []) if code not in data["documents_required"]]
        missing = rules.missing_documents(context.config, case.data.get("claim_type"), documents)
        return {**data, "documents": documents, "missing_documents": missing}
    if event == "approve":
        return _approve(context.session, case, data)
    return data


def _approve(session: Session, case: Case, data: dict[str, Any]) -> dict[str, Any]:
    id_number, year_number = case.data["member"]["id_number"], case.data["scheme_year"]
    scheme = _scheme_year(session, id_number, year_number)
    if scheme is None:
        raise InvalidData({"data": [f"规则：{year_number} 年度互助保障资格已不存在"]})
    already = _already_approved(session, id_number, year_number, case.id)
    computed = rules.compute_amount(Decimal(case.data["eligible_self_pay"]), scheme, already)
    result = {**data, "amount_computed": f"{computed.value:.2f}", "amount_explanation": computed.explanation}
    adjusted = Decimal(data["amount"]) if data.get("amount") is not None else None
    if adjusted is not None and adjusted != computed.value:
        faults = rules.adjusted_amount_faults(adjusted, computed, data.get("reason"), scheme, already)
        if faults:
            raise InvalidData(faults)
        result["approved_amount"] = f"{adjusted:.2f}"
        result["amount_explanation"] = f"{computed.explanation}；审核调整为 {adjusted:.2f}，理由：{data['reason']}"
    else:
        result["approved_amount"] = f"{computed.value:.2f}"
    result.pop("amount", None)
    return result


# ---- the one-time notice, for the counter, the status page and the documents ---------------------------------

def missing_items(definition: Definition, data: dict[str, Any]) -> list[dict[str, str]]:
    return rules.missing_items(definition.config, data)


def notice_text(definition: Definition, missing: list[dict[str, str]], number: str | None = None,
                due: datetime | None = None) -> str:
    return rules.notice_text(definition, missing, number, due)


# ---- report ------------------------------------------------------------------------------------------

def report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """Counts and amounts from the report summary (by unit); from the cases, a grouped query each: the amount
    claimed (inside the data), the claims per counter and those accepted at the first visit, the working days
    from acceptance to payment."""
    rows = tallies(session, scope, by_unit=True)
    result = common_figures(session, scope, rows)
    by_type: dict[str, int] = {kind: 0 for kind in CLAIM_TYPES}
    for row in rows:
        by_type[row.category or "other"] = by_type.get(row.category or "other", 0) + row.n
    approved = sum((row.amount for row in rows if row.state in ("approved", "paid")), Decimal("0"))
    paid = sum((row.amount for row in rows if row.state == "paid"), Decimal("0"))
    per_counter, at_first = _per_counter(session, scope)
    codes = dict(session.execute(sa.select(OrgUnit.id, OrgUnit.code).where(
        OrgUnit.id.in_(sorted({row.org_unit_id for row in rows if row.org_unit_id is not None})))).all())
    per_unit: dict[str, int] = {}
    for row in rows:
        if row.org_unit_id is not None:
            code = codes[row.org_unit_id]
            per_unit[code] = per_unit.get(code, 0) + row.n
    days = _days_to_payment(session, scope, context)
    total = count(rows)
    result.update({
        "by_type": by_type, "amount_claimed": money(_claimed(session, scope)), "amount_approved": money(approved),
        "amount_paid": money(paid), "accepted_at_first_visit": at_first,
        "first_visit_rate": rate(at_first, total),  # "最多跑一次": accepted at the first visit
        "avg_working_days_to_payment": round(sum(days) / len(days), 2) if days else None,
        "per_counter": per_counter, "per_unit": per_unit,
    })
    return result


def _claimed(session: Session, scope: ReportScope) -> Decimal:
    """The eligible self-pay the scope's claims ask for (summed in cents: exact on every database)."""
    cents = sa.cast(sa.func.round(sa.cast(Case.data["eligible_self_pay"].as_string(), sa.Numeric(14, 2)) * 100),
                    sa.BigInteger)
    total = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(cents), 0)).where(*scope.where()))
    return Decimal(int(total or 0)).scaleb(-2)


def _per_counter(session: Session, scope: ReportScope) -> tuple[dict[str, dict[str, Any]], int]:
    """Claims per clerk who took them, and how many were accepted at the first visit (the opening's state)."""
    first = aliased(CaseHistory)
    per_counter: dict[str, dict[str, Any]] = {}
    for clerk, claims, at_first in session.execute(
            sa.select(Case.created_by, sa.func.count(), sa.func.count(first.id).filter(first.to_state == "accepted"))
            .outerjoin(first, sa.and_(first.case_id == Case.id, first.seq == 1))
            .where(*scope.where()).group_by(Case.created_by)):
        per_counter[clerk] = {"claims": claims, "accepted_at_first_visit": at_first,
                              "first_visit_rate": rate(at_first, claims)}
    return per_counter, sum(counter["accepted_at_first_visit"] for counter in per_counter.values())


def _days_to_payment(session: Session, scope: ReportScope, context: Context) -> list[int]:
    """Working days from acceptance to payment of each paid claim."""
    return [working_days_between(context.calendar, accepted_at, closed_at) for accepted_at, closed_at in
            session.execute(sa.select(sa.func.min(CaseHistory.at), Case.closed_at)
                            .join(CaseHistory, sa.and_(CaseHistory.case_id == Case.id,
                                                       CaseHistory.to_state == "accepted"))
                            .where(*scope.where(), Case.state == "paid", Case.amount.is_not(None),
                                   Case.closed_at.is_not(None))
                            .group_by(Case.id, Case.closed_at)) if closed_at is not None]


# ---- members and the demo ------------------------------------------------------------------------------------

DEMO_MEMBERS = [("张三", "331081199805201237", "cd-e001"), ("李四", "332623198507080786", "dx-e001")]


def scheme_parameters(config: Any, **given: Any) -> dict[str, Any]:
    """A scheme year's parameters: those given, else the definition's ``member_defaults``; the claim window
    stays None (the definition's ``claim_window_days``) unless given."""
    defaults = config["member_defaults"]
    return {"deductible": Decimal(str(given.get("deductible") or defaults["deductible"])),
            "ratio": Decimal(str(given.get("ratio") or defaults["ratio"])),
            "annual_cap": Decimal(str(given.get("annual_cap") or defaults["annual_cap"])),
            "window_days": int(given["window_days"]) if given.get("window_days") else None,
            "paid": given.get("paid", True)}


def upsert_member(session: Session, name: str, id_number: str, employer: str | None,
                  years: dict[int, dict[str, Any]], now: datetime) -> Member:
    member = session.scalar(sa.select(Member).where(Member.id_number == id_number))
    if member is None:
        member = Member(id_number=id_number, created_at=now)
        session.add(member)
    member.name = name
    unit = session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == employer)) if employer else None
    member.employer_unit_id = unit
    session.flush()
    for year_number, parameters in years.items():
        year = session.scalar(sa.select(SchemeYear).where(SchemeYear.member_id == member.id,
                                                          SchemeYear.year == year_number))
        if year is None:
            year = SchemeYear(member_id=member.id, year=year_number)
            session.add(year)
        for name_, value in parameters.items():
            setattr(year, name_, value)
    session.flush()
    return member


def seed_members(context: Context) -> None:
    for name, id_number, employer in DEMO_MEMBERS:
        upsert_member(context.session, name, id_number, employer,
                      {year: scheme_parameters(context.config) for year in (2025, 2026)}, context.now)


plugin = Lifecycle(
    key=KEY,
    open_schema=ClaimSchema,
    event_schemas={"supplement": SupplementSchema, "request_documents": RequestDocumentsSchema,
                   "approve": ApproveSchema, "reject": ReasonSchema, "withdraw": ReasonSchema, "pay": PaySchema,
                   "escalate": EscalateSchema},
    report=report, before_open=before_open, initial_state=initial_state, after_open=after_open,
    prepare_event=prepare_event, counter=True, config_keys=("claim_window_days", "documents", "required_documents",
                                                              "member_defaults", "reexamination_days"),
    labels={
        "member": "申请人（会员）", "member.name": "姓名", "member.id_number": "身份证号", "employer": "工作单位",
        "claim_type": "报销类型", "hospital": "就诊医院", "admitted_on": "入院日期", "discharged_on": "出院日期",
        "total_cost": "医疗总费用（元）", "insurance_paid": "医保统筹支付（元）", "eligible_self_pay": "合规自付（元）",
        "invoices": "医疗费用发票", "invoices.number": "发票号", "invoices.amount": "发票金额（元）",
        "documents": "已交材料", "supplement:documents": "本次补交的材料", "bank_account": "银行账号", "note": "备注",
        "documents_required": "需补正的材料", "reason": "理由", "approve:amount": "核定金额（元）",
        "approve:reason": "调整核定金额的理由", "payment_ref": "拨付凭证号", "paid_on": "拨付日期",
        "scheme_year": "互助保障年度", "amount_computed": "测算金额（元）", "amount_explanation": "金额计算说明",
        "approved_amount": "核定金额（元）", "missing_documents": "尚缺材料", "counter_unit": "受理窗口",
    },
    figures=[("total", "申请", "count"), ("accepted_at_first_visit", "一次办结", "count"),
             ("first_visit_rate", "一次办结率", "rate"), ("amount_claimed", "申请金额（合规自付，元）", "money"),
             ("amount_approved", "核定金额（元）", "money"), ("amount_paid", "已拨付金额（元）", "money"),
             ("avg_working_days_to_payment", "平均拨付用时（工作日）", "days"), ("open", "在办", "count"),
             ("overdue", "超期", "count")],
    choices={"inpatient": "住院", "special_outpatient": "门诊特殊病种", "critical_illness": "重大疾病",
             "id_card": "身份证", "bank_card": "银行卡", "invoice": "医疗费用发票", "itemized_bill": "费用明细清单",
             "insurance_settlement": "医保结算单", "discharge_summary": "出院小结",
             "diagnosis_certificate": "疾病诊断证明书"},
    seed=seed_members,
)
