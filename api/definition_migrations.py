"""Moving open cases from one version of their definition to a later one.

A plan names the two versions, where each state's cases go (``state_map``; a state the new version also has
keeps its name unless mapped) and whether deadlines are counted again under the new version. The plan is
checked against every open case before anything moves: a state without a place in the new version, or a case
whose data lacks what the new version asks of a case in its new state, refuses the whole plan (422, naming
them). The dry run lists each case with its old and new state and due time.

The real run moves the cases in batches, set-wise as the sweep fires timers: each batch is one transaction
that writes its cases with one conditional update (state, version of the definition, due times, and the case's
own version moved by one, where the case is still at the version read), then, for the cases written, one
statement per table for their timers (renamed, cancelled, inserted with the recounted deadline) and their
``migrate`` history rows, each chained to its case's last row. On PostgreSQL each of those statements carries
the whole batch as one parameter (``api.setwise``: one execution, the report summary's trigger once per batch),
and a thread writes a batch while the next one is read and planned. A case is moved whole or not at all: a clerk
who changed it after the batch read it wins (the update, returning the ids it wrote, passes it over, and nothing
else of it is written); it is then read again and planned from what the clerk left, in a transaction of its
own, or reported when it no longer fits the plan or keeps changing. A run stopped half way (a crash) loses
only its open batch and is finished by asking for the same migration again: the cases already moved are at
the new version and are not touched twice.

Deadlines are recounted with ``api.deadlines`` as on entering a state, from the moment the case's current
clock started (its pending timer's start), so that lengthening "3 working days" to 5 gives the same case 5
working days from the same start. A deadline set by hand (``extend``) stands.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from api import admin_log, deadlines
from api.cases import dig
from api.cases.data import denormalised
from api.history import ChainTemplate, Slot, last_hash, payload_of
from api.models import Case, CaseHistory, OrgUnit, Timer
from api.models_definitions import DefinitionMigration
from api.setwise import insert_rows, update_matching
from workflow.calendar import Due, WorkCalendar
from workflow.definitions import DeadlineSpec, Definition
from workflow.engine import Engine
from workflow.errors import InvalidData, UnknownDefinition

BATCH = 500
_T = TypeVar("_T")
ATTEMPTS = 3   # tries at a case that a clerk keeps changing meanwhile, before it is reported


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

    @cached_property
    def copies_columns(self) -> bool:
        """The new version copies other fields of the data into the case's columns (amount, party, category)."""
        return any(getattr(self.old, name) != getattr(self.new, name) for name in _COPIED_FROM)

    @cached_property
    def reads_data(self) -> bool:
        """Moving a case looks at its data: to copy it into the columns, to check what entering its new state
        requires (``check``: what no data can lack, no case lacks), or to count a deadline from a field."""
        targets = {target for source in self.old.states if (target := self.target(source)) is not None}
        return self.copies_columns or any(
            _entry_faults(self.new, target, {}) or _counts_from_data(self.new.states[target].deadline)
            for target in targets)

    @cached_property
    def labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """The states' labels, old version's and new's."""
        return ({name: state.label for name, state in self.old.states.items()},
                {name: state.label for name, state in self.new.states.items()})


_COPIED_FROM = ("amount_field", "party_field", "category_field")


def _counts_from_data(spec: DeadlineSpec | None) -> bool:
    return spec is not None and (spec.until_field is not None or spec.since.startswith("field:"))


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
        mapping_faults = _mapping_faults(old, new, source, target)
        if mapping_faults:
            faults[f"state_map.{source}"] = mapping_faults
    if faults or old is None or new is None:
        raise InvalidData(faults, detail="迁移请求有误：" + "；".join(m for ms in faults.values() for m in ms))
    return Plan(key, old, new, state_map, bool(body.get("recount_deadlines", True)), engine.calendar)


def _mapping_faults(old: Definition | None, new: Definition | None, source: str, target: str) -> list[str]:
    """What is wrong with mapping ``source`` of the old version to ``target`` of the new: an unknown state on
    either side, or a terminal target (a migration closes no case)."""
    faults = []
    if old is not None and source not in old.states:
        faults.append(f"第 {old.version} 版没有状态 {source!r}")
    if new is not None and target not in new.states:
        faults.append(f"第 {new.version} 版没有状态 {target!r}")
    elif new is not None and new.states[target].terminal:
        faults.append(f"不能迁移到终结状态 {new.states[target].label}（{target}）：迁移不结案")
    return faults


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


