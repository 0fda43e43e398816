"""Use cases: plain functions over a SQLAlchemy session. Each does one whole change and flushes it; the
caller (a request, the sweep, the CLI) owns the transaction and commits once, so a request is all or nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api import deadlines, deferred, ownership, webhooks
from api.auth import Principal
from api.lifecycles import LIFECYCLES
from api.models import Case, CaseHistory, CaseSequence, OrgUnit
from api.problems import flatten
from workflow.definitions import Definition
from workflow.engine import CaseView, Engine, Outcome
from workflow.errors import CaseNotFound, InvalidData, RoleNotPermitted, StaleVersion, UnknownDefinition

SYSTEM = "system"

# Effects that need persistence, bound by name: (session, case, outcome, now) -> None.
EffectHandler = Callable[[Session, Case, Outcome, datetime], None]
EFFECT_HANDLERS: dict[str, EffectHandler] = {}


def bind_effect(name: str) -> Callable[[EffectHandler], EffectHandler]:
    def register(handler: EffectHandler) -> EffectHandler:
        EFFECT_HANDLERS[name] = handler
        return handler

    return register


def validate_data(definition_key: str, event: str | None, raw: Any) -> dict[str, Any]:
    """Validate with the lifecycle's schema; return JSON-ready data (Decimal → "1.00", date → ISO)."""
    schema = LIFECYCLES[definition_key].schema_for(event)
    if not isinstance(raw, dict):
        raise InvalidData({"data": ["须为 JSON 对象"]})
    try:
        loaded = schema.load(raw)
    except ValidationError as error:
        raise InvalidData(flatten(error.messages, "data"), detail="以下字段有误：" +
                          "、".join(sorted(flatten(error.messages, "data")))) from error
    dumped: dict[str, Any] = schema.dump(loaded)
    return dumped


def dig(data: dict[str, Any], dotted: str | None) -> Any:
    value: Any = data
    for part in (dotted or "").split("."):
        if not part or not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _denormalise(case: Case, definition: Definition) -> None:
    """Columns copied from the data so that lists, searches and reports use indexes, not JSON."""
    case.amount = _amount(dig(case.data, definition.amount_field))
    party = dig(case.data, definition.party_field)
    case.party = str(party)[:200] if party else None
    category = dig(case.data, definition.category_field)
    case.category = str(category)[:64] if category else None


def chain_hash(prev_hash: str | None, entry: dict[str, Any]) -> str:
    payload = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + payload).encode()).hexdigest()


def record_history(session: Session, case: Case, *, seq: int, event: str, from_state: str | None,
                   level_from: str | None, org_from: str | None, actor: str, at: datetime,
                   data: dict[str, Any], comment: str | None) -> CaseHistory | dict[str, Any]:
    """Add the case's next history row, chained to the last one (whose hash the case keeps).

    Inside ``deferred.deferring`` the row is handed to the batch as a dictionary, inserted with the others.
    """
    prev = None
    if seq > 1:
        prev = case.history_hash or session.scalar(
            sa.select(CaseHistory.hash).where(CaseHistory.case_id == case.id)
            .order_by(CaseHistory.seq.desc()).limit(1))
    values: dict[str, Any] = {
        "case_id": case.id, "seq": seq, "event": event, "from_state": from_state, "to_state": case.state,
        "level_from": level_from, "level_to": case.level, "org_from": org_from, "org_to": case.org_unit.code,
        "actor": actor, "at": at, "data": data, "comment": comment, "prev_hash": prev}
    values["hash"] = chain_hash(prev, payload_of(values))
    case.history_hash = values["hash"]
    batch = deferred.rows(session)
    if batch is not None:
        batch.append((CaseHistory.__table__, values))
        return values
    row = CaseHistory(**values)
    session.add(row)
    return row


_PAYLOAD_FIELDS = ("case_id", "seq", "event", "from_state", "to_state", "level_from", "level_to", "org_from",
                   "org_to", "actor", "at", "data", "comment")


def payload_of(values: dict[str, Any]) -> dict[str, Any]:
    """The fields a history row's hash covers (the instant in UTC)."""
    payload = {name: values[name] for name in _PAYLOAD_FIELDS}
    payload["at"] = values["at"].astimezone(UTC).isoformat()
    return payload


def history_payload(row: CaseHistory) -> dict[str, Any]:
    return payload_of({name: getattr(row, name) for name in _PAYLOAD_FIELDS})


