"""Loaded holiday schedules: stored in ``calendar_years``, kept in the engine's calendar (``Engine.calendar``).

Every process refreshes its calendar from the table at start-up and at each sweep (and at most once a
minute on requests), so a year loaded through one process reaches all of them. Loading a year recounts
the provisional deadlines that reach into it; the sweep recounts any left over by another process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api.deadlines import count, warning_for
from api.extensions import current_session, db
from api.models import CalendarYear, Case, Timer
from workflow.calendar import Due, WorkCalendar, YearSchedule
from workflow.definitions import DeadlineSpec, Period
from workflow.engine import Engine

REFRESH_EVERY = timedelta(minutes=1)


def refresh(session: Session, calendar: WorkCalendar) -> None:
    """Make ``calendar`` hold exactly the years stored in the table."""
    stored = {row.year: row for row in session.scalars(sa.select(CalendarYear))}
    for year in list(calendar.loaded):
        if year not in stored:
            calendar.unload(year)
    for year, row in stored.items():
        schedule = YearSchedule(year, frozenset(date.fromisoformat(d) for d in row.holidays),
                                frozenset(date.fromisoformat(d) for d in row.workdays))
        if calendar.loaded.get(year) != schedule:
            calendar.load(schedule)


def refresh_if_stale(session: Session, now: datetime, calendar: WorkCalendar, last: list[datetime]) -> None:
    """Refresh when the last refresh (``last``, kept by the caller: one item or none) is a minute old."""
    if not last or now - last[0] >= REFRESH_EVERY or now < last[0]:
        refresh(session, calendar)
        last[:] = [now]


def store(session: Session, engine: Engine, schedule: YearSchedule, *, source: str | None, actor: str,
          now: datetime) -> int:
    """Save (or replace) a year's schedule, load it, and recount the provisional deadlines; returns how many.
    The administrators' log records it (before and after)."""
    from api import admin_log

    row = session.get(CalendarYear, schedule.year) or CalendarYear(year=schedule.year)
    before = {"holidays": row.holidays, "workdays": row.workdays, "source": row.source} if row.holidays else None
    row.holidays = sorted(day.isoformat() for day in schedule.holidays)
    row.workdays = sorted(day.isoformat() for day in schedule.workdays)
    row.source, row.loaded_by, row.loaded_at = source, actor, now
    session.add(row)
    session.flush()
    engine.calendar.load(schedule)
    recounted = recount_provisional(session, engine)
    admin_log.record(session, actor=actor, action="calendar.load", target=str(schedule.year), at=now, before=before,
                     after={"holidays": row.holidays, "workdays": row.workdays, "source": source,
                            "recounted": recounted})
    return recounted


def _period(text: str | None) -> Period | None:
    if not text or ":" not in text:
        return None
    unit, _, amount = text.partition(":")
    return Period(unit, int(amount))


@dataclass(frozen=True)
class Moved:
    """A deadline a schedule moves: the case, its old and its new due time."""

    case_id: int
    number: str
    old_due_at: datetime
    new_due_at: datetime


def preview(session: Session, engine: Engine, schedule: YearSchedule) -> list[Moved]:
    """The deadlines loading ``schedule`` would move (counted on a copy of the calendar; nothing is written)."""
    trial = WorkCalendar(dict(engine.calendar.loaded))
    trial.load(schedule)
    moved = []
    for timer, due in _recounts(session, trial):
        if due.at != timer.due_at:
            number = session.scalar(sa.select(Case.number).where(Case.id == timer.case_id)) or ""
            moved.append(Moved(timer.case_id, number, timer.due_at, due.at))
    return sorted(moved, key=lambda item: (item.old_due_at, item.number))


def _recounts(session: Session, calendar: WorkCalendar) -> Iterator[tuple[Timer, Due]]:
    """Each pending provisional deadline timer with its due time counted again on ``calendar``."""
    timers = session.scalars(sa.select(Timer).where(Timer.provisional.is_(True), Timer.kind == "deadline",
                                                    Timer.status == "pending").order_by(Timer.id))
    for timer in timers:
        period = _period(timer.period)
        if period is None or timer.started_at is None:
            continue
        yield timer, count(period, timer.started_at, calendar)


def recount_provisional(session: Session, engine: Engine) -> int:
    """Recount pending deadline timers counted across a year that has a schedule now."""
    calendar = engine.calendar
    recounted = 0
    for timer, due in list(_recounts(session, calendar)):
        if due.provisional and due.at == timer.due_at:
            continue
        timer.due_at, timer.provisional = due.at, due.provisional
        case = session.get(Case, timer.case_id)
        if case is not None:
            spec = _deadline_of(engine, case)
            warn_at = warning_for(spec, due.at, calendar) if spec else None
            # A recount is not a change of the case: no new version, no history row.
            session.execute(sa.update(Case).where(Case.id == case.id).values(
                due_at=due.at, warn_at=warn_at, due_provisional=due.provisional)
                .execution_options(synchronize_session=False))
        recounted += 1
    session.flush()
    return recounted


def _deadline_of(engine: Engine, case: Case) -> DeadlineSpec | None:
    return engine.catalog.get(case.definition_key, case.definition_version).states[case.state].deadline


def init_app(app: Flask) -> None:
    """Load the stored years at start-up (quietly skipped before the schema exists)."""
    with app.app_context():
        try:
            refresh(current_session(), app.extensions["gonghui.engine"].calendar)
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            db.session.rollback()
            db.session.remove()
