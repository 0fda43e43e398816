"""Deadlines of cases: timer rows written when a case enters a state with a deadline, cancelled when it
leaves. The sweep that fires them lives in ``api.sweep``; the counting rules in ``workflow.calendar``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, Timer
from workflow.calendar import SHANGHAI, Due, WorkCalendar, add_days, add_working_days, subtract_working_days
from workflow.definitions import DeadlineSpec, Definition, Period
from workflow.engine import Outcome

__all__ = ["SHANGHAI", "CALENDAR", "enter_state", "after_transition", "due_for"]

# The process-wide working-day calendar; loaded years are added at start-up and when an admin loads one.
CALENDAR = WorkCalendar()


def count(period: Period, start: datetime, calendar: WorkCalendar = CALENDAR) -> Due:
    if period.unit == "working_days":
        return add_working_days(calendar, start, period.count)
    return add_days(calendar, start, period.count)


def _date_field(data: dict[str, Any], dotted: str) -> date | None:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def due_for(spec: DeadlineSpec, case: Case, start: datetime, calendar: WorkCalendar = CALENDAR) -> Due | None:
    """When the case must leave its state, counted from ``start`` at the case's current level."""
    if spec.until_field:
        day = _date_field(case.data, spec.until_field)
        if day is None:
            return None
        return Due(datetime.combine(day + timedelta(days=1), time(), SHANGHAI), not calendar.knows(day.year))
    period = spec.period_for(case.level)
    return count(period, start, calendar) if period else None


def warning_for(spec: DeadlineSpec, due: datetime, calendar: WorkCalendar = CALENDAR) -> datetime | None:
    if spec.warn_before is None:
        return None
    if spec.warn_before.unit == "working_days":
        return subtract_working_days(calendar, due, spec.warn_before.count)
    return due - timedelta(days=spec.warn_before.count)


def cancel_timers(session: Session, case: Case) -> None:
    if case.id is None:
        return
    session.execute(sa.update(Timer).where(Timer.case_id == case.id, Timer.status.in_(("pending", "paused")))
                    .values(status="cancelled"))


def start_clock(session: Session, case: Case, spec: DeadlineSpec, start: datetime, now: datetime,
                due: Due | None = None) -> None:
    """Write the deadline (and warning) timers of the case's current state, and show them on the case."""
    due = due or due_for(spec, case, start)
    case.due_at, case.warn_at, case.due_provisional = None, None, False
    if due is None:
        return
    warn = warning_for(spec, due.at)
    case.due_at, case.warn_at, case.due_provisional = due.at, warn, due.provisional
    session.add(Timer(case=case, state=case.state, kind="deadline", action=spec.on_timeout,
                      due_at=due.at, provisional=due.provisional, created_at=now))
    if warn is not None and warn > now:
        session.add(Timer(case=case, state=case.state, kind="warning", action="warn", due_at=warn,
                          provisional=due.provisional, created_at=now))


def enter_state(session: Session, case: Case, definition: Definition, now: datetime, *,
                opened: bool = False, restart: bool = False) -> None:
    cancel_timers(session, case)
    case.due_at, case.warn_at, case.due_provisional = None, None, False
    state = definition.states[case.state]
    if state.deadline is None or state.terminal:
        return
    start = case.created_at if state.deadline.since == "case_opened" and not restart else now
    start_clock(session, case, state.deadline, start, now)


def after_transition(session: Session, case: Case, definition: Definition, outcome: Outcome,
                     now: datetime) -> None:
    """Leaving a state cancels its timers; entering one (or escalating) starts its clock afresh."""
    if outcome.escalated:
        enter_state(session, case, definition, now, restart=True)
    elif outcome.from_state != outcome.to_state:
        enter_state(session, case, definition, now)
    elif "restart_deadline" in outcome.effects:
        state = definition.states[case.state]
        if state.deadline is not None:
            cancel_timers(session, case)
            days = outcome.changes.get("days")
            if isinstance(days, int):
                start_clock(session, case, state.deadline, now, now, count(Period("days", days), now))
            else:
                start_clock(session, case, state.deadline, now, now)
