"""The diff of two definition versions, in words a clerk reads (a pure function, no app)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.plugins import bound_effects
from workflow.definitions import Catalog, Definition, parse_text
from workflow.diff import diff

ROOT = Path(__file__).resolve().parents[2]
V1_TEXT = (ROOT / "definitions" / "mediation_case.v1.yaml").read_text(encoding="utf-8")


def v2(*replacements: tuple[str, str]) -> Definition:
    text = V1_TEXT.replace("version: 1\n", "version: 2\n")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return parse_text(text, "v2")


@pytest.fixture(scope="module")
def v1() -> Definition:
    return parse_text(V1_TEXT, "v1")


def texts(old: Definition, new: Definition) -> list[str]:
    return [change.text for change in diff(old, new)]


def test_the_same_definition_has_no_differences(v1: Definition) -> None:
    assert diff(v1, v2()) == []


def test_a_lengthened_period_reads_as_the_old_and_the_new_period(v1: Definition) -> None:
    new = v2(("period: {working_days: 3}", "period: {working_days: 5}"))
    (change,) = diff(v1, new)
    assert (change.kind, change.subject, change.name) == ("changed", "deadline", "registered")
    assert change.text == "已登记 的期限 3个工作日 → 5个工作日"


def test_deadlines_per_level_warnings_and_timeouts(v1: Definition) -> None:
    new = v2(("period: {days: 15}", "period: {street: {days: 15}, city: {working_days: 10}}"),
             ("warn_before: {days: 3}", "warn_before: {days: 5}"),
             ("      on_timeout: remind", "      on_timeout: breach"))
    assert texts(v1, new) == [
        "调解中 的期限 15日 → 市级 10个工作日、镇街 15日",
        "调解中 的到期前提醒 3日 → 5日",
        "已达成协议 到期后 提醒承办人 → 自动未履行协议",
    ]


def test_states_events_roles_guards_and_required_data_added_and_removed(v1: Definition) -> None:
    new = v2(("  closed: {label: 已结案, terminal: true}",
              "  reviewing:\n    label: 复核中\n    deadline: {period: {working_days: 2}, on_timeout: remind}\n"
              "  closed: {label: 已结案, terminal: true}"),
             ("  fulfil:\n    label: 履行完毕\n    from: [agreed]\n    to: closed\n",
              "  fulfil:\n    label: 履行完毕\n    from: [agreed]\n    to: reviewing\n"),
             ("  breach:\n", "  confirm:\n    label: 确认结案\n    from: [reviewing]\n    to: closed\n"
              "    roles: [reviewer]\n  breach:\n"),
             ("    to: mediating\n    roles: [mediator, clerk]\n    requires: [mediator]",
              "    to: mediating\n    roles: [mediator, admin]\n    requires: [mediator, reason]"),
             ("    requires: [parties_consent, days]\n    guards: [parties_consent_given]",
              "    requires: [parties_consent, days]"))
    found = texts(v1, new)
    assert "新增状态 复核中（reviewing），期限 2个工作日" in found
    assert "事件 履行完毕 的去向 已结案 → 复核中" in found
    assert "新增事件 确认结案（confirm）：复核中 → 已结案，可由 审核员 办理" in found
    assert "事件 受理 的办理角色新增 管理员" in found and "事件 受理 的办理角色去掉 办事员" in found
    assert "事件 受理 的必填项新增 reason" in found
    assert "事件 延长调解期限 的办理条件去掉 parties_consent_given" in found
    back = texts(new, v1)
    assert "删除状态 复核中（reviewing）" in back and "删除事件 确认结案（confirm）" in back


def test_every_definition_file_against_itself_is_empty() -> None:
    for definition in Catalog.from_directory(ROOT / "definitions", effects=bound_effects()).all():
        assert diff(definition, definition) == []


def test_any_other_setting_that_changes_is_named(v1: Definition) -> None:
    new = v2(("number_prefix: TJ", "number_prefix: TS"))
    assert texts(v1, new) == ["流程设置 案件编号前缀 有改动"]
