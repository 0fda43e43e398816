"""The definition loader refuses broken files with the file, the line and every reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.plugins import bound_effects
from workflow.definitions import Catalog, load_file
from workflow.engine import CaseView, Engine
from workflow.errors import DefinitionError

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"

GOOD = """\
key: sample
version: 1
title: 样例
initial: open
states:
  open: {label: 待办, deadline: {period: {working_days: 3}, on_timeout: escalate}}
  done: {label: 办结, terminal: true}
events:
  finish: {label: 办结, from: [open], to: done, roles: [clerk]}
  escalate: {label: 上报, from: [open], roles: [clerk, system], action: escalate}
"""


def write(tmp_path: Path, text: str, name: str = "sample.v1.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as error:
        load_file(write(tmp_path, text))
    return error.value


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_definition_loads(path: Path) -> None:
    definition = load_file(path, bound_effects())
    assert definition.states[definition.initial]
    assert all(state.label for state in definition.states.values())


def test_a_good_file_loads(tmp_path: Path) -> None:
    definition = load_file(write(tmp_path, GOOD))
    assert definition.terminal_states == {"done"}


@pytest.mark.parametrize(("change", "reason"), [
    (("to: done", "to: finished"), "unknown state 'finished' in 'to'"),
    (("from: [open], to: done", "from: [opened], to: done"), "unknown state 'opened' in 'from'"),
    (("roles: [clerk]}", "roles: [clerk], guards: [is_magic]}"), "unknown guard 'is_magic'"),
    (("roles: [clerk]}", "roles: [clerk], effects: [send_fax]}"), "unknown effect 'send_fax'"),
    (("roles: [clerk]}", "roles: [janitor]}"), "unknown role 'janitor'"),
    (("initial: open", "initial: start"), "initial state 'start' is not a state"),
    (("done: {label: 办结, terminal: true}", "done: {label: 办结, terminal: true, deadline: {period: {days: 1}}}"),
     "a terminal state cannot have a deadline"),
    (("{working_days: 3}", "{weeks: 3}"), "a period is one of"),
    (("on_timeout: escalate}", "on_timeout: explode}"), "on_timeout 'explode'"),
])
def test_a_broken_file_is_refused_with_the_reason(tmp_path: Path, change: tuple[str, str], reason: str) -> None:
    error = refused(tmp_path, GOOD.replace(*change))
    assert any(reason in fault for fault in error.reasons), error.reasons
    assert "sample.v1.yaml" in str(error)


def test_an_unreachable_state_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("  done: {label: 办结, terminal: true}\n",
                        "  done: {label: 办结, terminal: true}\n  limbo: {label: 悬置, terminal: true}\n")
    assert "state 'limbo' is unreachable from 'open'" in refused(tmp_path, text).reasons


def test_a_non_terminal_dead_end_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("  done: {label: 办结, terminal: true}", "  done: {label: 办结}")
    assert "state 'done' is not terminal but no event leads out of it" in refused(tmp_path, text).reasons


def test_a_duplicate_event_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = GOOD + "  finish: {label: 又一个, from: [open], to: done, roles: [clerk]}\n"
    error = refused(tmp_path, text)
    assert "duplicate key 'finish'" in str(error) and "line 9" in str(error)


def test_every_fault_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("to: done", "to: nowhere").replace("roles: [clerk]}", "roles: [janitor]}")
    assert len(refused(tmp_path, text).reasons) >= 2


def test_the_line_of_a_fault_is_named(tmp_path: Path) -> None:
    error = refused(tmp_path, GOOD.replace("roles: [clerk]}", "roles: [janitor]}"))
    assert any(fault.startswith("line 9:") for fault in error.reasons), error.reasons


def test_a_file_must_be_named_after_its_key_and_version(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="must be named sample.v1.yaml"):
        load_file(write(tmp_path, GOOD, name="other.v1.yaml"))


def test_not_yaml_at_all_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, "key: [unclosed").reasons


def test_version_two_leaves_running_version_one_cases_working(tmp_path: Path) -> None:
    shutil.copy(DEFINITIONS / "mediation_case.v1.yaml", tmp_path)
    v2 = (DEFINITIONS / "mediation_case.v1.yaml").read_text(encoding="utf-8")
    v2 = v2.replace("version: 1", "version: 2").replace("    requires: [mediator]\n",
                                                          "    requires: [mediator, venue]\n")
    write(tmp_path, v2, "mediation_case.v2.yaml")
    catalog = Catalog.from_directory(tmp_path)
    engine = Engine(catalog)
    assert catalog.get("mediation_case").version == 2
    old = CaseView("mediation_case", 1, "registered", "street", {})
    from datetime import UTC, datetime

    outcome = engine.fire(old, "accept", roles={"mediator"}, data={"mediator": "李"}, actor="m",
                          now=datetime.now(UTC))
    assert outcome.to_state == "mediating"
    assert catalog.get("mediation_case", 2).events["accept"].requires == ("mediator", "venue")


def test_the_directory_check_names_each_bad_file(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace("key: sample", "key: other").replace("to: done", "to: gone"), "other.v1.yaml")
    with pytest.raises(DefinitionError) as error:
        Catalog.from_directory(tmp_path)
    assert "other.v1.yaml" in str(error.value) and "sample.v1.yaml" not in str(error.value)


def test_gonghui_definitions_check_names_the_faults_and_fails(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from api.cli import cli

    write(tmp_path, GOOD.replace("to: done", "to: gone"))
    environment = {"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    result = CliRunner().invoke(cli, ["definitions", "check", str(tmp_path)], env=environment)
    assert result.exit_code == 1 and "unknown state 'gone'" in result.output
    assert CliRunner().invoke(cli, ["definitions", "check", str(DEFINITIONS)], env=environment).exit_code == 0
