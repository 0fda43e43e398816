"""Moving open cases from one version of their definition to a later one.

A plan names the two versions, where each state's cases go (``state_map``; a state the new version also has
keeps its name unless mapped) and whether deadlines are counted again under the new version. The plan is
checked against every open case before anything moves: a state without a place in the new version, or a case
whose data lacks what the new version asks of a case in its new state, refuses the whole plan (422, naming
them). The dry run lists each case with its old and new state and due time.

The real run moves the cases in batches, each batch one transaction and each case in a savepoint of its own:
state, version, deadline timers and one ``migrate`` history row (chained like every other) move together or
not at all. The case's optimistic lock is checked as for any event: a clerk who changed the case meanwhile
wins, and the case is planned again from what the clerk left (or reported, when it no longer fits the plan).
A run stopped half way (a crash) is finished by asking for the same migration again: the cases already moved
are at the new version and are not touched twice.

Deadlines are recounted with ``api.deadlines`` as on entering a state, from the moment the case's current
clock started (its pending timer's start), so that lengthening "3 working days" to 5 gives the same case 5
working days from the same start. A deadline set by hand (``extend``) stands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from api import admin_log, deadlines
from api.cases import denormalise, dig
from api.history import record_history
from api.models import Case, CaseHistory, OrgUnit, Timer
from api.models_definitions import DefinitionMigration
from workflow.calendar import WorkCalendar
from workflow.definitions import Definition
from workflow.engine import Engine
from workflow.errors import InvalidData, UnknownDefinition

BATCH = 500


@dataclass(frozen=True)
class Plan:
    key: str
    old: Definition
    new: Definition
    state_map: dict[str, str]          # as asked
    recount: bool
    calendar: WorkCalendar             # the engine's: deadlines are recounted on it

    def target(self, state: str) -> str | None:
        """Where a case in ``state`` goes: the mapped state, or the state of the same name, if open."""
        name = self.state_map.get(state, state)
        found = self.new.states.get(name)
        return name if found is not None and not found.terminal else None


@dataclass
class Move:
    case_id: int
    number: str
    org_unit: str
    old_state: str
    new_state: str
    old_due_at: datetime | None
    new_due_at: datetime | None
    old_state_label: str = ""
    new_state_label: str = ""
    org_unit_name: str = ""


@dataclass
class Result:
    plan: Plan
    moves: list[Move] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    migration_id: int | None = None
    resumed: bool = False


def make_plan(engine: Engine, key: str, body: dict[str, Any]) -> Plan:
    """Check the request itself (versions, keys, state names); every fault at once, 422."""
    faults: dict[str, list[str]] = {}
    other_key = body.get("definition")
    if other_key is not None and other_key != key:
        faults["definition"] = [f"不能把 {key} 的案件迁移到另一个流程 {other_key}"]
    versions = {definition.version: definition for definition in engine.catalog.versions(key)}
    if not versions:
        raise UnknownDefinition(f"没有名为 {key!r} 的流程定义", key=key)
    old, new = versions.get(body["from_version"]), versions.get(body["to_version"])
    if old is None:
        faults["from_version"] = [f"{key} 没有第 {body['from_version']} 版"]
    if new is None:
        faults["to_version"] = [f"{key} 没有第 {body['to_version']} 版"]
    elif old is not None and new.version <= old.version:
        faults["to_version"] = [f"只能迁移到更新的版本（第 {old.version} 版之后），不能迁移到第 {new.version} 版"]
    state_map = dict(body.get("state_map") or {})
    for source, target in state_map.items():
        if old is not None and source not in old.states:
            faults.setdefault(f"state_map.{source}", []).append(f"第 {old.version} 版没有状态 {source!r}")
        if new is not None and target not in new.states:
            faults.setdefault(f"state_map.{source}", []).append(f"第 {new.version} 版没有状态 {target!r}")
        elif new is not None and new.states[target].terminal:
            faults.setdefault(f"state_map.{source}", []).append(
                f"不能迁移到终结状态 {new.states[target].label}（{target}）：迁移不结案")
    if faults or old is None or new is None:
        raise InvalidData(faults, detail="迁移请求有误：" + "；".join(m for ms in faults.values() for m in ms))
    return Plan(key, old, new, state_map, bool(body.get("recount_deadlines", True)), engine.calendar)


def _entry_faults(definition: Definition, state: str, data: dict[str, Any]) -> list[str]:
    """What the case's data lacks for the new version to hold it in ``state``: the data some event leading
    there requires (a state a case starts in asks nothing), and a deadline's date field."""
    faults = []
    if state != definition.initial and state not in definition.alternative_initials:
        entering = [event for event in definition.events.values()
                    if state in (event.dest, event.otherwise) and set(event.sources) != {state}]
        missing = [[name for name in event.requires if dig(data, name) in (None, "", [], {})]
                   for event in entering]
        if entering and all(missing):
            fewest = min(missing, key=len)
            faults.append(f"缺少第 {definition.version} 版“{definition.states[state].label}”所需的数据："
                          + "、".join(fewest))
    deadline = definition.states[state].deadline
    if deadline is not None and deadline.until_field and dig(data, deadline.until_field) is None:
        faults.append(f"缺少期限所依据的日期 {deadline.until_field}")
    return faults


