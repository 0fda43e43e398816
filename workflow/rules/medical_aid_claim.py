"""职工医疗互助报销 (medical_aid_claim): eligibility, the amount, the documents still missing and the one-time
notice (一次性告知) that lists them.

The claim window after discharge is the scheme year's own when it has one, else the definition's
``config.claim_window_days``; the supplement period the notice states is the ``awaiting_documents`` state's
deadline. Both are counted like every deadline (Civil Code days from the day after discharge, a last day that is
a rest day moved to the next working day).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from workflow.calendar import SHANGHAI, Due, WorkCalendar, add_days, last_day, written_date
from workflow.rules import Faults, period_text

if TYPE_CHECKING:
    from workflow.definitions import Definition

CENT = Decimal("0.01")
SUPPLEMENT_STATE = "awaiting_documents"


@dataclass(frozen=True)
class SchemeYear:
    """A member's paid year in the scheme, with the parameters its claims use."""

    year: int
    deductible: Decimal
    ratio: Decimal
    annual_cap: Decimal
    window_days: int | None = None   # this year's own claim window; None: the definition's


@dataclass(frozen=True)
class Amount:
    value: Decimal
    explanation: str


def compute_amount(eligible: Decimal, scheme: SchemeYear, already_approved: Decimal) -> Amount:
    """(eligible self-pay − deductible) × ratio, capped by what remains of the annual cap; half-up to cents."""
    base = max(eligible - scheme.deductible, Decimal("0"))
    share = (base * scheme.ratio).quantize(CENT, rounding=ROUND_HALF_UP)
    remaining = remaining_cap(scheme, already_approved)
    value = min(share, remaining)
    explanation = (f"（合规自付 {eligible:.2f} − 起付线 {scheme.deductible:.2f}）× 报销比例 {scheme.ratio * 100:.0f}% "
                   f"= {share:.2f}；年度封顶 {scheme.annual_cap:.2f}，本年度已核准 {already_approved:.2f}，"
                   f"剩余额度 {remaining:.2f}；核定 {value:.2f}")
    return Amount(value, explanation)


def remaining_cap(scheme: SchemeYear, already_approved: Decimal) -> Decimal:
    return max(scheme.annual_cap - already_approved, Decimal("0"))


def adjusted_amount_faults(adjusted: Decimal, computed: Amount, reason: str | None, scheme: SchemeYear,
                           already_approved: Decimal) -> Faults:
    """A reviewer who sets another amount than the computed one says why, and stays within the cap."""
    if adjusted == computed.value:
        return {}
    if not reason:
        return {"data.reason": ["调整核定金额须说明理由"]}
    if adjusted > remaining_cap(scheme, already_approved):
        return {"data.amount": ["调整后的金额超过年度剩余额度"]}
    return {}


def claim_window_days(config: Mapping[str, Any], scheme: SchemeYear) -> int:
    return scheme.window_days if scheme.window_days is not None else int(config["claim_window_days"])


def filing_deadline(discharged_on: date, days: int, calendar: WorkCalendar) -> Due:
    """The end of the claim window: ``days`` Civil Code days after the day of discharge."""
    return add_days(calendar, datetime.combine(discharged_on, time(12), SHANGHAI), days)


def eligibility_faults(*, admitted_on: date, discharged_on: date, scheme: SchemeYear | None,
                       invoices_claimed: Sequence[tuple[str, str]], now: datetime, config: Mapping[str, Any],
                       calendar: WorkCalendar) -> Faults:
    """Every rule a claim breaks, by field; empty when the member may claim. ``scheme`` is the paid scheme year
    of the discharge date's year (None when there is none); ``invoices_claimed`` the (invoice, earlier claim)
    pairs of the claim's invoices that were reimbursed before."""
    faults: Faults = {}
    today = now.astimezone(SHANGHAI).date()
    if discharged_on > today:
        faults["data.discharged_on"] = ["出院日期不能晚于今天"]
    if admitted_on > today:
        faults["data.admitted_on"] = ["入院日期不能晚于今天"]
    if scheme is None:
        faults["data.member"] = [f"规则：出院日期所在的 {discharged_on.year} 年度未参加职工医疗互助保障（或未缴费）"]
    else:
        days = claim_window_days(config, scheme)
        if now >= filing_deadline(discharged_on, days, calendar).at:
            faults["data.discharged_on"] = [f"规则：须在出院后 {days} 天内申请，已超过申请期限"]
    for number, claim in invoices_claimed:
        faults.setdefault("data.invoices", []).append(f"规则：发票 {number} 已在申请 {claim} 中报销")
    return faults


# ---- documents and the one-time notice --------------------------------------------------------------------

def missing_documents(config: Mapping[str, Any], claim_type: str | None, documents: Any) -> list[str]:
    """The document codes a claim of ``claim_type`` still lacks, in the checklist's order."""
    required = (config.get("required_documents") or {}).get(claim_type if isinstance(claim_type, str) else "", [])
    held = {code for code in documents if isinstance(code, str)} if isinstance(documents, list | tuple) else set()
    return [code for code in required if code not in held]


def missing_items(config: Mapping[str, Any], data: Mapping[str, Any]) -> list[dict[str, str]]:
    """What the claim still lacks, each with its label from the definition."""
    labels = config.get("documents") or {}
    return [{"code": code, "label": labels.get(code, code)}
            for code in missing_documents(config, data.get("claim_type"), data.get("documents"))]


def supplement_period(definition: Definition) -> str:
    """The supplement period as the definition's deadline states it (“30 日”, “10 个工作日”)."""
    deadline = definition.states[SUPPLEMENT_STATE].deadline if SUPPLEMENT_STATE in definition.states else None
    period = next(iter(deadline.periods.values())) if deadline is not None and deadline.periods else None
    return period_text(period) if period is not None else "规定期限"


def notice_text(definition: Definition, missing: Sequence[Mapping[str, str]], number: str | None = None,
                due: datetime | None = None) -> str:
    """The one-time notice (一次性告知): everything missing, the period the definition gives to supplement it
    and, once the claim is filed, the last day of that period (its deadline ``due``)."""
    if not missing:
        return "材料齐全，已受理。"
    items = "；".join(f"{index}. {item['label']}" for index, item in enumerate(missing, start=1))
    reference = f"申请编号 {number}，" if number else ""
    until = f"（即 {written_date(last_day(due))}前）" if due is not None else ""
    return (f"一次性告知：{reference}尚缺以下材料：{items}。请在 {supplement_period(definition)}内{until}"
            f"通过所在企业工会或线上补交，无需再到窗口；逾期未补正的，申请将终止。")


def initial_state(missing: Sequence[str]) -> str:
    """A complete submission is accepted at once (容缺受理 otherwise: it waits for the rest)."""
    return SUPPLEMENT_STATE if missing else "accepted"
