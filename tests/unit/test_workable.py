"""Every level can work a case: the loader refuses a state nobody at a level can move on, each shipped definition
declares the supervision events, and for each open state at each level a case can be owned at there is a demo
user who can act on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.demo import ENTERPRISES, USERS
from api.plugins import bound_effects
from workflow.definitions import LEVELS, Catalog, load_file
from workflow.errors import DefinitionError

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
CATALOG = Catalog.from_directory(DEFINITIONS, effects=bound_effects())

SAMPLE = """\
key: sample
version: 1
title: 样例
initial: open
states:
  open: {label: 待办}
  done: {label: 办结, terminal: true}
events:
  finish: {label: 办结, from: [open], to: done, roles: [ROLES]}
  assign: {label: 交办, from: "*", roles: [clerk, admin], requires: [org_unit, instruction], action: assign}
"""


def load(tmp_path: Path, roles: str, extra: str = "") -> object:
    path = tmp_path / "sample.v1.yaml"
    path.write_text(SAMPLE.replace("ROLES", roles) + extra, encoding="utf-8")
    return load_file(path)


def test_a_state_only_street_clerks_can_work_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as error:
        load(tmp_path, "clerk@street")
    text = str(error.value)
    assert "line 6: state 'open': nobody at enterprise level can work it" in text
    assert "nobody at city level can work it" in text
    assert "'clerk@street' may fire it but not 'clerk' at the city" in text
    assert "sample.v1.yaml" in text


def test_a_state_the_system_alone_moves_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="state 'open': nobody at street level can work it"):
        load(tmp_path, "system")


def test_street_and_city_qualified_roles_leave_only_the_enterprise_level_unworked(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as error:
        load(tmp_path, "clerk@street, clerk@city")
    assert "nobody at enterprise level can work it" in str(error.value)
    assert "street level" not in str(error.value) and "city level" not in str(error.value)


def test_owner_levels_bound_where_a_state_must_be_workable(tmp_path: Path) -> None:
    definition = load(tmp_path, "clerk@street, clerk@city", extra="owner_levels: [street, city]\n")
    assert definition.events["assign"].sources == ("open",)   # type: ignore[attr-defined]  # "*": open states
    assert definition.events["assign"].supervises   # type: ignore[attr-defined]


def test_a_supervision_event_keeps_the_state(tmp_path: Path) -> None:
    path = tmp_path / "sample.v1.yaml"
    path.write_text(SAMPLE.replace("ROLES", "clerk").replace("action: assign", "to: done, action: assign"),
                    encoding="utf-8")
    with pytest.raises(DefinitionError, match="supervision event .assign. keeps the case's state"):
        load_file(path)


@pytest.mark.parametrize("definition", CATALOG.all(), ids=lambda d: f"{d.key}.v{d.version}")
def test_every_definition_declares_the_supervision_events(definition: object) -> None:
    events = definition.events  # type: ignore[attr-defined]
    assert {name: events[name].action for name in ("assign", "take_over", "urge")} == {
        "assign": "assign", "take_over": "take_over", "urge": "urge"}
    open_states = {name for name, state in definition.states.items() if not state.terminal}  # type: ignore[attr-defined]
    assert set(events["urge"].sources) == open_states


# a demo unit at each level, and the path of each demo unit
UNIT_AT = {"enterprise": "cd-e001", "street": "chengdong", "city": "wenling"}
PARENT = {code: street for code, _, street, _ in ENTERPRISES} | {"chengdong": "wenling", "daxi": "wenling",
                                                                 "chengbei": "wenling", "wenling": None}
LEVEL_OF = {code: "enterprise" for code, *_ in ENTERPRISES} | {"chengdong": "street", "daxi": "street",
                                                               "chengbei": "street", "wenling": "city"}


def _ancestors_or_self(code: str) -> list[str]:
    chain: list[str] = []
    current: str | None = code
    while current is not None:
        chain.append(current)
        current = PARENT[current]
    return chain


@pytest.mark.parametrize("definition", CATALOG.all(), ids=lambda d: f"{d.key}.v{d.version}")
def test_each_open_state_at_each_owner_level_has_a_demo_user_who_can_act(definition: object) -> None:
    missing = []
    for name, state in definition.states.items():  # type: ignore[attr-defined]
        if state.terminal:
            continue
        working = [event for event in definition.events_from(name) if event.works]  # type: ignore[attr-defined]
        for level in definition.owner_levels:  # type: ignore[attr-defined]
            unit = UNIT_AT[level]
            able = [username for username, user_unit, roles, _ in USERS
                    if user_unit in _ancestors_or_self(unit)
                    and any((set(roles) | {f"{role}@{LEVEL_OF[user_unit]}" for role in roles}) & event.roles
                            for event in working)]
            if not able:
                missing.append(f"{name} at {level}")
    assert missing == []
    assert set(definition.owner_levels) <= set(LEVELS)  # type: ignore[attr-defined]


def test_the_city_clerk_can_fire_whatever_a_street_clerk_or_mediator_can() -> None:
    (city_clerk,) = [roles for username, _, roles, _ in USERS if username == "city_clerk"]
    assert set(city_clerk) == {"clerk", "mediator"}
    for definition in CATALOG.all():
        for event in definition.events.values():
            for role in ("clerk", "mediator"):
                if role in event.roles or f"{role}@street" in event.roles:
                    assert role in event.roles or f"{role}@city" in event.roles, (definition.key, event.name)