def _clock_of(session: Session, case_ids: list[int]) -> dict[int, Timer]:
    """The pending deadline timer of each case (the clock of its current state)."""
    timers = session.scalars(sa.select(Timer).where(Timer.case_id.in_(case_ids), Timer.status == "pending",
                                                    Timer.kind == "deadline").order_by(Timer.id))
    return {timer.case_id: timer for timer in timers}


def _set_by_hand(old: Definition, case: Case, timer: Timer) -> bool:
    """A deadline an event set with its own period (``extend``): it stands through a migration."""
    spec = old.states[case.state].deadline if case.state in old.states else None
    if spec is None or spec.until_field:
        return False
    period = deadlines.period_for(spec, case)
    return period is not None and timer.period != f"{period.unit}:{period.count}"


def _start_of(session: Session, plan: Plan, case: Case, target: str, timer: Timer | None) -> datetime:
    """When the clock of the case's state started, as the new version counts it: the pending timer's start
    while both versions count from the same moment, else as entering the state counts (from the opening, a
    time in the data, or the last entry into the state — an escalation restarts it)."""
    new_spec, old_spec = plan.new.states[target].deadline, plan.old.states[case.state].deadline
    since = new_spec.since if new_spec else "state_entered"
    if timer is not None and timer.started_at is not None and old_spec is not None and old_spec.since == since:
        return timer.started_at
    if since == "case_opened":
        return case.created_at
    if since.startswith("field:"):
        found = deadlines._instant_field(case.data, since.removeprefix("field:"))
        if found is not None:
            return found
    entered = session.scalar(sa.select(sa.func.max(CaseHistory.at)).where(
        CaseHistory.case_id == case.id, CaseHistory.to_state == case.state))
    return entered or case.updated_at


def _new_due(session: Session, plan: Plan, case: Case, target: str, timer: Timer | None) -> datetime | None:
    if not plan.recount or (timer is not None and _set_by_hand(plan.old, case, timer)):
        return case.due_at
    state = plan.new.states[target]
    if state.deadline is None:
        return None
    due = deadlines.due_for(state.deadline, case, _start_of(session, plan, case, target, timer), plan.calendar)
    return due.at if due else None


def _open_cases(session: Session, plan: Plan, after: int, limit: int) -> list[Case]:
    return list(session.scalars(
        sa.select(Case).where(Case.definition_key == plan.key, Case.definition_version == plan.old.version,
                              sa.not_(Case.closed), Case.id > after)
        .options(joinedload(Case.org_unit)).order_by(Case.id).limit(limit)))


def _batches(session: Session, plan: Plan, size: int) -> Iterator[list[Case]]:
    after = 0
    while True:
        cases = _open_cases(session, plan, after, size)
        if not cases:
            return
        yield cases
        after = cases[-1].id
        session.expunge_all()


def _move_of(plan: Plan, case: Case, target: str, new_due: datetime | None) -> Move:
    return Move(case.id, case.number, case.org_unit.code, case.state, target, case.due_at, new_due,
                plan.old.states[case.state].label if case.state in plan.old.states else case.state,
                plan.new.states[target].label, case.org_unit.name)