_CASES, _TIMERS, _HISTORY = Case.__table__, Timer.__table__, CaseHistory.__table__

# What planning a case reads of it, beside its data (when the plan looks at it), its unit's code and name and its
# pending deadline timer: plain rows, not mapped objects, so that a batch is read in one query without the unit of
# work's bookkeeping, and nothing is written behind our back.
_READ = ("id", "number", "state", "level", "category", "created_at", "updated_at", "due_at", "warn_at",
         "due_provisional", "version", "history_hash")
# The columns copied from the data, written again when the new version copies other fields (``Plan.copies_columns``).
_COPIED = ("amount", "party", "category")


class CaseRow(deadlines.CaseFacts, Protocol):
    """A row of ``_READ`` with its ``data`` (None when the plan reads none: ``Plan.reads_data``), the unit's
    ``unit_code`` and ``unit_name``, and the case's pending deadline timer (``timer_id``, ``timer_started_at``,
    ``timer_period``: None without one); its level, category and data are what counting a deadline reads."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def warn_at(self) -> datetime | None: ...
    @property
    def due_provisional(self) -> bool: ...
    @property
    def version(self) -> int: ...
    @property
    def history_hash(self) -> str | None: ...
    @property
    def unit_code(self) -> str: ...
    @property
    def unit_name(self) -> str: ...
    @property
    def timer_id(self) -> int | None: ...
    @property
    def timer_started_at(self) -> datetime | None: ...
    @property
    def timer_period(self) -> str | None: ...


def _among(session: Session, column: Any, ids: list[int]) -> Any:
    """``column IN ids`` for a batch of ids: on PostgreSQL one array parameter (``= ANY``) rather than one
    parameter per id, which costs more to send and parse than the statement costs to run."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=ARRAY(sa.Integer)))
    return column.in_(ids)


def _still_open(plan: Plan) -> list[Any]:
    """The plan's cases left to move: open, and still at the old version."""
    return [_CASES.c.definition_key == plan.key, _CASES.c.definition_version == plan.old.version,
            sa.not_(_CASES.c.closed)]


_NO_DATA = sa.null().label("data")   # for a plan that reads none of it
_PENDING = _TIMERS.alias("pending")
# the case's pending deadline timer (the last one, should there be more), read with the case
_PENDING_ID = (sa.select(sa.func.max(_PENDING.c.id))
               .where(_PENDING.c.case_id == _CASES.c.id, _PENDING.c.status == "pending",
                      _PENDING.c.kind == "deadline")
               .correlate(_CASES).scalar_subquery())


def _open_cases(session: Session, plan: Plan, *, after: int = 0, limit: int | None = None,
                ids: list[int] | None = None, states: list[str] | None = None) -> list[CaseRow]:
    """The plan's open cases in id order, each with its pending deadline timer: after ``after`` (the next batch),
    among ``ids`` (to try again) or in ``states``."""
    data = _CASES.c.data if plan.reads_data else _NO_DATA
    query = (sa.select(*(_CASES.c[name] for name in _READ), data, OrgUnit.code.label("unit_code"),
                       OrgUnit.name.label("unit_name"), _TIMERS.c.id.label("timer_id"),
                       _TIMERS.c.started_at.label("timer_started_at"), _TIMERS.c.period.label("timer_period"))
             .select_from(_CASES.join(OrgUnit, OrgUnit.id == _CASES.c.org_unit_id)
                          .outerjoin(_TIMERS, _TIMERS.c.id == _PENDING_ID))
             .where(*_still_open(plan), _CASES.c.id > after).order_by(_CASES.c.id).limit(limit))
    if ids is not None:
        query = query.where(_among(session, _CASES.c.id, ids))
    if states is not None:
        query = query.where(_CASES.c.state.in_(states))
    return list(session.execute(query))


def _batches(session: Session, plan: Plan, size: int, states: list[str] | None = None) -> Iterator[list[CaseRow]]:
    after = 0
    while cases := _open_cases(session, plan, after=after, limit=size, states=states):
        yield cases
        after = cases[-1].id


