"""劳动人事争议调解 (mediation_case): data schemas and the report of 调处结案率 and 调解成功率."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from api.fields import Money, flag, one_of, text, validate_id_number, validate_uscc
from api.lifecycles import Context, Lifecycle
from api.reports import ReportScope, Tally, common_figures, count, money, rate, tallies

DISPUTE_TYPES = ["wages", "overtime", "social_insurance", "injury", "termination", "other"]
CHANNELS = ["visit", "phone", "online", "referral"]
CONCLUDED = ("agreed", "closed", "failed", "withdrawn")


class ApplicantSchema(Schema):
    name = text(100, required=True)
    id_number = fields.String(validate=validate_id_number, allow_none=True)
    phone = fields.String(validate=validate.Regexp(r"^[0-9+\- ]{5,20}$", error="电话号码格式不正确"),
                          allow_none=True)


class RespondentSchema(Schema):
    name = text(200, required=True)
    uscc = fields.String(validate=validate_uscc, allow_none=True)


class MediationCaseSchema(Schema):
    applicants = fields.List(fields.Nested(ApplicantSchema), required=True,
                             validate=validate.Length(min=1, max=500, error="至少一名申请人"))
    respondent = fields.Nested(RespondentSchema, required=True)
    dispute_type = one_of(DISPUTE_TYPES, required=True)
    claims = text(5000, required=True)
    amount = Money(required=True)
    channel = one_of(CHANNELS, required=True)
    note = text(2000)


class AcceptSchema(Schema):
    mediator = text(100, required=True)


class ReasonSchema(Schema):
    reason = text(2000, required=True)


class ExtendSchema(Schema):
    parties_consent = flag(required=True)
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))


class AgreementSchema(Schema):
    terms = text(5000, required=True)
    amount = Money(required=True)
    perform_by = fields.Date(required=True)


class AgreeSchema(Schema):
    agreement = fields.Nested(AgreementSchema, required=True)


class EscalateSchema(Schema):
    reason = text(2000, required=True)
    rule = fields.String(metadata={"internal": True})   # the deadline rule, set by the sweep, not typed

    @validates_schema
    def reason_is_written(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not str(data.get("reason", "")).strip():
            raise ValidationError("请填写上报理由", "reason")


def _figures(visitors: int, accepted: int, amount: Any, concluded: int, agreements: int) -> dict[str, Any]:
    return {"visitors": visitors, "accepted": accepted, "amount_involved": money(amount),
            "concluded": concluded, "agreements": agreements,
            "closure_rate": rate(concluded, accepted),      # 调处结案率 = 结案 ÷ 受理
            "success_rate": rate(agreements, concluded)}    # 调解成功率 = 达成协议 ÷ 调处结案


def report(session: Session, scope: ReportScope, context: Context) -> dict[str, Any]:
    """From the report summary: its groups by level and dispute type give the totals and both breakdowns."""
    rows = tallies(session, scope)
    result = common_figures(session, scope, rows)

    def total(keep: Any) -> dict[str, Any]:
        chosen = [row for row in rows if keep(row)]
        accepted = [row for row in chosen if row.reached("accept")]
        return _figures(count(chosen), count(accepted), sum((row.amount for row in chosen), Decimal("0")),
                        count(accepted, _concluded), count(chosen, lambda row: row.reached("agree")))

    result.update(total(lambda row: True))
    result["by_level"] = {level: total(lambda row, level=level: row.level == level)
                          for level in ("enterprise", "street", "city")}
    result["by_dispute_type"] = {kind: total(lambda row, kind=kind: row.category == kind) for kind in DISPUTE_TYPES}
    return result


def _concluded(row: Tally) -> bool:
    return row.state in CONCLUDED


LABELS = {
    "applicants": "申请人", "applicants.name": "姓名", "applicants.id_number": "身份证号",
    "applicants.phone": "联系电话", "respondent": "被申请人（用人单位）", "respondent.name": "单位名称",
    "respondent.uscc": "统一社会信用代码", "dispute_type": "争议类型", "claims": "请求事项",
    "amount": "涉案金额（元）", "channel": "来源渠道", "note": "备注", "mediator": "调解员", "reason": "理由",
    "reject:reason": "不予受理的理由", "fail:reason": "调解不成的原因", "withdraw:reason": "撤回的理由",
    "escalate:reason": "上报理由", "parties_consent": "双方当事人均同意延长", "days": "延长天数",
    "agreement": "调解协议", "agreement.terms": "协议内容", "agreement.amount": "协议金额（元）",
    "agreement.perform_by": "履行期限",
}
FIGURES = [
    ("visitors", "来访登记", "count"), ("accepted", "受理", "count"), ("amount_involved", "涉及金额（元）", "money"),
    ("concluded", "调处结案", "count"), ("agreements", "达成协议", "count"),
    ("closure_rate", "调处结案率", "rate"), ("success_rate", "调解成功率", "rate"),
    ("open", "在办", "count"), ("overdue", "超期", "count"), ("escalated", "上报上级", "count"),
]


CHOICES = {
    "wages": "拖欠工资", "overtime": "加班费", "social_insurance": "社会保险", "injury": "工伤待遇",
    "termination": "解除劳动合同", "other": "其他", "visit": "来访", "phone": "电话", "online": "网上",
    "referral": "转办",
}

plugin = Lifecycle(
    key="mediation_case",
    open_schema=MediationCaseSchema,
    event_schemas={"accept": AcceptSchema, "reject": ReasonSchema, "fail": ReasonSchema,
                   "withdraw": ReasonSchema, "extend": ExtendSchema, "agree": AgreeSchema,
                   "escalate": EscalateSchema},
    report=report,
    milestones=("accept", "agree"),
    labels=LABELS,
    choices=CHOICES,
    figures=FIGURES,
    trend=("closure_rate", "accepted"),
)