def dry_run(session: Session, plan: Plan, batch: int = BATCH) -> list[Move]:
    """Every open case the plan would move, with old and new state and due time; 422 naming every case or
    state the plan cannot take (nothing is written)."""
    moves: list[Move] = []
    unmapped: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    for cases in _batches(session, plan, batch):
        clocks = _clock_of(session, [case.id for case in cases])
        for case in cases:
            target = plan.target(case.state)
            if target is None:
                unmapped.setdefault(case.state, []).append(case.number)
                continue
            faults = _entry_faults(plan.new, target, case.data)
            if faults:
                refused[f"cases.{case.number}"] = faults
                continue
            moves.append(_move_of(plan, case, target, _new_due(session, plan, case, target, clocks.get(case.id))))
    _refuse(plan, unmapped, refused)
    return moves


def _refuse(plan: Plan, unmapped: dict[str, list[str]], refused: dict[str, list[str]]) -> None:
    if not unmapped and not refused:
        return
    errors = dict(refused)
    for state, numbers in sorted(unmapped.items()):
        label = plan.old.states[state].label if state in plan.old.states else state
        shown = "、".join(numbers[:20]) + (" 等" if len(numbers) > 20 else "")
        errors[f"state_map.{state}"] = [f"状态 {label}（{state}）在第 {plan.new.version} 版中没有对应的状态，"
                                        f"请在 state_map 中指定；涉及 {len(numbers)} 件在办案件：{shown}"]
    parts = []
    if unmapped:
        parts.append("没有对应新状态的状态：" + "、".join(sorted(unmapped)))
    if refused:
        parts.append(f"{len(refused)} 件案件的数据不符合第 {plan.new.version} 版的要求")
    raise InvalidData(errors, detail="无法迁移：" + "；".join(parts))


def _migrate_case(session: Session, plan: Plan, case: Case, timer: Timer | None, *,
                  actor: str, now: datetime, migration_id: int) -> Move:
    """Move one case: state, version, deadline, one history row; flushed (the optimistic lock) by the caller."""
    target = plan.target(case.state)
    assert target is not None
    old_state, old_level, org_from, old_due = case.state, case.level, case.org_unit.code, case.due_at
    new_due = _new_due(session, plan, case, target, timer)
    move = _move_of(plan, case, target, new_due)
    keep_clock = not plan.recount or (timer is not None and _set_by_hand(plan.old, case, timer))
    start = _start_of(session, plan, case, target, timer) if not keep_clock else None
    with session.no_autoflush:
        case.definition_version, case.state, case.updated_at = plan.new.version, target, now
        denormalise(case, plan.new)
        table = Timer.__table__
        renames = [(source, plan.target(source) or source) for source in plan.old.states]
        for source, renamed in renames:   # paused clocks of other states follow their state's new name
            if renamed != source:
                session.execute(sa.update(table).where(table.c.case_id == case.id, table.c.state == source,
                                                       table.c.status.in_(("pending", "paused")))
                                .values(state=renamed))
        if not keep_clock:
            deadlines.cancel_timers(session, case, include_paused=False)
            spec = plan.new.states[target].deadline
            case.due_at, case.warn_at, case.due_provisional = None, None, False
            if spec is not None and start is not None:
                deadlines.start_clock(session, case, spec, start, now, plan.calendar)
        record_history(
            session, case, seq=case.version + 1, event="migrate", from_state=old_state, level_from=old_level,
            org_from=org_from, actor=actor, at=now, comment=f"流程定义由第 {plan.old.version} 版迁移到第 "
            f"{plan.new.version} 版",
            data={"from_version": plan.old.version, "to_version": plan.new.version, "migration": migration_id,
                  "old_due_at": _shown(old_due), "new_due_at": _shown(case.due_at)})
    move.new_due_at = case.due_at
    return move


def _shown(moment: datetime | None) -> str | None:
    return moment.astimezone(deadlines.SHANGHAI).isoformat() if moment else None