def view_of(case: Case) -> CaseView:
    return CaseView(case.definition_key, case.definition_version, case.state, case.level, case.data)


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
    data = validate_data(definition.key, None, request.data)
    lifecycle = LIFECYCLES[definition.key]
    unit_code = request.org_unit
    if lifecycle.before_open is not None:
        unit_code = lifecycle.before_open(session, principal, data) or unit_code
    unit = _owning_unit(session, principal, unit_code, definition)
    initial = lifecycle.initial_state(data) if lifecycle.initial_state else definition.initial
    assert initial == definition.initial or initial in definition.alternative_initials, initial
    number = reserve_numbers(session, definition.number_prefix, now.astimezone(deadlines.SHANGHAI).year, 1)[0]
    # the id is taken before the insert, so that the first history row (whose hash covers it) is chained before
    # the case is written, and the case goes in holding its history hash (one insert, no update after it)
    case = Case(id=_new_ids(session, 1)[0], number=number,
                definition_key=definition.key, definition_version=definition.version,
                state=initial, level=unit.level, org_unit=unit, org_unit_id=unit.id,
                org_path=unit.path, data=data, created_by=principal.username, created_at=now, updated_at=now)
    _denormalise(case, definition)
    session.add(case)
    with session.no_autoflush, deferred.deferring(session) as rows:
        deadlines.enter_state(session, case, definition, now, opened=True)
        record_history(session, case, seq=1, event="open", from_state=None, level_from=None, org_from=None,
                       actor=principal.username, at=now, data=data, comment=request.comment)
        ownership.on_open(session, definition, case, now, webhooks.enqueue)
    session.flush()                   # the case first, holding its history hash,
    deferred.insert(session, rows)    # then the rows that point at it
    if lifecycle.after_open is not None:
        lifecycle.after_open(session, case, now)
    session.flush()
    return case


def reserve_numbers(session: Session, prefix: str, year: int, count: int) -> list[str]:
    """A block of ``count`` consecutive receipt numbers, taken with one row update."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(CaseSequence).values(prefix=prefix, year=year, value=0).on_conflict_do_nothing())
    last = session.execute(
        sa.update(CaseSequence).where(CaseSequence.prefix == prefix, CaseSequence.year == year)
        .values(value=CaseSequence.value + count).returning(CaseSequence.value)).scalar_one()
    return [f"{prefix}-{year}-{value:06d}" for value in range(last - count + 1, last + 1)]


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
    ids = _new_ids(session, len(requests))
    cases: list[SimpleNamespace] = []
    with deferred.deferring(session) as rows:
        for case_id, number, (code, raw) in zip(ids, numbers, requests, strict=True):
            unit = units[code]
            data = raw if validated else validate_data(definition.key, None, raw)
            # a plain record with the case's columns (not a mapped object: it never goes through the session)
            case = SimpleNamespace(
                id=case_id, number=number, definition_key=definition.key, definition_version=definition.version,
                state=definition.initial, level=unit.level, org_unit=unit, org_unit_id=unit.id, org_path=unit.path,
                data=data, amount=None, party=None, category=None, closed=False, due_at=None, warn_at=None,
                due_provisional=False, overdue=False, escalations=0, created_by=principal.username, created_at=now,
                updated_at=now, closed_at=None, version=1, history_hash=None)
            _denormalise(case, definition)  # type: ignore[arg-type]
            # the same deadline and first history row as open_case, collected rather than added to the session
            deadlines.enter_state(session, case, definition, now, opened=True)  # type: ignore[arg-type]
            record_history(session, case, seq=1, event="open", from_state=None,  # type: ignore[arg-type]
                           level_from=None, org_from=None, actor=principal.username, at=now, data=data, comment=None)
            ownership.on_open(session, definition, case, now, webhooks.enqueue)
            cases.append(case)
    columns = [column.key for column in Case.__table__.columns]
    session.connection().execute(sa.insert(Case.__table__),
                                 [{name: getattr(case, name) for name in columns} for case in cases])
    deferred.insert(session, rows)   # history rows and timers, after the cases they belong to
    return [Opened(case.id, case.number) for case in cases]


def _new_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new cases, taken before they are inserted (so they go in with one executemany): from the
    sequence on PostgreSQL; on SQLite after the highest, the database's write lock (held since the numbers were
    reserved) keeping other writers out until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(sa.text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                            "FROM generate_series(1, :count)"), {"count": count}))
    highest = session.scalar(sa.select(sa.func.max(Case.id))) or 0
    return list(range(highest + 1, highest + count + 1))


def may_open(principal: Principal, definition: Definition) -> None:
    if not principal.acting_roles & definition.open_roles:
        roles = ", ".join(sorted(definition.open_roles))
        raise RoleNotPermitted(f"开立“{definition.title}”案件需要以下角色之一：{roles}")


def _owning_unit(session: Session, principal: Principal, code: str | None, definition: Definition) -> OrgUnit:
    unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == (code or principal.org_unit)))
    if unit is None or not principal.sees(unit.path):
        raise InvalidData({"org_unit": [f"未知或不在本单位范围内的组织：{code}"]})
    if unit.level not in definition.owner_levels:
        raise InvalidData({"org_unit": [f"“{definition.title}”案件不能由{unit.name}（{unit.level}）承办"]})
    return unit


MAX_ID = 2**31 - 1   # ids are 32-bit integers on PostgreSQL


def get_case(session: Session, principal: Principal | None, case_id: int) -> Case:
    case = session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
    if case is None or (principal is not None and not principal.sees(case.org_path)):
        raise CaseNotFound(f"案件 {case_id} 不存在", case_id=case_id)
    return case


@dataclass(frozen=True)
class FireRequest:
    event: str
    data: Any
    comment: str | None = None
    expected_version: int | None = None


def fire_event(session: Session, engine: Engine, principal: Principal | None, case: Case,
               request: FireRequest, now: datetime, *, actor: str | None = None,
               roles: Iterable[str] | None = None) -> Outcome:
    """Fire one event on a case: validate, run the engine, store the new state, history and timers.

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
        data = validate_data(definition.key, request.event, request.data)
        prepare = LIFECYCLES[definition.key].prepare_event
        if prepare is not None:
            data = prepare(session, case, request.event, data, now)
        if principal is not None and event.supervises:
            data = ownership.prepare_move(session, principal, case, definition, event, data)
    outcome = engine.fire(view, request.event, roles=held, data=data if isinstance(data, dict) else {},
                          actor=who, now=now, comment=request.comment)
    apply_outcome(session, engine, case, outcome, now)
    return outcome


