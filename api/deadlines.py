"""Deadlines of cases: timer rows written when a case enters a state with a deadline, cancelled when it
leaves, paused while it waits in a state that stops the clock. ``api.sweep`` fires the timers that fall
due; ``workflow.calendar`` counts the periods.

Pausing: when a case enters a state marked ``pauses_clock`` (waiting for the applicant's documents), the
pending timers of the state it left are paused with the time they had left; the waiting state's own
deadline (e.g. 30 days to supplement, then ``lapse``) runs meanwhile. When the case goes back to the
paused state, its timers resume with the remaining time added to the moment of return; when it goes
anywhere else they are cancelled and the new state's deadline starts afresh.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, Timer
from api.writers import CaseRecord, CaseWriter
from workflow.calendar import (
    SHANGHAI,
    Due,
    WorkCalendar,
    count_period,
    last_day,
    months_later,
    subtract_working_days,
    written_date,
)
from workflow.definitions import DeadlineSpec, Definition, Period
from workflow.engine import Outcome

__all__ = ["SHANGHAI", "enter_state", "after_transition", "due_for", "count", "warning_for", "last_day",
           "written_date"]

# Every period is counted on the engine's calendar (``Engine.calendar``), whose loaded years
# ``api.calendar_store`` keeps in step with the table; the callers pass it in.


def count(period: Period, start: datetime, calendar: WorkCalendar) -> Due:
    return count_period(calendar, period.unit, period.count, start)


def _date_field(data: dict[str, Any] | None, dotted: str) -> date | None:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class CaseFacts(Protocol):
    """What counting a deadline reads of a case: a mapped case, a new case's record, or a plain row of ``cases``
    (whose data may be left unread, None, where no deadline counts from it)."""

    @property
    def level(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


def period_for(spec: DeadlineSpec, case: CaseFacts) -> Period | None:
    """The period of ``spec`` for the case's level (and category, where the definition says so)."""
    return spec.period_for(case.level, case.category)


def due_for(spec: DeadlineSpec, case: CaseFacts, start: datetime, calendar: WorkCalendar) -> Due | None:
    """When the case must leave its state, counted from ``start`` at the case's current level."""
    if spec.until_field:
        day = _date_field(case.data, spec.until_field)
        if day is None:
            return None
        return Due(datetime.combine(day + timedelta(days=1), time(), SHANGHAI), not calendar.knows(day.year))
    period = period_for(spec, case)
    return count(period, start, calendar) if period else None


def warning_for(spec: DeadlineSpec, due: datetime, calendar: WorkCalendar) -> datetime | None:
    if spec.warn_before is None:
        return None
    if spec.warn_before.unit == "working_days":
        return subtract_working_days(calendar, due, spec.warn_before.count)
    if spec.warn_before.unit == "months":
        local = due.astimezone(SHANGHAI)
        return datetime.combine(months_later(local.date(), -spec.warn_before.count), local.timetz())
    return due - timedelta(days=spec.warn_before.count)


def cancel_timers(writer: CaseWriter, case: CaseRecord, *, include_paused: bool = True) -> None:
    if case.id is None:
        return
    writer.cancel_timers(case.id, ("pending", "paused") if include_paused else ("pending",))


def start_clock(writer: CaseWriter, case: CaseRecord, spec: DeadlineSpec, start: datetime, now: datetime,
                calendar: WorkCalendar, due: Due | None = None, period: str | None = None) -> None:
    """Write the deadline timer of the case's current state, and show it (and its warning time) on the case.

    The warning ("due soon") needs no timer of its own: lists and worklists compare ``warn_at`` with now.
    """
    if due is None:
        due, period = due_for(spec, case, start, calendar), period_label(spec, case)
    case.due_at, case.warn_at, case.due_provisional = None, None, False
    if due is None:
        return
    warn = warning_for(spec, due.at, calendar)
    case.due_at, case.warn_at, case.due_provisional = due.at, warn, due.provisional
    writer.add(Timer, timer_row(case.id, case.state, spec, due, start, period, now))


def period_label(spec: DeadlineSpec, case: CaseFacts) -> str:
    """How a timer records the period it was counted with (``working_days:3``; ``until`` for a date field)."""
    chosen = None if spec.until_field else period_for(spec, case)
    return f"{chosen.unit}:{chosen.count}" if chosen else "until"


