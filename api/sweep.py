"""The sweep: fire every timer due at an instant, in due order, in short transactions of one batch each.

A timer is claimed by the conditional update ``pending → fired`` in the same transaction that carries out
its action, so it fires exactly once: a sweeper killed mid-way rolls back the timer it was on (it is still
pending for the next sweep), and two sweepers cannot both claim one. On PostgreSQL candidates are read with
``FOR UPDATE SKIP LOCKED``, so any number of sweepers share the work without waiting on each other; on
SQLite the database's single writer does the same job for one process.

Actions: ``escalate`` moves the case to the parent unit (at city level it marks the case 督办 instead);
``remind`` records that the deadline passed and flags the case overdue; any other action is an event of
the definition, fired as the system (e.g. ``lapse``). Warnings need no timer: a case is ``due_soon``
between its ``warn_at`` and its ``due_at``; each sweep writes the due-soon notices of the cases that entered
that span (``ownership.notify_due_soon``), and the actions write their own notices and webhook messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from api import calendar_store, ownership
from api.cases import FireRequest, fire_event, mark_overdue
from api.errors import described
from api.models import Case, OrgUnit, Timer
from api.writers import CaseWriter, RowWriter, SetWriter, affected_rows
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


_TIMERS = Timer.__table__
DueTimer = sa.Row   # a row of the timers table: id, case_id, state, action, due_at, ...


def _next_due(session: Session, at: datetime, skip: set[int], batch: int) -> list[DueTimer]:
    """The oldest pending timers due at ``at``, locked for this transaction (skipping others' locks)."""
    query = (sa.select(_TIMERS).where(_TIMERS.c.status == "pending", _TIMERS.c.due_at <= at)
             .order_by(_TIMERS.c.due_at, _TIMERS.c.id).limit(batch))
    if skip:
        query = query.where(_TIMERS.c.id.not_in(skip))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query))


def _claim(session: Session, timer_id: int, at: datetime) -> bool:
    claimed = session.execute(sa.update(_TIMERS).where(_TIMERS.c.id == timer_id, _TIMERS.c.status == "pending")
                              .values(status="fired", fired_at=at))
    return bool(affected_rows(claimed))


def _rule(case: Case, timer: DueTimer) -> str:
    return f"{case.definition_key}.{timer.state}.deadline"


def fire_timer(session: Session, engine: Engine, timer: DueTimer, at: datetime, writer: CaseWriter) -> str:
    """Carry out one claimed timer's action, writing through ``writer``; returns what happened, for the log and
    the timer row."""
    case = session.get(Case, timer.case_id)
    if case is None or case.closed or case.state != timer.state:
        return "stale: the case has left the state"
    definition = engine.catalog.get(case.definition_key, case.definition_version)
    label = definition.states[case.state].label
    if timer.action == "escalate":
        if case.org_unit.parent is None or case.level == "city":
            mark_overdue(writer, case, at, rule=_rule(case, timer),
                         comment=f"“{label}”已超过期限，市总工会督办", definition=definition)
            return "supervised: overdue at city level (督办)"
        fire_event(session, engine, None, case, FireRequest(
            event="escalate", data={"reason": f"“{label}”超过期限未办理，自动上报", "rule": _rule(case, timer)},
            comment=f"期限届满（{_rule(case, timer)}），自动上报上级"), at, writer=writer)
        return f"escalated to {case.org_unit.code}"
    if timer.action == "remind":
        mark_overdue(writer, case, at, rule=_rule(case, timer), event="remind",
                     comment=f"“{label}”期限已到，请承办人跟进", definition=definition)
        return "reminded: overdue"
    fire_event(session, engine, None, case, FireRequest(
        event=timer.action, data={}, comment=f"期限届满（{_rule(case, timer)}）"), at, writer=writer)
    return f"fired {timer.action}"