def apply_outcome(session: Session, engine: Engine, case: Case, outcome: Outcome, now: datetime) -> None:
    """Store an outcome: the case's new state, its timers, bound effects, then one history row.

    Everything is changed before one flush, so the case is written once and its version moves by one;
    a concurrent writer makes that flush fail (StaleDataError) or the history insert collide on (case, seq).
    """
    definition = engine.definition(view_of(case))
    org_from, case_id = case.org_unit.code, case.id
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
        _denormalise(case, definition)
        deadlines.after_transition(session, case, definition, outcome, now)
        for name in outcome.effects:
            handler = EFFECT_HANDLERS.get(name)
            if handler is not None:
                handler(session, case, outcome, now)
        # the flush moves the version by one; the history row carries the new version as its sequence number
        record_history(session, case, seq=case.version + 1, event=outcome.event, from_state=outcome.from_state,
                       level_from=outcome.level_from, org_from=org_from, actor=outcome.actor, at=now,
                       data=outcome.changes, comment=outcome.comment)
        ownership.after_outcome(session, definition, case, outcome, now, target is not None, case.version + 1,
                                webhooks.enqueue)
    if deferred.rows(session) is None:   # a set-wise batch writes its cases itself
        flush_case(session, case_id)


def flush_case(session: Session, case_id: int | None) -> None:
    try:
        session.flush()
    except (StaleDataError, sa.exc.IntegrityError) as error:
        raise StaleVersion("案件刚被他人修改，请刷新后重试", case_id=case_id) from error


def mark_overdue(session: Session, case: Case, now: datetime, *, rule: str, event: str = "supervise",
                 comment: str | None = None, definition: Definition | None = None) -> None:
    """A deadline passed where the case cannot move up: flag it overdue (督办) and record it as the system;
    with the ``definition``, the users who can act on it (and its unit's administrators) are told."""
    case.overdue = True
    case.updated_at = now
    record_history(session, case, seq=case.version + 1, event=event, from_state=case.state,
                   level_from=case.level, org_from=case.org_unit.code, actor=SYSTEM, at=now,
                   data={"rule": rule}, comment=comment)
    if definition is not None:
        ownership.on_overdue(session, definition, case, now, case.version + 1, webhooks.enqueue)
    if deferred.rows(session) is None:   # a set-wise batch writes its cases itself
        flush_case(session, case.id)


def history(session: Session, case: Case) -> list[CaseHistory]:
    return list(session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case.id)
                                .order_by(CaseHistory.seq)))


_ACTIONABLE: dict[tuple[int, int, frozenset[str]], dict[tuple[str, int], list[str]]] = {}


def actionable_states(engine: Engine, roles: frozenset[str]) -> dict[tuple[str, int], list[str]]:
    """For each definition version, the states in which a holder of ``roles`` can fire some event
    (worked out once per engine, catalog generation and set of roles: a deployed version starts a generation)."""
    cached = _ACTIONABLE.get((id(engine), engine.catalog.generation, roles))
    if cached is not None:
        return cached
    result: dict[tuple[str, int], list[str]] = {}
    for definition in engine.catalog.all():
        states = sorted({source for event in definition.events.values() if roles & event.roles
                         and event.works for source in event.sources})
        if states:
            result[(definition.key, definition.version)] = states
    _ACTIONABLE[(id(engine), engine.catalog.generation, roles)] = result
    return result


