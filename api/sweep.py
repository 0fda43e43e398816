"""The sweep: fire every timer due at an instant, each in its own short transaction, in due order.

A timer is claimed by the conditional update ``pending → fired`` in the same transaction that carries out
its action, so it fires exactly once: a sweeper killed mid-way rolls back the timer it was on (it is still
pending for the next sweep), and two sweepers cannot both claim one. On PostgreSQL candidates are read with
``FOR UPDATE SKIP LOCKED``, so any number of sweepers share the work without waiting on each other; on
SQLite the database's single writer does the same job for one process.

Actions: ``escalate`` moves the case to the parent unit (at city level it marks the case 督办 instead);
``remind`` records that the deadline passed and flags the case overdue; any other action is an event of
the definition, fired as the system (e.g. ``lapse``). Warnings need no timer: a case is ``due_soon``
between its ``warn_at`` and its ``due_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import calendar_store, services
from api.models import Case, Timer
from workflow.engine import Engine
from workflow.errors import WorkflowError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    timer_id: int
    case_id: int
    case_number: str
    action: str
    result: str
    due_at: datetime


def _next_due(session: Session, at: datetime, skip: set[int], batch: int) -> list[Timer]:
    """The oldest pending timers due at ``at``, locked for this transaction (skipping others' locks)."""
    query = (sa.select(Timer).where(Timer.status == "pending", Timer.due_at <= at)
             .order_by(Timer.due_at, Timer.id).limit(batch))
    if skip:
        query = query.where(Timer.id.not_in(skip))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _claim(session: Session, timer_id: int, at: datetime) -> bool:
    claimed = session.execute(sa.update(Timer).where(Timer.id == timer_id, Timer.status == "pending")
                              .values(status="fired", fired_at=at).execution_options(synchronize_session=False))
    return bool(claimed.rowcount)


def _rule(case: Case, timer: Timer) -> str:
    return f"{case.definition_key}.{timer.state}.deadline"


def fire_timer(session: Session, engine: Engine, timer: Timer, at: datetime) -> str:
    """Carry out one claimed timer's action; returns what happened, for the log and the timer row."""
    case = session.get(Case, timer.case_id)
    if case is None or case.closed or case.state != timer.state:
        return "stale: the case has left the state"
    definition = engine.catalog.get(case.definition_key, case.definition_version)
    label = definition.states[case.state].label
    if timer.action == "escalate":
        if case.org_unit.parent is None or case.level == "city":
            services.mark_overdue(session, case, at, rule=_rule(case, timer),
                                  comment=f"“{label}”已超过期限，市总工会督办")
            return "supervised: overdue at city level (督办)"
        services.fire_event(session, engine, None, case, services.FireRequest(
            event="escalate", data={"reason": f"“{label}”超过期限未办理，自动上报", "rule": _rule(case, timer)},
            comment=f"期限届满（{_rule(case, timer)}），自动上报上级"), at)
        return f"escalated to {case.org_unit.code}"
    if timer.action == "remind":
        services.mark_overdue(session, case, at, rule=_rule(case, timer), event="remind",
                              comment=f"“{label}”期限已到，请承办人跟进")
        return "reminded: overdue"
    services.fire_event(session, engine, None, case, services.FireRequest(
        event=timer.action, data={}, comment=f"期限届满（{_rule(case, timer)}）"), at)
    return f"fired {timer.action}"


def sweep_due(session_factory: Callable[[], Session], engine: Engine, at: datetime, *,
              limit: int | None = None, batch: int = 100,
              on_fired: Callable[[Fired], None] | None = None) -> list[Fired]:
    """Fire every timer due at ``at`` (or the ``limit`` oldest), oldest first; returns what fired.

    Timers are taken ``batch`` at a time in one short transaction, each fired inside its own savepoint: a
    timer whose action fails (the case changed under it) is rolled back alone, stays pending for the next
    sweep, and this sweep passes over it. A sweeper that dies loses nothing: its open batch rolls back.
    """
    with session_factory() as session:
        calendar_store.refresh(session)
        calendar_store.recount_provisional(session)
        session.commit()
    fired: list[Fired] = []
    passed_over: set[int] = set()
    while limit is None or len(fired) < limit:
        size = batch if limit is None else min(batch, limit - len(fired))
        with session_factory() as session:
            timers = _next_due(session, at, passed_over, size)
            if not timers:
                break
            locked = session.get_bind().dialect.name == "postgresql"
            # the cases of the batch in one query (with their units), so that firing finds them in the session
            list(session.scalars(sa.select(Case).where(Case.id.in_({timer.case_id for timer in timers}))))
            done: list[Fired] = []
            for timer in timers:
                outcome = _fire_in_savepoint(session, engine, timer, at, locked)
                if outcome is None:
                    passed_over.add(timer.id)
                else:
                    done.append(outcome)
            session.commit()
        fired.extend(done)
        for item in done:
            if on_fired is not None:
                on_fired(item)
    return fired


def _fire_in_savepoint(session: Session, engine: Engine, timer: Timer, at: datetime, locked: bool) -> Fired | None:
    """Claim and fire one timer. Rows read ``FOR UPDATE`` are ours already; elsewhere the conditional update
    ``pending → fired`` is the claim."""
    timer_id, case_id, action, due_at = timer.id, timer.case_id, timer.action, timer.due_at
    try:
        with session.begin_nested():
            if not locked and not _claim(session, timer_id, at):
                return None
            result = fire_timer(session, engine, timer, at)
            timer.status, timer.fired_at, timer.result = "fired", at, result[:200]
            case = session.get(Case, case_id)
            return Fired(timer_id, case_id, case.number if case else "?", action, result, due_at)
    except (WorkflowError, sa.exc.SQLAlchemyError) as error:
        log.warning("timer %s not fired this time (%s); it stays pending", timer_id, type(error).__name__)
        return None
