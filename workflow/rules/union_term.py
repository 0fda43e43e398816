"""基层工会换届 (union_term): the dates of a union's term, where a union stands, and what an election report
must hold.

A committee serves ``config.allowed_term_years`` (3 or 5; ``default_term_years`` unless the union's rules say
otherwise). The term ends on the corresponding day ``term_years`` years after it began (民法典 arts. 201–203, a
last day that is a rest day moved to the next working day); the reminder falls
``config.reminder_months_before_end`` months before the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from workflow.calendar import SHANGHAI, WorkCalendar, add_months, months_later

CLOSED = ("re_elected", "dissolved")


@dataclass(frozen=True)
class TermRules:
    default_term_years: int
    allowed_term_years: tuple[int, ...]
    reminder_months_before_end: int
    min_committee: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> TermRules:
        return cls(int(config["default_term_years"]), tuple(int(years) for years in config["allowed_term_years"]),
                   int(config["reminder_months_before_end"]), int(config["min_committee"]))

    def term_years_fault(self, years: int) -> str | None:
        if years in self.allowed_term_years:
            return None
        return f"任期须为 {' 或 '.join(map(str, self.allowed_term_years))} 年"

    def committee_faults(self, committee: Sequence[str]) -> list[str]:
        faults = []
        if len(committee) < self.min_committee:
            faults.append(f"委员会至少 {self.min_committee} 人，报送 {len(committee)} 人")
        if len(set(committee)) != len(committee):
            faults.append("委员名单有重复")
        return faults

    def dates(self, term_start: date, years: int | None, calendar: WorkCalendar) -> tuple[int, date, date]:
        """The term's length, its last day and the day of the reminder before it."""
        years = years or self.default_term_years
        end = term_end(term_start, years, calendar)
        months = years * 12
        reminder = months_later(term_start, months - min(max(self.reminder_months_before_end, 0), months))
        return years, end, reminder


def term_end(term_start: date, years: int, calendar: WorkCalendar) -> date:
    """The last day of a term of ``years`` years that began on ``term_start``."""
    due = add_months(calendar, datetime.combine(term_start, time(12), SHANGHAI), years * 12)
    return (due.at - timedelta(days=1)).astimezone(SHANGHAI).date()


def status_of(state: str, term_end: str | None, reminder_on: str | None, today: date) -> str | None:
    """Where a union stands: in_term, due (a re-election is due or under way), overdue, or None when closed."""
    if state in CLOSED:
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


def not_in_future(day: date, today: date) -> str | None:
    return "日期不能晚于今天" if day > today else None
