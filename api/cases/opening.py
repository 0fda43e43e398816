"""Opening cases: one (``open_case``) or many of one definition with one insert per table (``open_many``).

Both write through a ``SetWriter`` (``api.writers``): a new case goes in first, holding its history hash and due
time, and the rows that point at it (first history row, deadline timer, involvement, notices, webhook messages)
after it, so the case is inserted once and never updated for its own opening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api import deadlines, ownership, webhooks
from api.auth import Principal
from api.cases.data import denormalise, validate_data
from api.history import record_history
from api.lifecycles import Context, registry
from api.models import Case, OrgUnit
from api.numbering import new_ids, reserve_numbers
from api.writers import NewCase, SetWriter
from workflow.definitions import Definition
from workflow.engine import Engine
from workflow.errors import InvalidData, RoleNotPermitted, UnknownDefinition


@dataclass(frozen=True)
class OpenRequest:
    definition: str
    org_unit: str | None
    data: Any
    comment: str | None = None


def open_case(session: Session, engine: Engine, principal: Principal, request: OpenRequest,
              now: datetime) -> Case:
    try:
        definition = engine.catalog.get(request.definition)
    except UnknownDefinition as error:
        raise InvalidData({"definition": [error.detail]}) from error
    may_open(principal, definition)
    data = validate_data(definition, None, request.data, now)
    lifecycle = registry()[definition.key]
    hooks = Context(session, engine, definition, principal, now)
    unit_code = request.org_unit
    if lifecycle.before_open is not None:
        unit_code = lifecycle.before_open(hooks, data) or unit_code
    unit = _owning_unit(session, principal, unit_code, definition)
    initial = lifecycle.initial_state(hooks, data) if lifecycle.initial_state else definition.initial
    assert initial == definition.initial or initial in definition.alternative_initials, initial
    number = reserve_numbers(session, definition.number_prefix, now.astimezone(deadlines.SHANGHAI).year, 1)[0]
    # the id is taken before the insert, so that the first history row (whose hash covers it) is chained before
    # the case is written, and the case goes in holding its history hash (one insert, no update after it)
    case = Case(id=new_ids(session, 1)[0], number=number,
                definition_key=definition.key, definition_version=definition.version,
                state=initial, level=unit.level, org_unit=unit, org_unit_id=unit.id,
                org_path=unit.path, data=data, created_by=principal.username, created_at=now, updated_at=now)
    denormalise(case, definition)
    session.add(case)
    writer = SetWriter(session)
    with session.no_autoflush:
        deadlines.enter_state(writer, case, definition, now, engine.calendar, opened=True)
        record_history(writer, case, seq=1, event="open", from_state=None, level_from=None, org_from=None,
                       actor=principal.username, at=now, data=data, comment=request.comment)
        ownership.on_open(writer, definition, case, now, webhooks.enqueue)
    session.flush()    # the case first, holding its history hash,
    writer.write()     # then the rows that point at it
    if lifecycle.after_open is not None:
        lifecycle.after_open(hooks, case)
    session.flush()
    return case


@dataclass(frozen=True)
class Opened:
    id: int
    number: str


def open_many(session: Session, engine: Engine, principal: Principal, definition_key: str,
              requests: list[tuple[str, dict[str, Any]]], now: datetime, *, validated: bool = False) -> list[Opened]:
    """Open many cases of one definition at once — ``(org unit code, data)`` each — with one insert per table.

    The same checks as ``open_case`` (role, unit in scope and at a level that owns such cases, data valid per
    the schema), the same rows (case, first history row, deadline timer); the lifecycle's own ``before_open``
    and ``after_open`` are the caller's to do in bulk (the roster import does). All or nothing.
    ``validated`` says the caller built the data from fields it checked as strictly as the schema would (the
    roster import does): the schema is then not run a second time on each case.
    """
    if not requests:
        return []
    definition = engine.catalog.get(definition_key)
    may_open(principal, definition)
    units = {code: _owning_unit(session, principal, code, definition) for code in {code for code, _ in requests}}
    numbers = reserve_numbers(session, definition.number_prefix, now.astimezone(deadlines.SHANGHAI).year,
                              len(requests))
    ids = new_ids(session, len(requests))
    writer = SetWriter(session)
    opened: list[Opened] = []
    for case_id, number, (code, raw) in zip(ids, numbers, requests, strict=True):
        unit = units[code]
        data = raw if validated else validate_data(definition, None, raw, now)
        case = NewCase(id=case_id, number=number, definition_key=definition.key,
                       definition_version=definition.version, state=definition.initial, level=unit.level,
                       org_unit=unit, org_unit_id=unit.id, org_path=unit.path, data=data,
                       created_by=principal.username, created_at=now, updated_at=now)
        denormalise(case, definition)
        # the same deadline, first history row, involvement and notices as open_case
        deadlines.enter_state(writer, case, definition, now, engine.calendar, opened=True)
        record_history(writer, case, seq=1, event="open", from_state=None, level_from=None, org_from=None,
                       actor=principal.username, at=now, data=data, comment=None)
        ownership.on_open(writer, definition, case, now, webhooks.enqueue)
        writer.open(case)
        opened.append(Opened(case.id, case.number))
    writer.write()   # the cases, then the rows that point at them: one insert per table
    return opened


def may_open(principal: Principal, definition: Definition) -> None:
    if not principal.acting_roles & definition.open_roles:
        roles = ", ".join(sorted(definition.open_roles))
        raise RoleNotPermitted(f"开立“{definition.title}”案件需要以下角色之一：{roles}")


def _owning_unit(session: Session, principal: Principal, code: str | None, definition: Definition) -> OrgUnit:
    unit: OrgUnit | None = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == (code or principal.org_unit)))
    if unit is None or not principal.sees(unit.path):
        raise InvalidData({"org_unit": [f"未知或不在本单位范围内的组织：{code}"]})
    if unit.level not in definition.owner_levels:
        raise InvalidData({"org_unit": [f"“{definition.title}”案件不能由{unit.name}（{unit.level}）承办"]})
    return unit