def sweep_due(session_factory: Callable[[], Session], engine: Engine, at: datetime, *,
              limit: int | None = None, batch: int = 1000, setwise: bool = True,
              on_fired: Callable[[Fired], None] | None = None) -> list[Fired]:
    """Fire every timer due at ``at`` (or the ``limit`` oldest), oldest first; returns what fired.

    Timers are taken ``batch`` at a time, and each batch is one short transaction. Escalations and reminders
    are worked out one by one in memory and written set-wise (one statement per table for the whole batch);
    if that fails (a clerk changed one of the cases meanwhile) the batch goes back to its savepoint and is
    fired timer by timer, each in a savepoint of its own: a timer whose action fails is rolled back alone,
    stays pending for the next sweep, and this sweep passes over it. A sweeper that dies loses nothing: its
    open batch rolls back, and its timers are pending again.
    """
    with session_factory() as session:
        calendar_store.refresh(session, engine.calendar)
        calendar_store.recount_provisional(session, engine)
        session.commit()
    with session_factory() as session:   # due-soon notices, once per case and deadline, set-wise
        ownership.notify_due_soon(session, engine, at)
        session.commit()
    fired: list[Fired] = []
    passed_over: set[int] = set()
    while limit is None or len(fired) < limit:
        size = batch if limit is None else min(batch, limit - len(fired))
        with session_factory() as session:
            timers = _next_due(session, at, passed_over, size)
            if not timers:
                break
            # the cases of the batch (with their units and parents) in one query, held while the batch runs
            cases = list(session.scalars(sa.select(Case).where(Case.id.in_({timer.case_id for timer in timers}))
                                 .options(joinedload(Case.org_unit).joinedload(OrgUnit.parent))))
            done = _fire_setwise(session, engine, timers, at) if setwise else []
            finished = {item.timer_id for item in done}
            for timer in timers:
                if timer.id in finished:
                    continue
                outcome = _fire_in_savepoint(session, engine, timer, at)
                if outcome is None:
                    passed_over.add(timer.id)
                else:
                    done.append(outcome)
            session.commit()
            del cases
        fired.extend(done)
        for item in done:
            if on_fired is not None:
                on_fired(item)
    return fired


SETWISE_ACTIONS = frozenset({"escalate", "remind"})


def _fire_setwise(session: Session, engine: Engine, timers: list[DueTimer], at: datetime) -> list[Fired]:
    """Fire the batch's escalations and reminders through one ``SetWriter`` (one write per table for the whole
    batch); [] when that cannot be done, leaving every timer to the one-by-one path (nothing of the attempt
    remains)."""
    chosen: list[DueTimer] = []
    seen: set[int] = set()
    for timer in timers:
        # one timer per case and batch: a second one of the same case waits for the next batch
        if timer.action in SETWISE_ACTIONS and timer.case_id not in seen:
            chosen.append(timer)
            seen.add(timer.case_id)
    if not chosen:
        return []
    writer = SetWriter(session)
    try:
        with session.begin_nested(), session.no_autoflush:
            results = [(timer, fire_timer(session, engine, timer, at, writer)) for timer in chosen]
            if session.new:
                raise _BatchConflict("an action of the batch added rows of its own")
            done = _claim_batch(session, results, at)
            writer.write()   # the cases (each still at the version read), cancelled timers, then the new rows
    except (WorkflowError, sa.exc.SQLAlchemyError) as error:
        log.info("set-wise batch of %s timers fell back to one by one (%s)", len(chosen), described(error))
        return []
    return done


class _BatchConflict(sa.exc.SQLAlchemyError):
    """A row of the batch changed under it: the batch is fired one by one instead."""


def _claim_batch(session: Session, results: list[tuple[DueTimer, str]], at: datetime) -> list[Fired]:
    """Claim the batch's timers (``pending → fired``) with one statement; all of them, or a conflict."""
    claim = (sa.update(_TIMERS).where(_TIMERS.c.id == sa.bindparam("t_id"), _TIMERS.c.status == "pending")
             .values(status="fired", fired_at=sa.bindparam("t_at", type_=_TIMERS.c.fired_at.type),
                     result=sa.bindparam("t_result")))
    claimed = session.connection().execute(claim, [{"t_id": timer.id, "t_at": at, "t_result": result[:200]}
                                                   for timer, result in results])
    if claimed.rowcount != len(results):
        raise _BatchConflict("a timer of the batch is no longer pending")
    cases = {timer.case_id: session.get(Case, timer.case_id) for timer, _ in results}
    return [Fired(timer.id, timer.case_id, getattr(cases[timer.case_id], "number", "?"), timer.action, result,
                  timer.due_at) for timer, result in results]


def fire_one(session: Session, engine: Engine, timer_id: int, at: datetime) -> Fired | None:
    """Fire one timer by id, on its own (what a design with one scheduler job per deadline does)."""
    query = sa.select(_TIMERS).where(_TIMERS.c.id == timer_id, _TIMERS.c.status == "pending")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    timer = session.execute(query).first()
    return _fire_in_savepoint(session, engine, timer, at) if timer is not None else None


def _fire_in_savepoint(session: Session, engine: Engine, timer: DueTimer, at: datetime) -> Fired | None:
    """Claim and fire one timer: the conditional update ``pending → fired`` is the claim (on PostgreSQL the
    row is locked by this transaction already, so it always succeeds)."""
    try:
        with session.begin_nested():
            if not _claim(session, timer.id, at):
                return None
            result = fire_timer(session, engine, timer, at, RowWriter(session))
            session.execute(sa.update(_TIMERS).where(_TIMERS.c.id == timer.id).values(result=result[:200]))
            case = session.get(Case, timer.case_id)
            return Fired(timer.id, timer.case_id, case.number if case else "?", timer.action, result, timer.due_at)
    except (WorkflowError, sa.exc.SQLAlchemyError) as error:
        log.warning("timer %s not fired this time (%s); it stays pending", timer.id, described(error))
        return None