class _Entries:
    """When each case of a batch last entered its state: read for the batch at once, the first time some case
    needs it (a clock counted from the entry into the state whose timer does not tell)."""

    def __init__(self, session: Session, case_ids: list[int]) -> None:
        self._session, self._case_ids = session, case_ids
        self._entered: dict[tuple[int, str], datetime] | None = None

    def entered(self, case_id: int, state: str) -> datetime | None:
        if self._entered is None:
            rows = self._session.execute(
                sa.select(_HISTORY.c.case_id, _HISTORY.c.to_state, sa.func.max(_HISTORY.c.at))
                .where(_among(self._session, _HISTORY.c.case_id, self._case_ids))
                .group_by(_HISTORY.c.case_id, _HISTORY.c.to_state))
            self._entered = {(found, to_state): at for found, to_state, at in rows}
        return self._entered.get((case_id, state))


def _set_by_hand(old: Definition, case: CaseRow) -> bool:
    """A deadline an event set with its own period (``extend``): it stands through a migration."""
    spec = old.states[case.state].deadline if case.state in old.states else None
    if spec is None or spec.until_field:
        return False
    period = deadlines.period_for(spec, case)
    return period is not None and case.timer_period != f"{period.unit}:{period.count}"


def _keeps_clock(plan: Plan, case: CaseRow) -> bool:
    """The case keeps its deadline as it is: nothing is recounted, or an event set it by hand."""
    return not plan.recount or (case.timer_id is not None and _set_by_hand(plan.old, case))


def _start_of(plan: Plan, case: CaseRow, target: str, entries: _Entries) -> datetime:
    """When the clock of the case's state started, as the new version counts it: the pending timer's start
    while both versions count from the same moment, else as entering the state counts (from the opening, a
    time in the data, or the last entry into the state — an escalation restarts it)."""
    new_spec, old_spec = plan.new.states[target].deadline, plan.old.states[case.state].deadline
    since = new_spec.since if new_spec else "state_entered"
    if case.timer_id is not None and case.timer_started_at is not None and old_spec is not None \
            and old_spec.since == since:
        return case.timer_started_at
    if since == "case_opened":
        return case.created_at
    if since.startswith("field:"):
        found = deadlines._instant_field(case.data or {}, since.removeprefix("field:"))
        if found is not None:
            return found
    return entries.entered(case.id, case.state) or case.updated_at


def _new_due(plan: Plan, case: CaseRow, target: str, entries: _Entries) -> datetime | None:
    if _keeps_clock(plan, case):
        return case.due_at
    state = plan.new.states[target]
    if state.deadline is None:
        return None
    due = deadlines.due_for(state.deadline, case, _start_of(plan, case, target, entries), plan.calendar)
    return due.at if due else None


def _move_of(plan: Plan, case: CaseRow, target: str, new_due: datetime | None) -> Move:
    old_labels, new_labels = plan.labels
    return Move(case.id, case.number, case.unit_code, case.state, target, case.due_at, new_due,
                old_labels.get(case.state, case.state), new_labels[target], case.unit_name)


def _target_of(plan: Plan, case: CaseRow, unmapped: dict[str, list[str]],
               refused: dict[str, list[str]]) -> str | None:
    """Where the case goes; None, noting why, when its state has no place or its data does not fit."""
    target = plan.target(case.state)
    if target is None:
        unmapped.setdefault(case.state, []).append(case.number)
        return None
    faults = _entry_faults(plan.new, target, case.data or {})
    if faults:
        refused[f"cases.{case.number}"] = faults
        return None
    return target


def dry_run(session: Session, plan: Plan, batch: int = BATCH) -> list[Move]:
    """Every open case the plan would move, with old and new state and due time; 422 naming every case or
    state the plan cannot take (nothing is written)."""
    moves: list[Move] = []
    unmapped: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    for cases in _batches(session, plan, batch):
        entries = _Entries(session, [case.id for case in cases])
        for case in cases:
            target = _target_of(plan, case, unmapped, refused)
            if target is not None:
                moves.append(_move_of(plan, case, target, _new_due(plan, case, target, entries)))
    _refuse(plan, unmapped, refused)
    return moves


