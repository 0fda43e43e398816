"""Loaded holiday schedules: stored in ``calendar_years``, kept in the process-wide ``deadlines.CALENDAR``.

Every process refreshes its calendar from the table at start-up and at each sweep (and at most once a
minute on requests), so a year loaded through one process reaches all of them. Loading a year recounts
the provisional deadlines that reach into it; the sweep recounts any left over by another process.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api.deadlines import CALENDAR, count, warning_for
from api.extensions import db
from api.models import CalendarYear, Case, Timer
from workflow.calendar import WorkCalendar, YearSchedule
from workflow.definitions import Period

REFRESH_EVERY = timedelta(minutes=1)
_last_refresh: dict[str, datetime] = {}


def refresh(session: Session, calendar: WorkCalendar = CALENDAR) -> None:
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


def refresh_if_stale(session: Session, now: datetime) -> None:
    last = _last_refresh.get("at")
    if last is None or now - last >= REFRESH_EVERY or now < last:
        refresh(session)
        _last_refresh["at"] = now


def store(session: Session, schedule: YearSchedule, *, source: str | None, actor: str, now: datetime) -> int:
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
    CALENDAR.load(schedule)
    recounted = recount_provisional(session)
    admin_log.record(session, actor=actor, action="calendar.load", target=str(schedule.year), at=now, before=before,
                     after={"holidays": row.holidays, "workdays": row.workdays, "source": source,
                            "recounted": recounted})
    return recounted


def _period(text: str | None) -> Period | None:
    if not text or ":" not in text:
        return None
    unit, _, amount = text.partition(":")
    return Period(unit, int(amount))


def recount_provisional(session: Session, calendar: WorkCalendar = CALENDAR) -> int:
    """Recount pending deadline timers counted across a year that has a schedule now."""
    recounted = 0
    timers = session.scalars(sa.select(Timer).where(Timer.provisional.is_(True), Timer.kind == "deadline",
                                                    Timer.status == "pending"))
    for timer in timers:
        period = _period(timer.period)
        if period is None or timer.started_at is None:
            continue
        due = count(period, timer.started_at, calendar)
        if due.provisional and due.at == timer.due_at:
            continue
        timer.due_at, timer.provisional = due.at, due.provisional
        case = session.get(Case, timer.case_id)
        if case is not None:
            spec = _deadline_of(case)
            warn_at = warning_for(spec, due.at, calendar) if spec else None
            # A recount is not a change of the case: no new version, no history row.
            session.execute(sa.update(Case).where(Case.id == case.id).values(
                due_at=due.at, warn_at=warn_at, due_provisional=due.provisional)
                .execution_options(synchronize_session=False))
        recounted += 1
    session.flush()
    return recounted


def _deadline_of(case: Case):  # type: ignore[no-untyped-def]
    from flask import current_app

    engine = current_app.extensions["gonghui.engine"]
    return engine.catalog.get(case.definition_key, case.definition_version).states[case.state].deadline


def init_app(app: Flask) -> None:
    """Load the stored years at start-up (quietly skipped before the schema exists)."""
    with app.app_context():
        try:
            refresh(db.session)
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            db.session.rollback()
            db.session.remove()
