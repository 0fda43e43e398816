"""The lifecycles' rules (``workflow/rules/``) as pure functions: facts, ``now`` and the definition in, a decision
out; windows counted on the calendar as deadlines are. No app, no database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.plugins import bound_effects
from workflow.calendar import WorkCalendar, add_days
from workflow.definitions import Catalog, parse_text
from workflow.rules import medical_aid_claim as claims
from workflow.rules import worker_report as reports
from workflow.rules.union_formation import Screening
from workflow.rules.union_term import TermRules, status_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
CATALOG = Catalog.from_directory(DEFINITIONS, effects=bound_effects())
CALENDAR = WorkCalendar()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


# ---- medical_aid_claim ---------------------------------------------------------------------------------------

SCHEME = claims.SchemeYear(2026, Decimal("1000.00"), Decimal("0.50"), Decimal("30000.00"))


def eligibility(discharged: date, now: datetime, scheme: claims.SchemeYear | None = SCHEME,
                window: int = 180) -> dict[str, list[str]]:
    return claims.eligibility_faults(admitted_on=discharged, discharged_on=discharged, scheme=scheme,
                                     invoices_claimed=[], now=now, config={"claim_window_days": window},
                                     calendar=CALENDAR)


def test_the_claim_window_is_counted_as_a_deadline_and_a_rest_day_moves_its_end() -> None:
    # discharged on 1 September 2026: 30 days end on 1 October, a holiday, so the window runs to 8 October
    assert eligibility(date(2026, 9, 1), at(2026, 10, 8, 23, 59), window=30) == {}
    assert eligibility(date(2026, 9, 1), at(2026, 10, 9, 0, 0), window=30) == {
        "data.discharged_on": ["规则：须在出院后 30 天内申请，已超过申请期限"]}


def test_a_scheme_year_with_its_own_window_keeps_it() -> None:
    own = claims.SchemeYear(2026, Decimal("1000.00"), Decimal("0.50"), Decimal("30000.00"), window_days=60)
    assert claims.claim_window_days({"claim_window_days": 180}, own) == 60
    assert claims.claim_window_days({"claim_window_days": 180}, SCHEME) == 180


def test_every_eligibility_fault_is_named() -> None:
    faults = claims.eligibility_faults(
        admitted_on=date(2026, 12, 1), discharged_on=date(2026, 12, 2), scheme=None,
        invoices_claimed=[("33100001", "YL-2026-000001")], now=at(2026, 11, 24, 10),
        config={"claim_window_days": 180}, calendar=CALENDAR)
    assert faults == {"data.discharged_on": ["出院日期不能晚于今天"], "data.admitted_on": ["入院日期不能晚于今天"],
                      "data.member": ["规则：出院日期所在的 2026 年度未参加职工医疗互助保障（或未缴费）"],
                      "data.invoices": ["规则：发票 33100001 已在申请 YL-2026-000001 中报销"]}


def test_an_adjusted_amount_needs_a_reason_and_stays_within_the_cap() -> None:
    computed = claims.compute_amount(Decimal("5000.00"), SCHEME, Decimal("0"))
    assert claims.adjusted_amount_faults(Decimal("1800.00"), computed, None, SCHEME, Decimal("0")) == {
        "data.reason": ["调整核定金额须说明理由"]}
    assert claims.adjusted_amount_faults(Decimal("31000.00"), computed, "复核", SCHEME, Decimal("0")) == {
        "data.amount": ["调整后的金额超过年度剩余额度"]}
    assert claims.adjusted_amount_faults(Decimal("1800.00"), computed, "复核", SCHEME, Decimal("0")) == {}


def test_the_notice_states_the_period_of_the_supplement_deadline() -> None:
    shipped = CATALOG.get("medical_aid_claim")
    missing = [{"code": "bank_card", "label": "银行卡（本人一类账户）"}]
    assert "请在 30 日内（即 2026年12月24日前）" in claims.notice_text(
        shipped, missing, "YL-2026-000001", at(2026, 12, 25, 0, 0))
    text = (DEFINITIONS / "medical_aid_claim.v1.yaml").read_text(encoding="utf-8")
    changed = parse_text(text.replace("      period: {days: 30}\n      warn_before: {days: 5}",
                                      "      period: {working_days: 10}\n      warn_before: {days: 5}"), "copy")
    assert "请在 10 个工作日内" in claims.notice_text(changed, missing)
    assert claims.notice_text(shipped, []) == "材料齐全，已受理。"


# ---- worker_report ---------------------------------------------------------------------------------------------

ON_ROSTER = reports.Employer(union_unit="cd-e001", street="chengdong")


@pytest.mark.parametrize(("category", "employer", "named", "public", "level", "expected"), [
    ("overtime_pay", ON_ROSTER, None, True, "city", "cd-e001"),          # its union handles it
    ("wage_arrears", ON_ROSTER, None, True, "city", "chengdong"),        # an early warning: the street at once
    ("overtime_pay", reports.Employer(None, "daxi"), None, True, "city", "daxi"),   # no union: its street
    ("overtime_pay", None, "daxi", True, "city", "daxi"),                 # not on the roster: the street named
    ("overtime_pay", None, None, True, "city", "wenling"),                # nothing known: the city
    ("overtime_pay", None, None, False, "enterprise", None),             # typed in by a clerk: the clerk's unit
    ("wage_arrears", None, None, False, "enterprise", "wenling"),        # a warning nobody can place: the city
    ("wage_arrears", None, None, False, "street", None),                 # ... unless a street typed it in
])
def test_a_report_is_routed_by_its_employer_and_its_category(
        category: str, employer: reports.Employer | None, named: str | None, public: bool, level: str,
        expected: str | None) -> None:
    assert reports.route(category, employer, named, early_warning=("wage_arrears",), city="wenling",
                         public_intake=public, caller_level=level) == expected


def test_the_reopen_window_ends_when_the_resolved_deadline_does() -> None:
    definition = CATALOG.get("worker_report")
    window = reports.reopen_window(definition, "enterprise")
    resolved = at(2026, 9, 21, 16)
    deadline = add_days(CALENDAR, resolved, 15)   # what the timer of `resolved` is set to
    assert deadline.at == at(2026, 10, 9, 0, 0)   # 15 days end on 6 October, in the holiday: moved to the 8th
    just_before = at(2026, 10, 8, 23, 59)
    assert reports.may_reopen(resolved.isoformat(), just_before, window, CALENDAR)
    assert reports.reopen_last_day(resolved.isoformat(), window, CALENDAR) == date(2026, 10, 8)
    assert not reports.may_reopen(resolved.isoformat(), deadline.at, window, CALENDAR)
    assert reports.reopen_faults(resolved.isoformat(), deadline.at, window, CALENDAR) == {
        "reason": ["办结已超过 15 日（可要求重新办理至 2026年10月8日），不能再要求重新办理"]}


# ---- union_formation -------------------------------------------------------------------------------------------

def test_the_screening_reads_the_threshold_and_the_years_in_operation() -> None:
    shipped = Screening.of(CATALOG.get("union_formation").config)
    assert (shipped.threshold_staff, shipped.min_years_in_operation) == (25, 1)
    today = date(2025, 2, 28)
    assert shipped.founded_by(today) == date(2024, 2, 28)
    assert shipped.must_form_union(25, date(2024, 2, 28), today)
    assert not shipped.must_form_union(25, date(2024, 2, 29), today)      # not yet a year in operation
    assert not shipped.must_form_union(24, date(2004, 1, 1), today) and shipped.joint_candidate(24)
    stricter = Screening(100, 3)
    assert not stricter.must_form_union(80, date(2004, 1, 1), today) and stricter.joint_candidate(80)
    assert not stricter.must_form_union(150, date(2023, 1, 1), today)


# ---- union_term ------------------------------------------------------------------------------------------------

def test_the_term_its_end_and_its_reminder_come_from_the_config() -> None:
    rules = TermRules.of(CATALOG.get("union_term").config)
    assert rules.dates(date(2021, 6, 15), None, CALENDAR) == (5, date(2026, 6, 15), date(2025, 12, 15))
    assert rules.dates(date(2021, 5, 1), 3, CALENDAR) == (3, date(2024, 5, 6), date(2023, 11, 1))  # 1 May: moved
    other = TermRules(3, (3, 4, 5), 12, 5)
    assert other.dates(date(2021, 6, 15), None, CALENDAR) == (3, date(2024, 6, 17), date(2023, 6, 15))
    assert rules.term_years_fault(4) == "任期须为 3 或 5 年" and other.term_years_fault(4) is None
    assert rules.committee_faults(["甲", "乙", "乙"]) == ["委员名单有重复"]
    assert other.committee_faults(["甲", "乙", "丙"]) == ["委员会至少 5 人，报送 3 人"]


@pytest.mark.parametrize(("state", "today", "expected"), [
    ("in_term", date(2026, 1, 1), "in_term"), ("in_term", date(2026, 3, 2), "due"),
    ("due", date(2026, 9, 1), "due"), ("due", date(2026, 9, 2), "overdue"), ("elected", date(2027, 1, 1), "due"),
    ("overdue", date(2026, 1, 1), "overdue"), ("re_elected", date(2026, 1, 1), None),
])
def test_where_a_union_stands(state: str, today: date, expected: str | None) -> None:
    assert status_of(state, "2026-09-01", "2026-03-01", today) == expected