def check(session: Session, plan: Plan, batch: int = BATCH) -> None:
    """Refuse the plan exactly as the dry run does (422), without counting deadlines and reading only the
    cases that could be refused: those in a state without a place in the new version, or bound for a state
    whose entry asks something of the data (what no data can lack, no case lacks)."""
    states = session.scalars(sa.select(_CASES.c.state).where(*_still_open(plan)).distinct())
    doubtful = [state for state in states
                if (target := plan.target(state)) is None or _entry_faults(plan.new, target, {})]
    if not doubtful:
        return
    unmapped: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    for cases in _batches(session, plan, batch, states=doubtful):
        for case in cases:
            _target_of(plan, case, unmapped, refused)
    _refuse(plan, unmapped, refused)


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


@dataclass
class _Batch:
    """A batch's moves worked out, collected for the whole batch: the parameters of its update of cases, the
    ``migrate`` history rows and new deadline timers (each naming its case), and the cases whose pending timer
    gives way to a recounted one. Only the rows of the cases the update wrote are inserted."""
    cases: list[CaseRow] = field(default_factory=list)   # the cases planned, in the order of ``moves``
    moves: list[Move] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    recounted: list[int] = field(default_factory=list)


class _Planner:
    """Works out the moves of a run's cases. What is the same for every case is worked out once for the run:
    the text of the history rows' hashed payload (``api.history.ChainTemplate``, all but the case's own values),
    the deadline counted from a given start at a given level and category, and the times shown in the rows."""

    def __init__(self, plan: Plan, *, actor: str, now: datetime, migration_id: int) -> None:
        self.plan, self.actor, self.now, self.migration_id = plan, actor, now, migration_id
        self._comment = f"流程定义由第 {plan.old.version} 版迁移到第 {plan.new.version} 版"
        self._template = ChainTemplate(payload_of(self._history_row(*(Slot(index) for index in range(8)))))
        self._counted: dict[tuple[str, str, str | None, datetime], _Counted] = {}
        self._shown: dict[datetime | None, str | None] = {None: None}

    def _history_row(self, case_id: Any, seq: Any, from_state: Any, to_state: Any, level: Any, unit: Any,
                     old_due: Any, new_due: Any) -> dict[str, Any]:
        """A ``migrate`` history row (its values; ``Slot``s in the template's)."""
        plan = self.plan
        return {"case_id": case_id, "seq": seq, "event": "migrate", "from_state": from_state, "to_state": to_state,
                "level_from": level, "level_to": level, "org_from": unit, "org_to": unit, "actor": self.actor,
                "at": self.now, "comment": self._comment, "prev_hash": None,
                "data": {"from_version": plan.old.version, "to_version": plan.new.version,
                         "migration": self.migration_id, "old_due_at": old_due, "new_due_at": new_due}}

    def add(self, batch: _Batch, case: CaseRow, target: str, entries: _Entries, prev_hash: str | None) -> None:
        """Work ``case``'s move out into ``batch``: its columns, its history row chained to ``prev_hash`` (its
        last row's), and its recounted deadline's timer."""
        plan = self.plan
        due_at, warn_at, provisional = case.due_at, case.warn_at, case.due_provisional
        if not _keeps_clock(plan, case):
            batch.recounted.append(case.id)
            due_at, warn_at, provisional = None, None, False
            spec = plan.new.states[target].deadline
            if spec is not None:
                start = _start_of(plan, case, target, entries)
                counted = self._count(spec, case, target, start)
                if counted.due is not None:
                    due_at, warn_at, provisional = counted.due.at, counted.warn_at, counted.due.provisional
                    batch.timers.append(deadlines.timer_row(case.id, target, spec, counted.due, start,
                                                            counted.period, self.now))
        old_due, new_due = self._shown_of(case.due_at), self._shown_of(due_at)
        row = self._history_row(case.id, case.version + 1, case.state, target, case.level, case.unit_code,
                                old_due, new_due)
        row["prev_hash"] = prev_hash
        row["hash"] = self._template.hash(prev_hash, (case.id, case.version + 1, case.state, target, case.level,
                                                      case.unit_code, old_due, new_due))
        batch.history.append(row)
        values = {"was_id": case.id, "was_version": case.version, "version": case.version + 1, "state": target,
                  "definition_version": plan.new.version, "updated_at": self.now, "due_at": due_at,
                  "warn_at": warn_at, "due_provisional": provisional, "history_hash": row["hash"]}
        if plan.copies_columns:
            values.update(zip(_COPIED, denormalised(case.data or {}, plan.new), strict=True))
        batch.updates.append(values)
        batch.cases.append(case)
        batch.moves.append(_move_of(plan, case, target, due_at))

    def _count(self, spec: DeadlineSpec, case: CaseRow, target: str, start: datetime) -> _Counted:
        """The deadline of ``target`` for the case counted from ``start``: a pure function of the level, the
        category and the start but for a date in the data (``until_field``), so counted once for each."""
        key = (target, case.level, case.category, start)
        found = self._counted.get(key) if spec.until_field is None else None
        if found is None:
            due = deadlines.due_for(spec, case, start, self.plan.calendar)
            warn = deadlines.warning_for(spec, due.at, self.plan.calendar) if due else None
            found = _Counted(due, warn, deadlines.period_label(spec, case))
            if spec.until_field is None:
                self._counted[key] = found
        return found

    def _shown_of(self, moment: datetime | None) -> str | None:
        shown = self._shown.get(moment, _UNSEEN)
        if shown is _UNSEEN:
            shown = self._shown[moment] = _shown(moment)
        return shown   # type: ignore[return-value]


