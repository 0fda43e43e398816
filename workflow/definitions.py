"""Definitions as data: load the YAML files in ``definitions/``, validate them, expose them as values.

A definition is one lifecycle at one version. Loading refuses a file with its name, the line and the
reason for every fault found (unknown states, unreachable states, non-terminal dead ends, unknown guard
or effect names, duplicate events, deadlines on terminal states, ...), before any machine is built.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import DefinitionError, UnknownDefinition
from workflow.privacy import RELATIONS, STYLES, Grant, PersonalRule
from workflow.registry import EFFECTS, GUARDS

LEVELS = ("enterprise", "street", "city")
ROLES = frozenset({"admin", "clerk", "mediator", "reviewer", "counter", "viewer", "system"})
TIMEOUT_ACTIONS = frozenset({"escalate", "remind"})
# Supervision (督办) by a unit above the owner: send the case down (交办), take it up (提级办理), urge it (催办).
# Their events keep the case's state; ``from: "*"`` declares them on every non-terminal state.
SUPERVISION_ACTIONS = frozenset({"assign", "take_over", "urge"})
EVENT_ACTIONS = frozenset({"escalate"}) | SUPERVISION_ACTIONS
DEADLINE_SINCE = frozenset({"state_entered", "case_opened"})
PERIOD_UNITS = frozenset({"days", "working_days", "months"})

_TOP_KEYS = {
    "key", "version", "title", "initial", "states", "events", "number_prefix", "owner_levels",
    "amount_field", "party_field", "category_field", "open_roles", "open_level", "description",
    "alternative_initials", "config", "early_warning_categories", "personal",
}
_STATE_KEYS = {"label", "terminal", "deadline", "pauses_clock", "description"}
_EVENT_KEYS = {"label", "from", "to", "otherwise", "roles", "requires", "guards", "effects", "action",
               "description"}
_DEADLINE_KEYS = {"period", "since", "until_field", "warn_before", "on_timeout", "by_category"}
_PERSONAL_KEYS = {"label", "mask", "seen_by", "when", "placeholder"}


@dataclass(frozen=True)
class Period:
    """A span of ``count`` calendar days, working days or months (a year is 12 months)."""

    unit: str
    count: int


@dataclass(frozen=True)
class DeadlineSpec:
    """How long a case may stay in a state, per level, and what happens then."""

    periods: dict[str, Period]
    on_timeout: str
    since: str = "state_entered"
    until_field: str | None = None
    warn_before: Period | None = None
    category_periods: dict[str, Period] = field(default_factory=dict)

    def period_for(self, level: str, category: str | None = None) -> Period | None:
        """The period at ``level``; a period the definition gives for the case's category comes first."""
        if category and category in self.category_periods:
            return self.category_periods[category]
        return self.periods.get(level) or self.periods.get("*")


@dataclass(frozen=True)
class StateDef:
    name: str
    label: str
    terminal: bool = False
    deadline: DeadlineSpec | None = None
    pauses_clock: bool = False


@dataclass(frozen=True)
class EventDef:
    name: str
    label: str
    sources: tuple[str, ...]
    dest: str | None
    roles: frozenset[str]
    requires: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    action: str | None = None
    otherwise: str | None = None   # where the event leads when its guards refuse (instead of refusing)

    @property
    def escalates(self) -> bool:
        return self.action == "escalate"

    @property
    def supervises(self) -> bool:
        """assign, take_over or urge: fired from above the owning unit, the state unchanged."""
        return self.action in SUPERVISION_ACTIONS

    @property
    def works(self) -> bool:
        """An event that moves the casework itself on (not escalation, not supervision)."""
        return self.action is None

    def target(self, source: str) -> str:
        return self.dest if self.dest is not None else source


