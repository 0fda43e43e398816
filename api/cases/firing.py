"""Firing an event on a case and storing its outcome (state, owner, timers, effects, history) through the
``CaseWriter`` the caller passes: a request's ``RowWriter`` (the default) writes it with one flush; the sweep's
``SetWriter`` collects it with the rest of its batch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api import deadlines, ownership, webhooks
from api.auth import Principal
from api.cases.data import SYSTEM, denormalise, validate_data, view_of
from api.history import record_history
from api.lifecycles import Context, registry
from api.models import Case
from api.writers import CaseWriter, RowWriter
from workflow.definitions import Definition
from workflow.engine import Engine, Outcome
from workflow.errors import InvalidData, StaleVersion


@dataclass(frozen=True)
class FireRequest:
    event: str
    data: Any
    comment: str | None = None
    expected_version: int | None = None


def fire_event(session: Session, engine: Engine, principal: Principal | None, case: Case,
               request: FireRequest, now: datetime, *, actor: str | None = None,
               roles: Iterable[str] | None = None, writer: CaseWriter | None = None) -> Outcome:
    """Fire one event on a case: validate, run the engine, store the new state, history and timers through
    ``writer`` (by default row by row through the session, flushed once).

    ``principal`` None means the system (the sweep); it acts with the ``system`` role.
    """
    if request.expected_version is not None and request.expected_version != case.version:
        raise StaleVersion(f"案件已更新到第 {case.version} 版（请求基于第 {request.expected_version} 版）",
                           precondition=True, current_version=case.version)
    held = frozenset(roles or (principal.acting_roles if principal else {SYSTEM}))
    who = actor or (principal.username if principal else SYSTEM)
    view = view_of(case)
    definition = engine.definition(view)
    event = definition.events.get(request.event)
    data = request.data
    if event is not None and case.state in event.sources and held & event.roles:
        if principal is not None:
            ownership.check_supervision(principal, case, definition, event)
        data = validate_data(definition, request.event, request.data, now)
        prepare = registry()[definition.key].prepare_event
        if prepare is not None:
            data = prepare(Context(session, engine, definition, principal, now), case, request.event, data)
        if principal is not None and event.supervises:
            data = ownership.prepare_move(session, principal, case, definition, event, data)
    outcome = engine.fire(view, request.event, roles=held, data=data if isinstance(data, dict) else {},
                          actor=who, now=now, comment=request.comment)
    apply_outcome(session, engine, case, outcome, now, writer or RowWriter(session))
    return outcome


def apply_outcome(session: Session, engine: Engine, case: Case, outcome: Outcome, now: datetime,
                  writer: CaseWriter) -> None:
    """Store an outcome: the case's new state, its timers, bound effects, then one history row.

    Everything is changed before the case is handed to ``writer`` as changed, so it is written once and its
    version moves by one; a concurrent writer makes that write fail (``StaleVersion``).
    """
    definition = engine.definition(view_of(case))
    org_from = case.org_unit.code
    with session.no_autoflush:
        case.state = outcome.to_state
        case.data = outcome.data
        target = ownership.move_target(session, outcome)
        if outcome.escalated:
            target = case.org_unit.parent
            if target is None:  # the engine refuses escalation at city level
                raise InvalidData({"org_unit": ["承办单位没有上级单位，无法上报"]})
            case.escalations += 1
        if target is not None:
            case.org_unit, case.org_unit_id, case.org_path, case.level = target, target.id, target.path, target.level
            case.overdue = False
        case.closed = definition.states[case.state].terminal
        case.closed_at = now if case.closed else None
        case.updated_at = now
        denormalise(case, definition)
        plugins, hooks = registry(), Context(session, engine, definition, None, now)
        case.milestones = reached(plugins[definition.key].milestones, case.milestones, outcome.event)
        deadlines.after_transition(writer, case, definition, outcome, now, engine.calendar)
        for effect in [*filter(None, map(plugins.effect, outcome.effects)),
                       *plugins.reactions_to(definition.key, outcome.event)]:
            effect(hooks, case, outcome)
        # the flush moves the version by one; the history row carries the new version as its sequence number
        record_history(writer, case, seq=case.version + 1, event=outcome.event, from_state=outcome.from_state,
                       level_from=outcome.level_from, org_from=org_from, actor=outcome.actor, at=now,
                       data=outcome.changes, comment=outcome.comment)
        ownership.after_outcome(writer, definition, case, outcome, now, target is not None, case.version + 1,
                                webhooks.enqueue)
    writer.changed(case)


def reached(milestones: tuple[str, ...], held: str, event: str) -> str:
    """The milestones held (comma-separated) once ``event`` happened, in the lifecycle's declared order."""
    if event not in milestones:
        return held
    now_held = {*filter(None, (held or "").split(",")), event}
    return ",".join(name for name in milestones if name in now_held)


def mark_overdue(writer: CaseWriter, case: Case, now: datetime, *, rule: str, event: str = "supervise",
                 comment: str | None = None, definition: Definition | None = None) -> None:
    """A deadline passed where the case cannot move up: flag it overdue (督办) and record it as the system;
    with the ``definition``, the users who can act on it (and its unit's administrators) are told."""
    case.overdue = True
    case.updated_at = now
    record_history(writer, case, seq=case.version + 1, event=event, from_state=case.state,
                   level_from=case.level, org_from=case.org_unit.code, actor=SYSTEM, at=now,
                   data={"rule": rule}, comment=comment)
    if definition is not None:
        ownership.on_overdue(writer, definition, case, now, case.version + 1, webhooks.enqueue)
    writer.changed(case)