_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class _Counted:
    due: Due | None
    warn_at: datetime | None
    period: str


def _write_rows(session: Session, plan: Plan, batch: _Batch, written: set[int]) -> None:
    """The timers and history rows of the cases written, one statement per table and kind of change."""
    if not written:
        return
    whole = len(written) == len(batch.moves)
    ids = [move.case_id for move in batch.moves if move.case_id in written]
    renames = {source: renamed for source in plan.old.states if (renamed := plan.target(source) or source) != source}
    if renames:   # the clocks of the cases' states (paused ones too) follow their state's new name
        session.execute(sa.update(_TIMERS).where(_among(session, _TIMERS.c.case_id, ids),
                                                 _TIMERS.c.state.in_(list(renames)),
                                                 _TIMERS.c.status.in_(("pending", "paused")))
                        .values(state=sa.case(renames, value=_TIMERS.c.state)))
    recounted = batch.recounted if whole else [case_id for case_id in batch.recounted if case_id in written]
    if recounted:
        session.execute(sa.update(_TIMERS).where(_among(session, _TIMERS.c.case_id, recounted),
                                                 _TIMERS.c.status == "pending").values(status="cancelled"))
    for table, rows in ((_TIMERS, batch.timers), (_HISTORY, batch.history)):
        insert_rows(session.connection(), table, rows if whole else [row for row in rows if row["case_id"] in written])


def _lost_race(error: sa.exc.DBAPIError) -> bool:
    """PostgreSQL gave up on the transaction for another's sake (a deadlock with a sweep, say): try again."""
    return getattr(error.orig, "sqlstate", None) in ("40P01", "40001", "55P03")


def _prev_hashes(session: Session, cases: list[CaseRow]) -> dict[int, str | None]:
    """The hash of each case's last history row: the one the case holds, else read back."""
    return {case.id: case.history_hash or last_hash(session, case.id) for case in cases}


def _plan_batch(session: Session, planner: _Planner, cases: list[CaseRow], result: Result, *,
                before_write: BeforeWrite | None) -> _Batch:
    """Work out the moves of a batch of cases read by ``session``; a case that no longer fits the plan (a clerk
    moved it meanwhile) is reported in the result's conflicts instead."""
    plan = planner.plan
    entries = _Entries(session, [case.id for case in cases])
    batch = _Batch()
    prev_hashes = _prev_hashes(session, cases)
    for case in cases:
        target = plan.target(case.state)
        if target is None or _entry_faults(plan.new, target, case.data or {}):
            label = plan.labels[0].get(case.state, case.state)
            result.conflicts.append({"number": case.number,
                                     "reason": f"案件刚被改为“{label}”，不在迁移计划之内，留在原版本"})
            continue
        planner.add(batch, case, target, entries, prev_hashes[case.id])
    if before_write is not None:
        for case in batch.cases:
            before_write(case)
    return batch


