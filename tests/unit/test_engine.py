"""The engine on the mediation definition, with no app and no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.plugins import bound_effects
from workflow.definitions import Catalog
from workflow.engine import CaseView, Engine
from workflow.errors import EventNotAllowed, GuardRejected, InvalidData, RoleNotPermitted, UnknownEvent

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Catalog.from_directory(DEFINITIONS, effects=bound_effects()))


def case(state: str, level: str = "street", **data: object) -> CaseView:
    return CaseView("mediation_case", 1, state, level, {"amount": "100.00", **data})


AGREEMENT = {"agreement": {"terms": "分两期支付", "amount": "8000.00", "perform_by": "2026-12-31"}}
ALLOWED = [
    ("registered", "accept", {"mediator": "李调解"}, "mediating"),
    ("registered", "reject", {"reason": "不属于调解范围"}, "rejected"),
    ("registered", "withdraw", {"reason": "已私下和解"}, "withdrawn"),
    ("mediating", "extend", {"parties_consent": True, "days": 10}, "mediating"),
    ("mediating", "agree", AGREEMENT, "agreed"),
    ("mediating", "fail", {"reason": "用人单位拒绝调解"}, "failed"),
    ("mediating", "withdraw", {"reason": "申请人撤回"}, "withdrawn"),
    ("agreed", "fulfil", {}, "closed"),
    ("agreed", "breach", {}, "failed"),
    ("registered", "escalate", {"reason": "企业调委会无法受理"}, "registered"),
    ("mediating", "escalate", {"reason": "需街道联合调解"}, "mediating"),
]


@pytest.mark.parametrize(("state", "event", "data", "target"), ALLOWED)
def test_every_mediation_event_moves_the_case_where_the_definition_says(
        engine: Engine, state: str, event: str, data: dict[str, object], target: str) -> None:
    outcome = engine.fire(case(state, level="enterprise"), event, roles={"mediator", "clerk"}, data=data,
                          actor="ent_clerk", now=NOW)
    assert outcome.from_state == state
    assert outcome.to_state == target
    assert outcome.changes == data
    assert outcome.history_entry()["actor"] == "ent_clerk"


def test_escalation_moves_the_case_one_level_up(engine: Engine) -> None:
    outcome = engine.fire(case("registered", level="enterprise"), "escalate", roles={"system"},
                          data={"reason": "超过3个工作日未受理"}, actor="system", now=NOW)
    assert (outcome.level_from, outcome.level_to, outcome.escalated) == ("enterprise", "street", True)


def test_a_city_case_cannot_be_escalated(engine: Engine) -> None:
    with pytest.raises(EventNotAllowed):
        engine.fire(case("registered", level="city"), "escalate", roles={"clerk"}, data={"reason": "x"},
                    actor="c", now=NOW)


REFUSED_STATES = [
    (state, event) for state in ("registered", "mediating", "agreed")
    for event in ("accept", "reject", "extend", "agree", "fail", "fulfil", "breach", "withdraw")
    if (state, event) not in {(s, e) for s, e, _, _ in ALLOWED}
]


@pytest.mark.parametrize(("state", "event"), REFUSED_STATES)
def test_an_event_not_allowed_in_the_state_is_refused_with_the_allowed_ones(
        engine: Engine, state: str, event: str) -> None:
    with pytest.raises(EventNotAllowed) as refused:
        engine.fire(case(state), event, roles={"mediator", "clerk"}, data={}, actor="m", now=NOW)
    assert event not in refused.value.allowed_events


@pytest.mark.parametrize("terminal", ["closed", "rejected", "failed", "withdrawn"])
def test_nothing_leaves_a_terminal_state(engine: Engine, terminal: str) -> None:
    assert engine.allowed_events(case(terminal), {"mediator", "clerk", "admin"}) == []


def test_an_unknown_event_is_refused_with_the_allowed_events(engine: Engine) -> None:
    with pytest.raises(UnknownEvent) as refused:
        engine.fire(case("registered"), "teleport", roles={"mediator"}, data={}, actor="m", now=NOW)
    assert set(refused.value.allowed_events) == {"accept", "reject", "withdraw", "escalate"}


@pytest.mark.parametrize(("event", "role"), [("agree", "counter"), ("accept", "viewer"), ("extend", "clerk")])
def test_a_role_without_permission_is_refused(engine: Engine, event: str, role: str) -> None:
    state = "registered" if event == "accept" else "mediating"
    with pytest.raises(RoleNotPermitted):
        engine.fire(case(state), event, roles={role}, data={}, actor="x", now=NOW)


@pytest.mark.parametrize(("state", "event", "field"), [
    ("registered", "accept", "mediator"), ("registered", "reject", "reason"), ("mediating", "fail", "reason"),
    ("mediating", "agree", "agreement"), ("mediating", "extend", "days"),
])
def test_missing_required_data_is_named(engine: Engine, state: str, event: str, field: str) -> None:
    with pytest.raises(InvalidData) as refused:
        engine.fire(case(state), event, roles={"mediator"}, data={}, actor="m", now=NOW)
    assert field in refused.value.errors


def test_extending_without_both_parties_consent_is_refused_by_the_guard(engine: Engine) -> None:
    with pytest.raises(GuardRejected) as refused:
        engine.fire(case("mediating"), "extend", roles={"mediator"}, data={"parties_consent": False, "days": 5},
                    actor="m", now=NOW)
    assert "parties_consent" in refused.value.errors


def test_event_data_is_merged_into_the_case_data(engine: Engine) -> None:
    outcome = engine.fire(case("registered", claims="工资"), "accept", roles={"mediator"},
                          data={"mediator": "李调解"}, actor="m", now=NOW)
    assert outcome.data == {"amount": "100.00", "claims": "工资", "mediator": "李调解"}


def test_allowed_events_depend_on_the_roles_held(engine: Engine) -> None:
    assert engine.allowed_events(case("mediating"), {"clerk"}) == ["agree", "fail", "withdraw", "escalate"]
    assert "agree" in engine.allowed_events(case("mediating"), {"mediator"})
