"""The engine: fires events on cases with the ``transitions`` library.

One ``transitions.Machine`` is built per definition version when the engine is created, never per
request; a case is not attached to it as a model (``add_model`` costs more than the transition itself):
the engine hands the machine a throw-away subject holding the case's state and triggers the event on it.
The engine checks everything a transition needs (the event exists, is allowed now, the caller holds a
permitted role, the required data is present, the guards pass) and returns an :class:`Outcome`. It never
touches a database: persisting the outcome is the service layer's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from transitions import EventData, Machine, MachineError

from workflow.calendar import WorkCalendar
from workflow.definitions import LEVELS, Catalog, Definition, EventDef
from workflow.errors import (
    EventNotAllowed,
    GuardRejected,
    InvalidData,
    RoleNotPermitted,
    UnknownEvent,
)
from workflow.registry import EFFECTS, GUARDS, TransitionContext
from workflow.rules import Faults


@dataclass(frozen=True)
class CaseView:
    """The part of a stored case the engine needs."""

    definition_key: str
    definition_version: int
    state: str
    level: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The result of a fired event: the case's new state and the history entry to record."""

    event: str
    from_state: str
    to_state: str
    level_from: str
    level_to: str
    data: dict[str, Any]
    changes: dict[str, Any]
    effects: tuple[str, ...]
    actor: str
    at: datetime
    comment: str | None = None
    escalated: bool = False
    action: str | None = None   # the event's action: escalate, or a supervision action (assign, take_over, urge)

    def history_entry(self) -> dict[str, Any]:
        return {"event": self.event, "from_state": self.from_state, "to_state": self.to_state,
                "level_from": self.level_from, "level_to": self.level_to, "actor": self.actor,
                "at": self.at, "data": self.changes, "comment": self.comment}


@dataclass
class _Subject:
    """Stands in for a case while ``transitions`` runs one trigger on it."""

    state: str
    faults: Faults = field(default_factory=dict)