def _write_batch(session: Session, plan: Plan, batch: _Batch, migration_id: int | None) -> set[int]:
    """Write a batch's moves in one transaction (committed here); returns the ids of the cases written. Nothing
    is written of a case a clerk changed after it was read, nor of any when the database gave the transaction
    up."""
    with session:
        try:
            written = update_matching(session.connection(), _CASES, ("id", "version"), batch.updates)
            _write_rows(session, plan, batch, written)
            session.execute(sa.update(DefinitionMigration).where(DefinitionMigration.id == migration_id)
                            .values(moved=DefinitionMigration.moved + len(written)))
            session.commit()
        except sa.exc.OperationalError as error:
            if not _lost_race(error):
                raise
            session.rollback()
            return set()
    return written


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


BeforeWrite = Callable[[CaseRow], None]   # called for each case of a batch between reading and writing it (tests)


class _Inline(Executor):
    """Writes a batch at once, where the database is in-process and takes one writer at a time (SQLite)."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextmanager
def _writes(overlap: bool) -> Iterator[Executor]:
    """Where the batches are written: on PostgreSQL by a thread of their own, one batch at a time, so that the
    next batch is read and planned while the database writes this one (the planning is Python's work, the
    writing the server's: each has a core); elsewhere inline."""
    if not overlap:
        yield _Inline()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migration-writes") as pool:
        yield pool


@dataclass
class _Mover:
    """Reads and plans the batches, and settles each once written: the moves written are the result's, the cases
    passed over are read, planned and written again in a transaction of their own (``ATTEMPTS`` in all)."""
    session_factory: Callable[[], Session]
    planner: _Planner
    result: Result
    before_write: BeforeWrite | None

    def read_and_plan(self, *, after: int = 0, limit: int | None = None,
                      ids: list[int] | None = None) -> tuple[list[CaseRow], _Batch]:
        with self.session_factory() as session:   # closed or moved meanwhile: no longer among them
            cases = _open_cases(session, self.planner.plan, after=after, limit=limit, ids=ids)
            return cases, _plan_batch(session, self.planner, cases, self.result, before_write=self.before_write)

    def settle(self, batch: _Batch, written: set[int]) -> None:
        for _ in range(ATTEMPTS - 1):
            again = self._passed_over(batch, written)
            if not again:
                return
            _, batch = self.read_and_plan(ids=[case.id for case in again])
            written = _write_batch(self.session_factory(), self.planner.plan, batch, self.result.migration_id)
        self.result.conflicts.extend({"number": case.number, "reason": "案件反复被他人修改，未迁移，请稍后再次迁移"}
                                     for case in self._passed_over(batch, written))

    def _passed_over(self, batch: _Batch, written: set[int]) -> list[CaseRow]:
        if len(written) == len(batch.moves):
            self.result.moves.extend(batch.moves)
            return []
        self.result.moves.extend(move for move in batch.moves if move.case_id in written)
        return [case for case in batch.cases if case.id not in written]


def run(session_factory: Callable[[], Session], plan: Plan, *, actor: str, now: datetime,
        batch: int = BATCH, before_write: BeforeWrite | None = None) -> Result:
    """Check the plan against every open case (refusing what the dry run refuses), then move them batch by
    batch; a case a clerk changed meanwhile is tried again (``ATTEMPTS`` in all) right after its batch."""
    with session_factory() as session:
        check(session, plan, batch)
        record, resumed = _start(session, plan, actor, now)
        result = Result(plan, migration_id=record.id, resumed=resumed)
        admin_log.record(session, actor=actor, action="definition.migrate",
                         target=f"{plan.key} v{plan.old.version}→v{plan.new.version}", at=now,
                         after={"migration": record.id, "state_map": plan.state_map, "recount": plan.recount,
                                "resumed": resumed})
        overlap = session.get_bind().dialect.name == "postgresql"
        session.commit()
    planner = _Planner(plan, actor=actor, now=now, migration_id=result.migration_id or 0)
    mover = _Mover(session_factory, planner, result, before_write)
    with _writes(overlap) as writes:
        after, pending = 0, None
        while True:
            cases, planned = mover.read_and_plan(after=after, limit=batch)
            if pending is not None:   # the batch before, written meanwhile
                mover.settle(pending[0], pending[1].result())
            if not cases:
                break
            after = cases[-1].id
            pending = (planned, writes.submit(_write_batch, session_factory(), plan, planned, result.migration_id))
    with session_factory() as session:
        finished = session.get_one(DefinitionMigration, result.migration_id)
        finished.status, finished.finished_at = "done", now
        finished.conflicts = [*finished.conflicts, *result.conflicts]
        session.commit()
    return result