@dataclass(frozen=True)
class CaseQuery:
    definition: str | None = None
    state: str | None = None
    level: str | None = None
    org_unit: str | None = None
    overdue: bool | None = None
    q: str | None = None
    involved: bool | None = None   # the cases the caller's unit once owned (or owns)
    sort: str = "created_at"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class CasePage:
    items: list[Case]
    total: int
    exact: bool   # False when more cases match than were counted: ``total`` is then a lower bound


def list_cases(session: Session, principal: Principal, query: CaseQuery, now: datetime,
               count_limit: int = 1000) -> CasePage:
    """One page of the cases in scope matching the query. The matches are counted up to ``count_limit``
    only, so that the cost of a page does not grow with the table (a clerk pages through the first thousand;
    beyond that the answer is "more than 1000" and the filters are there to narrow it)."""
    scope_path = principal.org_path
    if query.org_unit:
        unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == query.org_unit))
        if unit is None or not principal.sees(unit.path):
            return CasePage([], 0, True)
        scope_path = unit.path
    where: list[Any] = [Case.org_path.startswith(scope_path, autoescape=True)]
    if query.involved:
        where = [Case.id.in_(ownership.involved_case_ids(principal.org_unit_id))]
        if query.org_unit:
            where.append(Case.org_path.startswith(scope_path, autoescape=True))
    if query.definition:
        where.append(Case.definition_key == query.definition)
    if query.state:
        where.append(Case.state == query.state)
    if query.level:
        where.append(Case.level == query.level)
    # On PostgreSQL the due-time order is walked on ix_cases_due_last, (due_at, or infinity when none; id), and
    # "not late" is a range of it: a case closed has no due time (ck_cases_closed_no_due), so a case is not late
    # exactly when it is not marked overdue and its due time, if any, is still ahead.
    due_last = (sa.func.coalesce(Case.due_at, sa.text("'infinity'::timestamptz"))
                if session.get_bind().dialect.name == "postgresql" else None)
    if query.overdue is not None:
        late = sa.or_(Case.overdue.is_(True), sa.and_(Case.closed.is_(False), Case.due_at <= now))
        if query.overdue:
            where.append(late)
        elif due_last is not None:
            where.extend([sa.not_(Case.overdue), due_last > now])
        else:
            where.append(sa.not_(late))
    if query.q:
        needle = query.q.strip()
        where.append(sa.or_(Case.number == needle, Case.party.contains(needle, autoescape=True)))
    matches = sa.select(sa.literal(1)).select_from(Case).where(*where).limit(count_limit + 1).subquery()
    total = session.scalar(sa.select(sa.func.count()).select_from(matches)) or 0
    by_due = [due_last, Case.id] if due_last is not None else [Case.due_at.asc().nulls_last(), Case.id]
    order = (by_due if query.sort == "due_at"
             else [Case.created_at.desc(), Case.id.desc()])
    items = list(session.scalars(sa.select(Case).where(*where).order_by(*order)
                                 .limit(query.per_page).offset((query.page - 1) * query.per_page)))
    if total > count_limit:
        return CasePage(items, max(count_limit, (query.page - 1) * query.per_page + len(items)), False)
    return CasePage(items, total, True)


def worklist(session: Session, engine: Engine, principal: Principal, limit: int, offset: int = 0) -> list[Case]:
    """Open cases in scope on which the caller can act now: overdue first, then by due time.

    Administrators also get every case marked overdue (督办) in their scope: supervising it is their job;
    street and city clerks get every early warning (a definition's ``early_warning_categories``).
    """
    states = actionable_states(engine, principal.acting_roles)
    clauses = [sa.and_(Case.definition_key == key, Case.definition_version == version, Case.state.in_(names))
               for (key, version), names in states.items()]
    if "admin" in principal.roles:
        clauses.append(Case.overdue.is_(True))
    if principal.level in ("street", "city") and principal.roles & {"clerk", "admin"}:
        for definition in engine.catalog.latest():
            if definition.early_warning_categories:
                clauses.append(sa.and_(Case.definition_key == definition.key,
                                       Case.category.in_(definition.early_warning_categories)))
    if not clauses:
        return []
    actionable = sa.or_(*clauses)
    return list(session.scalars(
        # "NOT closed" exactly as the partial index ix_cases_worklist says it, so that the planner can use it
        sa.select(Case).where(sa.not_(Case.closed), Case.org_path.startswith(principal.org_path, autoescape=True),
                              actionable)
        .order_by(Case.overdue.desc(), Case.due_at.asc().nulls_last(), Case.id).limit(limit).offset(offset)))
