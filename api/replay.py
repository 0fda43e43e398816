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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    bound = set(bound_effects)
    rows = list(rows)
    # a case migrated to a later version was opened, and worked until its migration, on an earlier one
    migrations = [row for row in rows if row.event == "migrate" and isinstance(row.data, dict)]
    version = int(migrations[0].data.get("from_version", case.definition_version)) if migrations \
        else case.definition_version
    try:
        definition = engine.catalog.get(case.definition_key, version)
    except WorkflowError:
        return [(0, f"unknown definition {case.definition_key} v{version}")]
    found: list[tuple[int, str]] = []
    state = level = org = None
    data: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    loose = False
    last_seq = 0
    for row in rows:
        last_seq = row.seq
        if row.seq == 1:
            state, level, org, data = row.to_state, row.level_to, row.org_to, dict(row.data or {})
            continue
        if row.from_state != state:
            found.append((row.seq, f"history row {row.seq} leaves state {row.from_state} but the case was in {state}"))
        event = definition.events.get(row.event)
        if event is not None and state is not None and level is not None:
            try:
                outcome = engine.fire(CaseView(case.definition_key, version, state, level, data),
                                      row.event, roles=event.roles, data=dict(row.data or {}), actor=row.actor,
                                      now=row.at, comment=row.comment)
            except WorkflowError:
                data = {**data, **(row.data or {})}   # a guard that read the world as it was then: as recorded
            else:
                data = outcome.data
                if outcome.to_state != row.to_state or outcome.level_to != row.level_to:
                    found.append((row.seq, f"history row {row.seq} records {row.event} to {row.to_state} "
                                           f"({row.level_to}) where the engine leads to {outcome.to_state} "
                                           f"({outcome.level_to})"))
            loose = loose or bool(bound & set(event.effects))
        elif row.event == "migrate" and isinstance(row.data, dict) and row.data.get("to_version"):
            version = int(row.data["to_version"])
            try:
                definition = engine.catalog.get(case.definition_key, version)
            except WorkflowError:
                return found + [(row.seq, f"unknown definition {case.definition_key} v{version}")]
        else:
            optional.update(row.data or {})
        state, level, org = row.to_state, row.level_to, row.org_to
    if last_seq == 0:
        return [(0, "the case has no history")]
    for name, stored, replayed in (("state", case.state, state), ("level", case.level, level),
                                   ("unit", case.org_unit, org)):
        if stored != replayed:
            found.append((last_seq, f"the case's {name} is {stored} but its history leads to {replayed}"))
    if case.version != last_seq:
        found.append((last_seq, f"the case is at version {case.version} but its history ends at {last_seq}"))
    replayed_data, stored_data, optional = _plain(data), _plain(case.data or {}), _plain(optional)
    changed = sorted(name for name in set(replayed_data) | set(stored_data)
                     if not _same(stored_data.get(name, _MISSING), replayed_data.get(name, _MISSING))
                     and not (name in optional and _same(stored_data.get(name, _MISSING), optional[name]))
                     and not (loose and name not in replayed_data))
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