def _start(session: Session, plan: Plan, actor: str, now: datetime) -> tuple[DefinitionMigration, bool]:
    """The migration's record: the unfinished one with the same plan (a run stopped by a crash), or a new one."""
    found = session.scalar(sa.select(DefinitionMigration).where(
        DefinitionMigration.key == plan.key, DefinitionMigration.from_version == plan.old.version,
        DefinitionMigration.to_version == plan.new.version, DefinitionMigration.status == "running")
        .order_by(DefinitionMigration.id.desc()).limit(1))
    if found is not None and found.state_map == plan.state_map and found.recount_deadlines == plan.recount:
        return found, True
    record = DefinitionMigration(key=plan.key, from_version=plan.old.version, to_version=plan.new.version,
                                 state_map=plan.state_map, recount_deadlines=plan.recount, status="running",
                                 moved=0, conflicts=[], requested_by=actor, started_at=now)
    session.add(record)
    session.flush()
    return record, False


BeforeWrite = Callable[[Case], None]   # called for each case of a batch between reading and writing it (tests)


def run(session_factory: Callable[[], Session], plan: Plan, *, actor: str, now: datetime,
        batch: int = BATCH, before_write: BeforeWrite | None = None) -> Result:
    """Check the plan against every open case (as the dry run), then move them batch by batch."""
    with session_factory() as session:
        dry_run(session, plan, batch)
        record, resumed = _start(session, plan, actor, now)
        result = Result(plan, migration_id=record.id, resumed=resumed)
        admin_log.record(session, actor=actor, action="definition.migrate",
                         target=f"{plan.key} v{plan.old.version}→v{plan.new.version}", at=now,
                         after={"migration": record.id, "state_map": plan.state_map, "recount": plan.recount,
                                "resumed": resumed})
        session.commit()
    after = 0
    while True:
        with session_factory() as session:
            cases = _open_cases(session, plan, after, batch)
            if not cases:
                break
            after = cases[-1].id
            clocks = _clock_of(session, [case.id for case in cases])
            for case in cases if before_write is not None else ():
                before_write(case)
            record = sa.update(DefinitionMigration).where(DefinitionMigration.id == result.migration_id)
            # the batch is one transaction from its first write (SQLite too: a savepoint alone would commit
            # on release); each case is a savepoint in it
            session.execute(record.values(status="running"))
            moved_before = len(result.moves)
            for case in cases:
                _one(session, plan, case, clocks.get(case.id), result, actor=actor, now=now)
            session.execute(record.values(moved=DefinitionMigration.moved + len(result.moves) - moved_before))
            session.commit()   # the batch: its cases, their timers and history rows, and the count
    with session_factory() as session:
        record = session.get(DefinitionMigration, result.migration_id)
        assert record is not None
        record.status, record.finished_at = "done", now
        record.conflicts = [*record.conflicts, *result.conflicts]
        session.commit()
    return result


def _one(session: Session, plan: Plan, case: Case, timer: Timer | None, result: Result, *,
         actor: str, now: datetime, attempts: int = 3) -> None:
    """One case in a savepoint; a lost race reloads the case and plans it again from what it is now."""
    for _ in range(attempts):
        if case.closed or case.definition_version != plan.old.version:
            return   # closed or moved meanwhile: nothing left to migrate
        target = plan.target(case.state)
        if target is None or _entry_faults(plan.new, target, case.data):
            label = plan.old.states[case.state].label if case.state in plan.old.states else case.state
            result.conflicts.append({"number": case.number, "reason": f"案件刚被改为“{label}”，不在迁移计划之内，"
                                                                      "留在原版本"})
            return
        try:
            with session.begin_nested():
                move = _migrate_case(session, plan, case, timer, actor=actor, now=now,
                                     migration_id=result.migration_id or 0)
                session.flush()
            result.moves.append(move)
            return
        except (StaleDataError, sa.exc.IntegrityError):
            session.expire_all()   # a clerk changed the case since the batch read it: read it again
            fresh = session.scalar(sa.select(Case).where(Case.id == case.id)
                                   .options(joinedload(Case.org_unit).joinedload(OrgUnit.parent)))
            if fresh is None:
                return
            case, timer = fresh, _clock_of(session, [case.id]).get(case.id)
    result.conflicts.append({"number": case.number, "reason": "案件反复被他人修改，未迁移，请稍后再次迁移"})
