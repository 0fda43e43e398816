"""A case rebuilt from its history through the engine, to be compared with the ``cases`` row.

Each history row after the opening is fired again on the engine as the case stood (its data as recorded,
at its instant, with the event's own roles), so the data the engine merges and computes is reproduced; the
state, level and unit are then taken from the row and checked against what the engine gives. Events the
definition does not know (the sweep's ``supervise`` and ``remind``, supervision and migration events) are
taken as the row records them: their ``to_state``, ``level_to`` and ``org_to``; their data may or may not
have been merged into the case, so either is accepted. Effects that write the case outside the engine (a
bound effect such as the formation case's new union) may add fields the history does not carry: after one of
them, fields beyond the replay are accepted, but never a field whose value the replay knows otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.definitions import Definition, EventDef
from workflow.engine import CaseView, Engine
from workflow.errors import WorkflowError


@dataclass(frozen=True)
class StoredCase:
    definition_key: str
    definition_version: int
    state: str
    level: str
    org_unit: str
    version: int
    data: dict[str, Any]


def _plain(value: Any) -> Any:
    """As JSON stores it (a Decimal or a date an effect computes compares with the stored string)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def differences(engine: Engine, case: StoredCase, rows: Iterable[Any], bound_effects: Iterable[str] = ()
                ) -> list[tuple[int, str]]:
    """Where the case row departs from its replayed history: [(seq, reason)]."""
    rows = list(rows)
    # a case migrated to a later version was opened, and worked until its migration, on an earlier one
    migrations = [row for row in rows if row.event == "migrate" and isinstance(row.data, dict)]
    version = int(migrations[0].data.get("from_version", case.definition_version)) if migrations \
        else case.definition_version
    try:
        definition = engine.catalog.get(case.definition_key, version)
    except WorkflowError:
        return [(0, f"unknown definition {case.definition_key} v{version}")]
    replay = _Replay(engine, case.definition_key, definition, set(bound_effects))
    for row in rows:
        if not replay.apply(row):
            return replay.found
    if replay.last_seq == 0:
        return [(0, "the case has no history")]
    return replay.found + _departures(case, replay)


@dataclass
class _Replay:
    """The case as its history rebuilds it, row by row, and where the history contradicts itself."""

    engine: Engine
    key: str
    definition: Definition
    bound: set[str]                       # the effects that write the case outside the engine
    found: list[tuple[int, str]] = field(default_factory=list)
    state: str | None = None
    level: str | None = None
    org: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)   # data merged, or not, by events the engine lacks
    loose: bool = False                   # a bound effect ran: fields beyond the replay are accepted
    last_seq: int = 0

    def apply(self, row: Any) -> bool:
        """Take one history row; False when it migrates the case to a version that does not exist."""
        self.last_seq = row.seq
        if row.seq == 1:
            self.state, self.level, self.org, self.data = row.to_state, row.level_to, row.org_to, dict(row.data or {})
            return True
        if row.from_state != self.state:
            self.found.append((row.seq, f"history row {row.seq} leaves state {row.from_state} "
                                        f"but the case was in {self.state}"))
        event = self.definition.events.get(row.event)
        if event is not None and self.state is not None and self.level is not None:
            self._fire(row, event, self.state, self.level)
        elif row.event == "migrate" and isinstance(row.data, dict) and row.data.get("to_version"):
            if not self._migrate(row, int(row.data["to_version"])):
                return False
        else:
            self.optional.update(row.data or {})
        self.state, self.level, self.org = row.to_state, row.level_to, row.org_to
        return True

    def _fire(self, row: Any, event: EventDef, state: str, level: str) -> None:
        """Fire the row's event again on the case as it stood, and compare where the engine leads."""
        try:
            outcome = self.engine.fire(CaseView(self.key, self.definition.version, state, level, self.data),
                                       row.event, roles=event.roles, data=dict(row.data or {}), actor=row.actor,
                                       now=row.at, comment=row.comment)
        except WorkflowError:
            self.data = {**self.data, **(row.data or {})}   # a guard that read the world as it was then: as recorded
        else:
            self.data = outcome.data
            if outcome.to_state != row.to_state or outcome.level_to != row.level_to:
                self.found.append((row.seq, f"history row {row.seq} records {row.event} to {row.to_state} "
                                            f"({row.level_to}) where the engine leads to {outcome.to_state} "
                                            f"({outcome.level_to})"))
        self.loose = self.loose or bool(self.bound & set(event.effects))

    def _migrate(self, row: Any, version: int) -> bool:
        try:
            self.definition = self.engine.catalog.get(self.key, version)
        except WorkflowError:
            self.found.append((row.seq, f"unknown definition {self.key} v{version}"))
            return False
        return True


def _departures(case: StoredCase, replay: _Replay) -> list[tuple[int, str]]:
    """Where the case row differs from the end of its replayed history: state, level, unit, version, data."""
    last_seq = replay.last_seq
    found = [(last_seq, f"the case's {name} is {stored} but its history leads to {replayed}")
             for name, stored, replayed in (("state", case.state, replay.state), ("level", case.level, replay.level),
                                            ("unit", case.org_unit, replay.org))
             if stored != replayed]
    if case.version != last_seq:
        found.append((last_seq, f"the case is at version {case.version} but its history ends at {last_seq}"))
    replayed_data, stored_data, optional = _plain(replay.data), _plain(case.data or {}), _plain(replay.optional)
    changed = sorted(name for name in set(replayed_data) | set(stored_data)
                     if not _same(stored_data.get(name, _MISSING), replayed_data.get(name, _MISSING))
                     and not (name in optional and _same(stored_data.get(name, _MISSING), optional[name]))
                     and not (replay.loose and name not in replayed_data))
    if changed:
        found.append((last_seq, f"the case's data differs from its history in: {', '.join(changed)}"))
    return found


_MISSING = object()


def _same(stored: Any, replayed: Any) -> bool:
    """Equal, or the same instant written in another zone (an effect stamps the time it is given: the clock's
    zone when it ran, UTC when replayed from the stored row)."""
    if stored == replayed:
        return True
    if isinstance(stored, str) and isinstance(replayed, str) and "T" in stored and "T" in replayed:
        try:
            first, second = datetime.fromisoformat(stored), datetime.fromisoformat(replayed)
        except ValueError:
            return False
        return first.tzinfo is not None and second.tzinfo is not None and first == second
    return False
