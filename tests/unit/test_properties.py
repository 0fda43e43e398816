"""Properties of the engine over every definition, explored by hypothesis (stateful), and of the calendar."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from api.plugins import bound_effects
from workflow.calendar import WorkCalendar, add_days, add_working_days
from workflow.definitions import LEVELS, Catalog, Definition
from workflow.engine import CaseView, Engine
from workflow.errors import WorkflowError

CATALOG = Catalog.from_directory(Path(__file__).resolve().parents[2] / "definitions", effects=bound_effects())
ENGINE = Engine(CATALOG)
EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "60"))
ALL_SIX = {"chair": True, "organization": True, "venue": True, "rules": True, "funds": True, "performance": True}
VALUES = st.one_of(st.just("说明"), st.booleans(), st.integers(min_value=1, max_value=30), st.just(ALL_SIX),
                   st.just(["id_card", "bank_card", "invoice", "itemized_bill", "insurance_settlement",
                            "discharge_summary", "diagnosis_certificate"]), st.none())
ROLES = st.sets(st.sampled_from(["admin", "clerk", "mediator", "reviewer", "counter", "viewer", "system",
                                 "clerk@street", "clerk@city", "reviewer@city"]), min_size=1)


def machine_for(definition: Definition) -> type[RuleBasedStateMachine]:
    names = sorted(definition.events) + ["no_such_event"]
    fields = sorted({name for event in definition.events.values() for name in event.requires} | {"parties_consent",
                                                                                                   "six_standards"})

    class CaseMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.level = "enterprise" if "enterprise" in definition.owner_levels else "street"
            self.case = CaseView(definition.key, definition.version, definition.initial, self.level, {})
            self.now = datetime(2026, 11, 24, 2, tzinfo=UTC)
            self.fired: list[tuple[str, dict[str, Any], frozenset[str], datetime]] = []

        @rule(event=st.sampled_from(names), roles=ROLES,
              data=st.fixed_dictionaries({}, optional={name: VALUES for name in fields}),
              hours=st.integers(min_value=0, max_value=24 * 20))
        def fire(self, event: str, roles: set[str], data: dict[str, Any], hours: int) -> None:
            before = self.case
            self.now += timedelta(hours=hours)
            try:
                outcome = ENGINE.fire(self.case, event, roles=roles, data=data, actor="x", now=self.now)
            except WorkflowError:
                assert self.case == before   # a refused event changes nothing
                return
            self.case = CaseView(definition.key, definition.version, outcome.to_state, outcome.level_to, outcome.data)
            self.fired.append((event, data, frozenset(roles), self.now))

        @invariant()
        def the_state_and_level_exist(self) -> None:
            assert self.case.state in definition.states
            assert self.case.level in LEVELS

        @invariant()
        def replaying_the_history_reproduces_the_case(self) -> None:
            replay = CaseView(definition.key, definition.version, definition.initial, self.level, {})
            for event, data, roles, at in self.fired:
                outcome = ENGINE.fire(replay, event, roles=roles, data=data, actor="x", now=at)
                replay = CaseView(definition.key, definition.version, outcome.to_state, outcome.level_to,
                                  outcome.data)
            assert (replay.state, replay.level, replay.data) == (self.case.state, self.case.level, self.case.data)

        @invariant()
        def nothing_leaves_a_terminal_state(self) -> None:
            if definition.states[self.case.state].terminal:
                assert ENGINE.allowed_events(self.case, {"admin", "clerk", "mediator", "reviewer", "counter",
                                                         "system", "clerk@street", "reviewer@city"}) == []

    CaseMachine.__name__ = f"{definition.key}_machine"
    return CaseMachine


@pytest.mark.parametrize("definition", CATALOG.all(), ids=lambda d: f"{d.key}.v{d.version}")
def test_no_sequence_of_events_breaks_a_case(definition: Definition) -> None:
    run_state_machine_as_test(machine_for(definition), settings=settings(
        max_examples=EXAMPLES, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


INSTANTS = st.datetimes(min_value=datetime(2004, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(start=INSTANTS, days=st.integers(min_value=1, max_value=90))
def test_a_deadline_is_never_before_the_instant_it_was_set(start: datetime, days: int) -> None:
    calendar = WorkCalendar()
    for due in (add_days(calendar, start, days), add_working_days(calendar, start, days)):
        assert due.at > start
    assert add_days(calendar, start, days).at >= start + timedelta(days=days)
