"""职工反映问题 (worker_report): where a report goes (routing) and how long a reporter may ask to reopen it.

The reopen window is the deadline of the state ``reopen`` leaves (``resolved``: 15 days in the definition, then
the report closes itself), counted from the resolution exactly as that deadline is counted, so that the status
page, the guard and the sweep that closes the report agree to the instant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from workflow.calendar import Due, WorkCalendar, count_period, last_day, written_date
from workflow.rules import Faults, period_text

if TYPE_CHECKING:
    from workflow.definitions import Definition, Period

REOPEN = "reopen"


# ---- routing ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Employer:
    """The employer a report names, as the roster knows it."""

    union_unit: str | None   # the code of its union, when it has one
    street: str | None       # the code of its street


def route(category: str, employer: Employer | None, named_street: str | None, *, early_warning: Collection[str],
          city: str, public_intake: bool, caller_level: str) -> str | None:
    """The unit that handles a report: the employer's union if it has one, else its street; an early warning
    (a category the definition lists in ``early_warning_categories``, e.g. wage arrears) goes to the street at
    once; an employer not on the roster goes to the street the report names, else to the city. None: the unit of
    the clerk who types the report in."""
    warning = category in early_warning
    if employer is not None:
        if not warning and employer.union_unit is not None:
            return employer.union_unit
        if employer.street:
            return employer.street
    if named_street is not None:
        return named_street
    if public_intake:
        return city
    return None if caller_level == "street" or not warning else city


# ---- the reopen window -------------------------------------------------------------------------------------

def reopen_window(definition: Definition, level: str) -> Period | None:
    """The period a resolved report may be reopened in: the deadline of the state ``reopen`` leaves."""
    event = definition.events.get(REOPEN)
    for source in event.sources if event is not None else ():
        deadline = definition.states[source].deadline
        period = deadline.period_for(level) if deadline is not None else None
        if period is not None:
            return period
    return None


def reopen_until(resolved_at: datetime, window: Period, calendar: WorkCalendar) -> Due:
    return count_period(calendar, window.unit, window.count, resolved_at)


def _instant(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def reopen_last_day(resolved_at: object, window: Period | None, calendar: WorkCalendar) -> date | None:
    """The last day on which the report may be reopened (None: no window, or not resolved)."""
    resolved = _instant(resolved_at)
    if resolved is None or window is None:
        return None
    return last_day(reopen_until(resolved, window, calendar).at)


def may_reopen(resolved_at: object, now: datetime, window: Period | None, calendar: WorkCalendar) -> bool:
    return not reopen_faults(resolved_at, now, window, calendar) and _instant(resolved_at) is not None


def reopen_faults(resolved_at: object, now: datetime, window: Period | None, calendar: WorkCalendar) -> Faults:
    """Refuses a reopen once the window after the resolution ``resolved_at`` (ISO text) has run out."""
    resolved = _instant(resolved_at)
    if resolved is None or window is None:
        return {}
    until = reopen_until(resolved, window, calendar)
    if now >= until.at:
        return {"reason": [f"办结已超过 {period_text(window)}（可要求重新办理至 {written_date(last_day(until.at))}），"
                           "不能再要求重新办理"]}
    return {}