@dataclass(frozen=True)
class Definition:
    key: str
    version: int
    title: str
    initial: str
    states: dict[str, StateDef]
    events: dict[str, EventDef]
    number_prefix: str
    source: str
    owner_levels: tuple[str, ...] = LEVELS
    open_roles: frozenset[str] = frozenset({"clerk", "admin"})
    open_level: str | None = None
    amount_field: str | None = None
    party_field: str | None = None
    category_field: str | None = None
    alternative_initials: tuple[str, ...] = ()
    early_warning_categories: tuple[str, ...] = ()
    personal: tuple[PersonalRule, ...] = ()      # which data fields are personal, and who sees them whole
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def terminal_states(self) -> frozenset[str]:
        return frozenset(name for name, state in self.states.items() if state.terminal)

    def events_from(self, state: str) -> list[EventDef]:
        return [event for event in self.events.values() if state in event.sources]


class _LineDict(dict[str, Any]):
    """A mapping that remembers the line of each key, for error messages."""

    lines: dict[str, int]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last one silently) and keeps lines."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> _LineDict:
    mapping = _LineDict()
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {mapping.lines[key]})", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = line
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line(mapping: Any, key: str) -> str:
    lines = getattr(mapping, "lines", {})
    return f"line {lines[key]}: " if key in lines else ""


class _Checker:
    """Collects every fault of one file before refusing it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.faults: list[str] = []

    def fault(self, where: Any, key: str, message: str) -> None:
        self.faults.append(f"{_line(where, key)}{message}")

    def unknown_keys(self, mapping: dict[str, Any], allowed: set[str], what: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.fault(mapping, key, f"{what}: unknown key {key!r}")

    def period(self, where: Any, key: str, value: Any, what: str) -> Period | None:
        if not isinstance(value, dict) or len(value) != 1:
            self.fault(where, key, f"{what}: a period is one of {{days: N}}, {{working_days: N}} or {{months: N}}")
            return None
        ((unit, count),) = value.items()
        if unit not in PERIOD_UNITS or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            self.fault(where, key,
                       f"{what}: a period is one of {{days: N}}, {{working_days: N}} or {{months: N}}, N ≥ 1")
            return None
        return Period(unit, count)


def _deadline(check: _Checker, state: str, raw: Any, event_names: set[str]) -> DeadlineSpec | None:
    what = f"state {state!r} deadline"
    if not isinstance(raw, dict):
        check.faults.append(f"{what}: must be a mapping")
        return None
    check.unknown_keys(raw, _DEADLINE_KEYS, what)
    periods = _deadline_periods(check, raw, what)
    until_field = raw.get("until_field")
    if not periods and not until_field:
        check.fault(raw, "period" if "period" in raw else "on_timeout", f"{what}: needs a period or an until_field")
    on_timeout = raw.get("on_timeout", "escalate")
    if on_timeout not in TIMEOUT_ACTIONS and on_timeout not in event_names:
        check.fault(raw, "on_timeout", f"{what}: on_timeout {on_timeout!r} is neither an action "
                    f"({', '.join(sorted(TIMEOUT_ACTIONS))}) nor an event of this definition")
    since = raw.get("since", "state_entered")
    if since not in DEADLINE_SINCE and not (isinstance(since, str) and since.startswith("field:") and since[6:]):
        check.fault(raw, "since", f"{what}: since must be one of {sorted(DEADLINE_SINCE)} or field:<data field>")
    category_periods = _category_periods(check, raw, what)
    warn = raw.get("warn_before")
    warn_period = check.period(raw, "warn_before", warn, f"{what} warn_before") if warn is not None else None
    return DeadlineSpec(periods=periods, on_timeout=on_timeout, since=since,
                        until_field=until_field, warn_before=warn_period, category_periods=category_periods)


def _deadline_periods(check: _Checker, raw: dict[str, Any], what: str) -> dict[str, Period]:
    """``period``: one period for every level (kept under ``*``), or a mapping of level (or ``*``) to period."""
    period = raw.get("period")
    if period is None:
        return {}
    if not (isinstance(period, dict) and period and set(period) <= {*LEVELS, "*"}):
        parsed = check.period(raw, "period", period, what)
        return {"*": parsed} if parsed else {}
    periods: dict[str, Period] = {}
    for level, per_level in period.items():
        parsed = check.period(period, level, per_level, f"{what} at level {level!r}")
        if parsed:
            periods[level] = parsed
    return periods


def _category_periods(check: _Checker, raw: dict[str, Any], what: str) -> dict[str, Period]:
    """``by_category``: a period for the cases of one category, before the level's."""
    by_category = raw.get("by_category") or {}
    if not isinstance(by_category, dict):
        check.fault(raw, "by_category", f"{what}: by_category maps a category to a period")
        return {}
    periods: dict[str, Period] = {}
    for category, value in by_category.items():
        parsed = check.period(by_category, category, value, f"{what} for category {category!r}")
        if parsed:
            periods[str(category)] = parsed
    return periods