def timer_row(case_id: int, state: str, spec: DeadlineSpec, due: Due, start: datetime, period: str | None,
              now: datetime) -> dict[str, Any]:
    """The pending deadline timer of a case's state, due at ``due``, counted from ``start``."""
    return {"case_id": case_id, "state": state, "kind": "deadline", "action": spec.on_timeout, "due_at": due.at,
            "status": "pending", "provisional": due.provisional, "started_at": start, "period": period,
            "remaining_seconds": None, "created_at": now, "fired_at": None, "result": None}


def enter_state(writer: CaseWriter, case: CaseRecord, definition: Definition, now: datetime, calendar: WorkCalendar, *,
                opened: bool = False, restart: bool = False) -> None:
    """Start the clock of the case's current state (``since: case_opened`` counts from the opening)."""
    case.due_at, case.warn_at, case.due_provisional = None, None, False
    state = definition.states[case.state]
    if state.deadline is None or state.terminal:
        return
    start = now
    if not restart and state.deadline.since == "case_opened":
        start = case.created_at
    elif not restart and state.deadline.since.startswith("field:"):
        start = _instant_field(case.data, state.deadline.since.removeprefix("field:")) or now
    start_clock(writer, case, state.deadline, start, now, calendar)


def _instant_field(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def _pause(session: Session, case: Case, now: datetime) -> None:
    for timer in session.scalars(sa.select(Timer).where(Timer.case_id == case.id, Timer.status == "pending")):
        timer.status = "paused"
        timer.remaining_seconds = max(0, int((timer.due_at - now).total_seconds()))


def _resume(session: Session, case: Case, definition: Definition, now: datetime, calendar: WorkCalendar) -> bool:
    """Resume the paused timers of the case's current state; False when there are none."""
    paused = list(session.scalars(sa.select(Timer).where(
        Timer.case_id == case.id, Timer.status == "paused", Timer.state == case.state)))
    if not paused:
        return False
    for timer in paused:
        timer.status = "pending"
        timer.due_at = now + timedelta(seconds=timer.remaining_seconds or 0)
        timer.remaining_seconds = None
        case.due_at, case.due_provisional = timer.due_at, timer.provisional
        state = definition.states[case.state]
        case.warn_at = warning_for(state.deadline, timer.due_at, calendar) if state.deadline else None
    return True


def after_transition(writer: CaseWriter, case: Case, definition: Definition, outcome: Outcome,
                     now: datetime, calendar: WorkCalendar) -> None:
    """Leaving a state cancels its timers (or pauses them); entering one (or escalating) starts its clock."""
    session = writer.session   # paused timers are read and changed through it
    entering = definition.states[outcome.to_state]
    if outcome.escalated or outcome.action in ("assign", "take_over"):
        # a new owner: the state's deadline starts afresh at its level (or is the number of working days given)
        cancel_timers(writer, case)
        days = outcome.changes.get("due_in_working_days")
        if isinstance(days, int) and not isinstance(days, bool):
            spec = entering.deadline or DeadlineSpec(periods={}, on_timeout="remind")
            period = Period("working_days", days)
            start_clock(writer, case, spec, now, now, calendar, count(period, now, calendar),
                        period=f"working_days:{days}")
        else:
            enter_state(writer, case, definition, now, calendar, restart=True)
    elif outcome.from_state != outcome.to_state:
        if entering.pauses_clock:
            _pause(session, case, now)
            cancel_timers(writer, case, include_paused=False)
            enter_state(writer, case, definition, now, calendar)
            return
        cancel_timers(writer, case, include_paused=False)
        case.due_at, case.warn_at, case.due_provisional = None, None, False
        if not _resume(session, case, definition, now, calendar):
            cancel_timers(writer, case)
            enter_state(writer, case, definition, now, calendar)
    elif "restart_deadline" in outcome.effects:
        state = definition.states[case.state]
        if state.deadline is not None:
            cancel_timers(writer, case, include_paused=False)
            days = outcome.changes.get("days")
            if isinstance(days, int):
                start_clock(writer, case, state.deadline, now, now, calendar,
                            count(Period("days", days), now, calendar), period=f"days:{days}")
            else:
                start_clock(writer, case, state.deadline, now, now, calendar)