def parent_level(level: str) -> str | None:
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class Engine:
    """Fires events for every definition of a catalog, counting time on one working-day calendar.

    The engine holds what is worked out once per process and definition version: the machines, the
    calendar whose loaded years every deadline and window is counted on, and the states each set of roles can
    work (keyed by the catalog's generation, so a deployed version is seen at once)."""

    def __init__(self, catalog: Catalog, calendar: WorkCalendar | None = None) -> None:
        self.catalog = catalog
        self.calendar = calendar if calendar is not None else WorkCalendar()
        self._machines: dict[tuple[str, int], Machine] = {
            (definition.key, definition.version): self._build(definition) for definition in catalog.all()
        }
        self._workable: dict[tuple[int, frozenset[str]], dict[tuple[str, int], list[str]]] = {}

    def workable_states(self, roles: frozenset[str]) -> dict[tuple[str, int], list[str]]:
        """For each definition version, the states in which a holder of ``roles`` can fire an event that moves
        the casework on (worked out once per catalog generation and set of roles)."""
        key = (self.catalog.generation, roles)
        found = self._workable.get(key)
        if found is None:
            found = {}
            for definition in self.catalog.all():
                states = sorted({source for event in definition.events.values() if roles & event.roles
                                 and event.works for source in event.sources})
                if states:
                    found[(definition.key, definition.version)] = states
            if len(self._workable) > 1000:
                self._workable.clear()
            self._workable[key] = found
        return found

    def install(self, definition: Definition) -> None:
        """Build the machine of a version deployed while the process runs, then make the version known."""
        machine = self._build(definition)
        self._machines = {**self._machines, (definition.key, definition.version): machine}
        self.catalog.install(definition)

    def remove(self, key: str, version: int) -> None:
        self.catalog.remove(key, version)
        self._machines = {found: machine for found, machine in self._machines.items() if found != (key, version)}

    @staticmethod
    def _build(definition: Definition) -> Machine:
        machine = Machine(model=None, states=list(definition.states), initial=definition.initial,
                          auto_transitions=False, send_event=True, model_attribute="state")
        for event in definition.events.values():
            condition = _guard_condition(event)
            for source in event.sources:
                machine.add_transition(event.name, source, event.target(source), conditions=[condition])
                if event.otherwise is not None:  # tried second: where the event leads when the guards refuse
                    machine.add_transition(event.name, source, event.otherwise)
        return machine

    def definition(self, case: CaseView) -> Definition:
        return self.catalog.get(case.definition_key, case.definition_version)

    def allowed_events(self, case: CaseView, roles: Iterable[str], *, supervision: bool = False) -> list[str]:
        """The events a holder of ``roles`` may fire on ``case`` now (escalate only below city level).

        Supervision events (assign, take_over, urge) depend on where the caller's unit stands, which the engine
        does not know: they are listed only with ``supervision`` (the service layer then checks the units)."""
        held = frozenset(roles)
        return [event.name for event in self.definition(case).events.values()
                if case.state in event.sources and held & event.roles
                and not (event.escalates and parent_level(case.level) is None)
                and (supervision or not event.supervises)]

    def fire(self, case: CaseView, event_name: str, *, roles: Iterable[str], data: Mapping[str, Any],
             actor: str, now: datetime, comment: str | None = None) -> Outcome:
        definition = self.definition(case)
        held = frozenset(roles)
        event = definition.events.get(event_name)
        if event is None:
            raise UnknownEvent(f"流程 {definition.title} 没有事件 {event_name!r}",
                               allowed_events=self.allowed_events(case, held), event=event_name)
        level_to = case.level
        if event.escalates:
            level_to = parent_level(case.level) or ""
        if case.state not in event.sources or not level_to:
            state_label = definition.states[case.state].label
            raise EventNotAllowed(f"案件处于“{state_label}”状态，不能执行“{event.label}”",
                                  allowed_events=self.allowed_events(case, held), event=event_name,
                                  state=case.state)
        if not held & event.roles:
            raise RoleNotPermitted(f"执行“{event.label}”需要以下角色之一：{', '.join(sorted(event.roles))}",
                                   event=event_name)
        missing = {name: ["此项为必填项"] for name in event.requires if _is_blank(data.get(name))}
        if missing:
            raise InvalidData(missing, detail=f"“{event.label}”缺少必填数据")
        target = event.target(case.state)
        # a supervision event's data (the instruction, the note) goes to the history, not into the case
        merged = dict(case.data) if event.supervises else {**case.data, **data}
        context = TransitionContext(definition.key, event.name, case.state, target, level_to, merged, data, now,
                                    definition.config, definition, self.calendar)
        subject = _Subject(case.state)
        try:
            fired = self._machines[(definition.key, definition.version)].events[event.name].trigger(
                subject, context=context)
        except MachineError as error:  # the definition check makes this unreachable; keep it contained
            raise EventNotAllowed(str(error), allowed_events=self.allowed_events(case, held)) from error
        if not fired:
            raise GuardRejected(subject.faults, detail=f"不满足“{event.label}”的办理条件")
        for name in event.effects:
            pure = EFFECTS.get(name)
            if pure is not None:
                merged.update(pure(context))
        return Outcome(event=event.name, from_state=case.state, to_state=subject.state,
                       level_from=case.level, level_to=level_to, data=merged, changes=dict(data),
                       effects=event.effects, actor=actor, at=now, comment=comment,
                       escalated=event.escalates, action=event.action)


def _guard_condition(event: EventDef) -> Any:
    """One condition per transition running every guard, so that all their faults are reported."""
    guards = [GUARDS[name] for name in event.guards]

    def check(event_data: EventData) -> bool:
        faults: Faults = {}
        for check_guard in guards:
            for field_name, messages in check_guard(event_data.kwargs["context"]).items():
                faults.setdefault(field_name, []).extend(messages)
        subject = cast(_Subject, event_data.model)
        subject.faults = faults
        return not faults

    return check