def _names(check: _Checker, where: Any, key: str, value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        check.fault(where, key, f"{what}: {key} must be a list of names")
        return ()
    return tuple(value)


def parse_definition(raw: Any, source: str, bound_effects: Collection[str] = ()) -> Definition:
    """Validate one parsed YAML document and build a :class:`Definition`, or raise DefinitionError.

    ``bound_effects`` names the effects the service binds besides the pure ones of ``workflow.registry`` (the effects
    of its lifecycle plug-ins, which need persistence); any other effect name is refused."""
    check = _Checker(source)
    raw_states, raw_events = _outline(check, raw)
    states = _states(check, raw_states, set(raw_events))
    initial = raw.get("initial")
    if initial is not None and initial not in states:
        check.fault(raw, "initial", f"initial state {initial!r} is not a state")
    events = _events(check, raw_events, states, bound_effects)
    _check_escalations(check, states, events)
    alternatives = _names(check, raw, "alternative_initials", raw.get("alternative_initials"), "definition")
    for name in alternatives:
        if name not in states:
            check.fault(raw, "alternative_initials", f"definition: unknown state {name!r} in alternative_initials")
    config = _config(check, raw)
    _check_graph(check, states, events, initial, alternatives)
    owner_levels = _names(check, raw, "owner_levels", raw.get("owner_levels"), "definition") or LEVELS
    _check_workable(check, raw_states, raw_events, states, events,
                    tuple(level for level in owner_levels if level in LEVELS))
    personal = _personal(check, raw, raw.get("personal"))
    _check_opening(check, raw, owner_levels)
    if check.faults:
        raise DefinitionError(source, check.faults)
    return Definition(
        key=str(raw["key"]), version=int(raw["version"]), title=str(raw["title"]), initial=str(initial),
        states=states, events=events, number_prefix=str(raw.get("number_prefix", str(raw["key"])[:2].upper())),
        source=source, owner_levels=tuple(owner_levels),
        open_roles=frozenset(raw.get("open_roles") or ("clerk", "admin")), open_level=raw.get("open_level"),
        amount_field=raw.get("amount_field"), party_field=raw.get("party_field"),
        category_field=raw.get("category_field"), alternative_initials=alternatives, config=config,
        early_warning_categories=tuple(raw.get("early_warning_categories") or ()), personal=personal,
        raw=dict(raw),
    )


def _outline(check: _Checker, raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top level: known keys, the required ones present, a valid version, states and events as mappings of
    English names. Refuses at once when there are no states to go on with."""
    if not isinstance(raw, dict):
        raise DefinitionError(check.source, ["the file must hold one mapping"])
    check.unknown_keys(raw, _TOP_KEYS, "definition")
    for required in ("key", "version", "title", "initial", "states", "events"):
        if required not in raw:
            check.faults.append(f"definition: missing {required!r}")
    if check.faults and not isinstance(raw.get("states"), dict):
        raise DefinitionError(check.source, check.faults)
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        check.fault(raw, "version", "version must be a whole number ≥ 1")
    raw_states = raw.get("states") or {}
    raw_events = raw.get("events") or {}
    if not isinstance(raw_states, dict) or not isinstance(raw_events, dict):
        raise DefinitionError(check.source, [*check.faults, "states and events must be mappings"])
    for names, what in ((raw_states, "state"), (raw_events, "event")):
        for name in names:
            if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
                check.fault(names, name, f"{what} {name!r}: a name is an English identifier (letters, digits, _)")
    return raw_states, raw_events


def _states(check: _Checker, raw_states: dict[str, Any], event_names: set[str]) -> dict[str, StateDef]:
    states: dict[str, StateDef] = {}
    for name, spec in raw_states.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            check.fault(raw_states, name, f"state {name!r}: must be a mapping")
            continue
        check.unknown_keys(spec, _STATE_KEYS, f"state {name!r}")
        if not spec.get("label"):
            check.fault(raw_states, name, f"state {name!r}: needs a Chinese label")
        terminal = bool(spec.get("terminal", False))
        deadline = None
        if "deadline" in spec and terminal:
            check.fault(spec, "deadline", f"state {name!r}: a terminal state cannot have a deadline")
        elif "deadline" in spec:
            deadline = _deadline(check, name, spec["deadline"], event_names)
        states[name] = StateDef(name, str(spec.get("label", name)), terminal, deadline,
                                bool(spec.get("pauses_clock", False)))
    return states


def _events(check: _Checker, raw_events: dict[str, Any], states: dict[str, StateDef],
            bound_effects: Collection[str]) -> dict[str, EventDef]:
    events: dict[str, EventDef] = {}
    for name, spec in raw_events.items():
        if not isinstance(spec, dict):
            check.fault(raw_events, name, f"event {name!r}: must be a mapping")
            continue
        events[name] = _event(check, raw_events, name, spec, states, bound_effects)
    return events


def _event(check: _Checker, raw_events: dict[str, Any], name: str, spec: dict[str, Any],
           states: dict[str, StateDef], bound_effects: Collection[str]) -> EventDef:
    what = f"event {name!r}"
    check.unknown_keys(spec, _EVENT_KEYS, what)
    sources = _event_sources(check, raw_events, name, spec, states)
    _check_event_target(check, raw_events, name, spec, states)
    roles = _names(check, spec, "roles", spec.get("roles"), what)
    if not roles:
        check.fault(raw_events, name, f"{what}: needs at least one role")
    for role in roles:
        if not valid_role(role):
            check.fault(spec, "roles", f"{what}: unknown role {role!r} (a role, or role@level)")
    guards = _event_guards(check, spec, states, what)
    effects = _names(check, spec, "effects", spec.get("effects"), what)
    for effect in effects:
        if effect not in EFFECTS and effect not in bound_effects:
            check.fault(spec, "effects", f"{what}: unknown effect {effect!r}")
    return EventDef(
        name=name, label=str(spec.get("label", name)), sources=sources, dest=spec.get("to"),
        roles=frozenset(roles), requires=_names(check, spec, "requires", spec.get("requires"), what),
        guards=guards, effects=effects, action=spec.get("action"), otherwise=spec.get("otherwise"),
    )


def _event_sources(check: _Checker, raw_events: dict[str, Any], name: str, spec: dict[str, Any],
                   states: dict[str, StateDef]) -> tuple[str, ...]:
    """The states an event leaves: named ones, none of them terminal, or ``*`` for every non-terminal state
    (supervision events)."""
    what = f"event {name!r}"
    sources = _names(check, spec, "from", spec.get("from"), what)
    if sources == ("*",):
        sources = tuple(state for state, state_def in states.items() if not state_def.terminal)
    if not sources:
        check.fault(raw_events, name, f"{what}: needs at least one 'from' state")
    for source_state in sources:
        if source_state not in states:
            check.fault(spec, "from", f"{what}: unknown state {source_state!r} in 'from'")
        elif states[source_state].terminal:
            check.fault(spec, "from", f"{what}: cannot leave terminal state {source_state!r}")
    return sources


def _check_event_target(check: _Checker, raw_events: dict[str, Any], name: str, spec: dict[str, Any],
                        states: dict[str, StateDef]) -> None:
    """An event leads to a known state (``to``), unless its action decides: escalation may keep the state,
    supervision always does."""
    what = f"event {name!r}"
    dest = spec.get("to")
    action = spec.get("action")
    if action is not None and action not in EVENT_ACTIONS:
        check.fault(spec, "action", f"{what}: unknown action {action!r}")
    if dest is None and action not in EVENT_ACTIONS:
        check.fault(raw_events, name, f"{what}: needs a 'to' state")
    elif dest is not None and action in SUPERVISION_ACTIONS:
        check.fault(spec, "to", f"{what}: a supervision event ({action}) keeps the case's state: no 'to'")
    elif dest is not None and dest not in states:
        check.fault(spec, "to", f"{what}: unknown state {dest!r} in 'to'")


def _event_guards(check: _Checker, spec: dict[str, Any], states: dict[str, StateDef],
                  what: str) -> tuple[str, ...]:
    """The guards, each a registered name; ``otherwise`` (where a refused event leads) is a state and needs them."""
    otherwise = spec.get("otherwise")
    if otherwise is not None and otherwise not in states:
        check.fault(spec, "otherwise", f"{what}: unknown state {otherwise!r} in 'otherwise'")
    guards = _names(check, spec, "guards", spec.get("guards"), what)
    if otherwise is not None and not guards:
        check.fault(spec, "otherwise", f"{what}: 'otherwise' needs guards that decide between the targets")
    for guard in guards:
        if guard not in GUARDS:
            check.fault(spec, "guards", f"{what}: unknown guard {guard!r}")
    return guards


def _check_escalations(check: _Checker, states: dict[str, StateDef], events: dict[str, EventDef]) -> None:
    """A state whose deadline escalates has an escalate event leaving it."""
    for name, state in states.items():
        deadline = state.deadline
        if deadline and deadline.on_timeout == "escalate" and not any(
            event.escalates and name in event.sources for event in events.values()
        ):
            check.faults.append(f"state {name!r}: escalates on timeout but no escalate event leaves it")


def _config(check: _Checker, raw: dict[str, Any]) -> dict[str, Any]:
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        check.fault(raw, "config", "definition: config must be a mapping")
        return {}
    return dict(config)


def _check_opening(check: _Checker, raw: dict[str, Any], owner_levels: tuple[str, ...]) -> None:
    """Who may open a case (``open_roles``), the levels owning cases and the level a case opens at are known."""
    for role in _names(check, raw, "open_roles", raw.get("open_roles"), "definition"):
        if not valid_role(role):
            check.fault(raw, "open_roles", f"definition: unknown role {role!r} in open_roles")
    for level in owner_levels:
        if level not in LEVELS:
            check.fault(raw, "owner_levels", f"definition: unknown level {level!r}")
    if raw.get("open_level") not in (None, *LEVELS):
        check.fault(raw, "open_level", f"definition: unknown level {raw.get('open_level')!r}")


def _personal(check: _Checker, raw: Any, block: Any) -> tuple[PersonalRule, ...]:
    """``personal:`` maps a data path to a rule, or to a list of rules of which the first whose ``when`` flag
    holds applies (the last without ``when``)."""
    if block is None:
        return ()
    if not isinstance(block, dict):
        check.fault(raw, "personal", "personal: maps a data field path to its masking rule")
        return ()
    rules: list[PersonalRule] = []
    for path, specs in block.items():
        if not isinstance(path, str) or not all(part and (part == "*" or part.isidentifier())
                                                for part in path.split(".")):
            check.fault(block, path, f"personal field {path!r}: a path is names separated by dots, "
                        "* for every item of a list")
            continue
        specs = specs if isinstance(specs, list) else [specs]
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict):
                check.fault(block, path, f"personal field {path!r}: a rule is a mapping with mask and seen_by")
                continue
            if spec.get("when") is None and index < len(specs) - 1:
                check.fault(block, path, f"personal field {path!r}: only the last of its rules may go without 'when'")
            rules.append(_personal_rule(check, block, path, spec))
    return tuple(rules)


def _personal_rule(check: _Checker, block: dict[str, Any], path: str, spec: dict[str, Any]) -> PersonalRule:
    """One masking rule of a personal field: its style, who sees the value whole, the flag it applies under."""
    what = f"personal field {path!r}"
    check.unknown_keys(spec, _PERSONAL_KEYS, what)
    style = spec.get("mask")
    if style not in STYLES:
        check.fault(spec if "mask" in spec else block, "mask" if "mask" in spec else path,
                    f"{what}: mask must be one of {', '.join(STYLES)}")
    seen_by = _names(check, spec, "seen_by", spec.get("seen_by"), what)
    for grant in seen_by:
        role, _, relation = grant.partition("@")
        if role not in ROLES - {"system"} or (relation and relation not in RELATIONS):
            check.fault(spec, "seen_by", f"{what}: unknown role or unit {grant!r} in seen_by "
                        f"(a role, role@owner or role@<level>)")
    when = spec.get("when")
    if when is not None and not isinstance(when, str):
        check.fault(spec, "when", f"{what}: when names a flag of the case data")
    return PersonalRule(path=path, label=str(spec.get("label") or path), style=str(style),
                        grants=tuple(Grant.parse(grant) for grant in seen_by), when=when,
                        placeholder=spec.get("placeholder"))


def valid_role(role: str) -> bool:
    """A role, or a role held at one level (``reviewer@city``: a reviewer of a city-level unit)."""
    name, _, level = role.partition("@")
    return name in ROLES and (not level or level in LEVELS)


def workable_at(role: str, level: str) -> bool:
    """Whether a holder of ``role`` at a unit of ``level`` (the unit owning the case) can use it."""
    name, _, qualifier = role.partition("@")
    return name != "system" and qualifier in ("", level)


def _check_workable(check: _Checker, raw_states: Any, raw_events: Any, states: dict[str, StateDef],
                    events: dict[str, EventDef], levels: tuple[str, ...]) -> None:
    """Every non-terminal state can be worked by the owning unit at every level a case can be owned at
    (escalation, assignment and take-over bring any state to any of them); and what a street clerk or mediator
    may do, the same role may do at the city."""
    for name, state in states.items():
        if state.terminal:
            continue
        working = [event for event in events.values() if name in event.sources and event.works]
        for level in levels:
            if not any(workable_at(role, level) for event in working for role in event.roles):
                check.fault(raw_states, name, f"state {name!r}: nobody at {level} level can work it "
                            "(no event leaving it with a role held at that level)")
    if "city" not in levels:
        return
    for name, event in events.items():
        for role in sorted(event.roles):
            base, _, qualifier = role.partition("@")
            if qualifier == "street" and base not in event.roles and f"{base}@city" not in event.roles:
                where = raw_events.get(name) if isinstance(raw_events.get(name), dict) else raw_events
                check.fault(where, "roles" if where is not raw_events else name,
                            f"event {name!r}: {role!r} may fire it but not {base!r} at the city, "
                            "where the case can be owned too")


def _check_graph(check: _Checker, states: dict[str, StateDef], events: dict[str, EventDef],
                 initial: Any, alternatives: tuple[str, ...] = ()) -> None:
    """Every state is reachable from the initial ones, and every non-terminal state has a way out."""
    if initial not in states:
        return
    successors = _successors(states, events)
    reachable = _reachable(successors, [initial, *(name for name in alternatives if name in states)])
    for name in states:
        if name not in reachable:
            check.faults.append(f"state {name!r} is unreachable from {initial!r}")
        elif not states[name].terminal and not (successors[name] - {name}):
            check.faults.append(f"state {name!r} is not terminal but no event leads out of it")


def _successors(states: dict[str, StateDef], events: dict[str, EventDef]) -> dict[str, set[str]]:
    """The states each state leads to, through an event's target or its ``otherwise``."""
    successors: dict[str, set[str]] = {name: set() for name in states}
    for event in events.values():
        for source_state in event.sources:
            if source_state not in successors:
                continue
            successors[source_state].update(
                target for target in (event.target(source_state), event.otherwise) if target in states)
    return successors


def _reachable(successors: dict[str, set[str]], starts: list[str]) -> set[str]:
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for target in successors[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def parse_text(text: str, source: str, effects: Collection[str] = ()) -> Definition:
    """Validate the YAML text of one definition (a file's, or one deployed at runtime) and build it."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (strict safe loader)
    except yaml.YAMLError as error:
        raise DefinitionError(source, [str(error).replace("\n", " ")]) from error
    except (ValueError, TypeError, RecursionError) as error:   # a date such as 2026-13-45, a list as a key
        raise DefinitionError(source, [f"not a definition: {type(error).__name__}: {error}"]) from error
    return parse_definition(raw, source, effects)


def load_file(path: Path, effects: Collection[str] = ()) -> Definition:
    source = str(path)
    definition = parse_text(path.read_text(encoding="utf-8"), source, effects)
    expected = f"{definition.key}.v{definition.version}"
    if path.name.split(".yaml")[0] not in (expected, definition.key):
        raise DefinitionError(source, [f"the file of {definition.key} v{definition.version} must be named "
                                       f"{expected}.yaml"])
    return definition


class Catalog:
    """Every definition, by key and version; built once at start-up."""

    def __init__(self, definitions: list[Definition]) -> None:
        self._by_key: dict[str, dict[int, Definition]] = {}
        self.generation = 0   # moves on every install or removal, so that answers cached per catalog expire
        for definition in definitions:
            versions = self._by_key.setdefault(definition.key, {})
            if definition.version in versions:
                raise DefinitionError(definition.source, [
                    f"{definition.key} v{definition.version} is also defined in {versions[definition.version].source}"
                ])
            versions[definition.version] = definition

    @classmethod
    def from_directory(cls, directory: Path | str, effects: Collection[str] = ()) -> Catalog:
        """Every definition file of ``directory`` (``effects``: the names the service binds, as for
        ``parse_definition``)."""
        files = sorted(Path(directory).glob("*.yaml"))
        faults: list[DefinitionError] = []
        definitions: list[Definition] = []
        for path in files:
            try:
                definitions.append(load_file(path, effects))
            except DefinitionError as error:
                faults.append(error)
        if faults:
            raise DefinitionError(str(directory), [str(fault) for fault in faults])
        return cls(definitions)

    def install(self, definition: Definition) -> None:
        """Add (or replace) one version while requests read the catalog: the mappings are swapped, never
        changed in place, so a reader sees the catalog before or after, never half of it."""
        by_key = dict(self._by_key)
        by_key[definition.key] = {**by_key.get(definition.key, {}), definition.version: definition}
        self._by_key = by_key
        self.generation += 1

    def remove(self, key: str, version: int) -> None:
        by_key = dict(self._by_key)
        versions = {number: found for number, found in by_key.get(key, {}).items() if number != version}
        if versions:
            by_key[key] = versions
        else:
            by_key.pop(key, None)
        self._by_key = by_key
        self.generation += 1

    def versions(self, key: str) -> list[Definition]:
        """Every version of ``key``, oldest first (none for an unknown key)."""
        versions = self._by_key.get(key, {})
        return [versions[number] for number in sorted(versions)]

    def keys(self) -> list[str]:
        return sorted(self._by_key)

    def get(self, key: str, version: int | None = None) -> Definition:
        versions = self._by_key.get(key)
        if not versions:
            raise UnknownDefinition(f"没有名为 {key!r} 的流程定义", key=key)
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise UnknownDefinition(f"流程定义 {key!r} 没有第 {version} 版", key=key, version=version)
        return versions[version]

    def latest(self) -> list[Definition]:
        return [self.get(key) for key in self.keys()]

    def all(self) -> list[Definition]:
        return [d for key in self.keys() for d in self._by_key[key].values()]
