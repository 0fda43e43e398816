"""What changes between two versions of a definition, in words a clerk reads.

A pure function over two :class:`~workflow.definitions.Definition` values: states, events, roles, guards,
effects, required data and deadlines added, removed or changed, each as one :class:`Change` with a Chinese
sentence ("已登记 的期限 3个工作日 → 5个工作日"). Imports nothing but the definitions module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workflow.definitions import DeadlineSpec, Definition, EventDef, Period, StateDef

ROLE_LABELS = {"admin": "管理员", "clerk": "办事员", "mediator": "调解员", "reviewer": "审核员", "counter": "服务窗口",
               "viewer": "查阅人员", "system": "系统"}
LEVEL_LABELS = {"enterprise": "基层", "street": "镇街", "city": "市级", "*": ""}
TIMEOUT_LABELS = {"escalate": "上报上级", "remind": "提醒承办人"}
KIND_LABELS = {"added": "新增", "removed": "删除", "changed": "修改"}


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` added/removed/changed, ``subject`` state/event/role/guard/effect/requires/
    deadline/definition, ``name`` the state or event it concerns, ``text`` the sentence for people."""

    kind: str
    subject: str
    name: str
    text: str


def period_text(period: Period | None) -> str:
    if period is None:
        return "无"
    return f"{period.count}个工作日" if period.unit == "working_days" else f"{period.count}日"


def role_text(role: str) -> str:
    name, _, level = role.partition("@")
    label = ROLE_LABELS.get(name, name)
    return f"{LEVEL_LABELS.get(level, level)}{label}" if level else label


def _roles_text(roles: frozenset[str] | set[str]) -> str:
    return "、".join(role_text(role) for role in sorted(roles)) or "无"


def deadline_text(spec: DeadlineSpec | None) -> str:
    """The whole deadline in one phrase: "3个工作日", "镇街 5个工作日、市级 10个工作日", "至 agreement.perform_by"."""
    if spec is None:
        return "无期限"
    if spec.until_field:
        return f"至 {spec.until_field} 所填日期"
    parts = [f"{LEVEL_LABELS.get(level, level)} {period_text(period)}".strip()
             for level, period in sorted(spec.periods.items())]
    return "、".join(parts) or "无期限"


def _state_label(definition: Definition, name: str) -> str:
    state = definition.states.get(name)
    return state.label if state else name


def _states_text(definition: Definition, names: tuple[str, ...] | list[str]) -> str:
    return "、".join(_state_label(definition, name) for name in names) or "无"


def _event_label(old: Definition, new: Definition, name: str) -> str:
    event = new.events.get(name) or old.events.get(name)
    return event.label if event else name


def _deadline_changes(label: str, name: str, old: DeadlineSpec | None, new: DeadlineSpec | None,
                      events: dict[str, str]) -> list[Change]:
    if old == new:
        return []
    if old is None:
        return [Change("added", "deadline", name, f"{label} 新增期限 {deadline_text(new)}")]
    if new is None:
        return [Change("removed", "deadline", name, f"{label} 取消期限（原为 {deadline_text(old)}）")]
    changes = []
    if (old.periods, old.until_field) != (new.periods, new.until_field):
        changes.append(Change("changed", "deadline", name,
                              f"{label} 的期限 {deadline_text(old)} → {deadline_text(new)}"))
    levels = sorted(set(old.category_periods) | set(new.category_periods))
    for category in levels:
        before, after = old.category_periods.get(category), new.category_periods.get(category)
        if before != after:
            changes.append(Change("changed", "deadline", name, f"{label} 对“{category}”类的期限 "
                                  f"{period_text(before)} → {period_text(after)}"))
    if old.warn_before != new.warn_before:
        changes.append(Change("changed", "deadline", name, f"{label} 的到期前提醒 {period_text(old.warn_before)} → "
                              f"{period_text(new.warn_before)}"))
    if old.on_timeout != new.on_timeout:
        changes.append(Change("changed", "deadline", name,
                              f"{label} 到期后 {_timeout_text(old, events)} → {_timeout_text(new, events)}"))
    if old.since != new.since:
        changes.append(Change("changed", "deadline", name,
                              f"{label} 的期限起算 {_since_text(old)} → {_since_text(new)}"))
    return changes


def _timeout_text(spec: DeadlineSpec, events: dict[str, str]) -> str:
    return TIMEOUT_LABELS.get(spec.on_timeout) or f"自动{events.get(spec.on_timeout, spec.on_timeout)}"


def _since_text(spec: DeadlineSpec) -> str:
    if spec.since == "case_opened":
        return "自立案之日"
    if spec.since.startswith("field:"):
        return f"自 {spec.since[6:]} 所填时间"
    return "自进入该状态"


def _state_changes(old: Definition, new: Definition) -> list[Change]:
    events = {name: event.label for name, event in {**old.events, **new.events}.items()}
    changes = []
    for name, state in new.states.items():
        before = old.states.get(name)
        if before is None:
            extra = "（终结状态）" if state.terminal else (f"，期限 {deadline_text(state.deadline)}"
                                                         if state.deadline else "")
            changes.append(Change("added", "state", name, f"新增状态 {state.label}（{name}）{extra}"))
            continue
        changes.extend(_changed_state(before, state, events))
    for name, state in old.states.items():
        if name not in new.states:
            changes.append(Change("removed", "state", name, f"删除状态 {state.label}（{name}）"))
    if old.initial != new.initial:
        changes.append(Change("changed", "definition", "initial", f"新案件的起始状态 {_state_label(old, old.initial)}"
                              f" → {_state_label(new, new.initial)}"))
    return changes


def _changed_state(old: StateDef, new: StateDef, events: dict[str, str]) -> list[Change]:
    changes = []
    if old.label != new.label:
        changes.append(Change("changed", "state", new.name, f"状态 {old.label} 改名为 {new.label}"))
    if old.terminal != new.terminal:
        now_is = "终结状态" if new.terminal else "非终结状态"
        changes.append(Change("changed", "state", new.name, f"{new.label} 改为{now_is}"))
    if old.pauses_clock != new.pauses_clock:
        verb = "暂停" if new.pauses_clock else "不再暂停"
        changes.append(Change("changed", "state", new.name, f"{new.label} 期间{verb}原有期限计时"))
    return changes + _deadline_changes(new.label, new.name, old.deadline, new.deadline, events)


def _event_summary(definition: Definition, event: EventDef) -> str:
    target = "上一级单位" if event.escalates else _state_label(definition, event.dest or "")
    return (f"{_states_text(definition, event.sources)} → {target}，可由 {_roles_text(event.roles)} 办理")


def _same(item: str) -> str:
    return item


def _listed(label: str, name: str, subject: str, what: str, old: set[str], new: set[str],
            show: Callable[[str], str] = _same) -> list[Change]:
    text = show
    changes = [Change("added", subject, name, f"事件 {label} 的{what}新增 {text(item)}") for item in sorted(new - old)]
    changes += [Change("removed", subject, name, f"事件 {label} 的{what}去掉 {text(item)}")
                for item in sorted(old - new)]
    return changes


def _otherwise_text(definition: Definition, event: EventDef) -> str:
    return _state_label(definition, event.otherwise) if event.otherwise else "无（拒绝办理）"


def _event_changes(old: Definition, new: Definition) -> list[Change]:
    changes = []
    for name, event in new.events.items():
        before = old.events.get(name)
        if before is None:
            changes.append(Change("added", "event", name,
                                  f"新增事件 {event.label}（{name}）：{_event_summary(new, event)}"))
            continue
        label = event.label
        if before.label != event.label:
            changes.append(Change("changed", "event", name, f"事件 {before.label} 改名为 {event.label}"))
        if set(before.sources) != set(event.sources):
            changes.append(Change("changed", "event", name, f"事件 {label} 可办理的状态 "
                                  f"{_states_text(old, before.sources)} → {_states_text(new, event.sources)}"))
        if (before.dest, before.action) != (event.dest, event.action):
            old_target = "上一级单位" if before.escalates else _state_label(old, before.dest or "")
            new_target = "上一级单位" if event.escalates else _state_label(new, event.dest or "")
            changes.append(Change("changed", "event", name, f"事件 {label} 的去向 {old_target} → {new_target}"))
        if before.otherwise != event.otherwise:
            changes.append(Change("changed", "event", name, f"事件 {label} 条件不满足时的去向 "
                                  f"{_otherwise_text(old, before)} → {_otherwise_text(new, event)}"))
        changes += _listed(label, name, "role", "办理角色", set(before.roles), set(event.roles), role_text)
        changes += _listed(label, name, "guard", "办理条件", set(before.guards), set(event.guards))
        changes += _listed(label, name, "effect", "附带处理", set(before.effects), set(event.effects))
        changes += _listed(label, name, "requires", "必填项", set(before.requires), set(event.requires))
    for name, event in old.events.items():
        if name not in new.events:
            changes.append(Change("removed", "event", name, f"删除事件 {event.label}（{name}）"))
    return changes


def diff(old: Definition, new: Definition) -> list[Change]:
    """Every difference from ``old`` to ``new`` (two versions of one lifecycle), states first, then events."""
    changes: list[Change] = []
    if old.title != new.title:
        changes.append(Change("changed", "definition", "title", f"流程名称 {old.title} → {new.title}"))
    changes += _state_changes(old, new)
    changes += _event_changes(old, new)
    if set(old.open_roles) != set(new.open_roles):
        changes.append(Change("changed", "role", "open", f"可立案角色 {_roles_text(old.open_roles)} → "
                              f"{_roles_text(new.open_roles)}"))
    if old.config != new.config:
        keys = sorted(key for key in set(old.config) | set(new.config) if old.config.get(key) != new.config.get(key))
        changes.append(Change("changed", "definition", "config", f"流程参数 {'、'.join(keys)} 有改动"))
    for key in sorted((set(old.raw) | set(new.raw)) - _COMPARED):   # what else a definition declares
        if old.raw.get(key) != new.raw.get(key):
            changes.append(Change("changed", "definition", key, f"流程设置 {SETTING_LABELS.get(key, key)} 有改动"))
    return changes


_COMPARED = {"key", "version", "title", "initial", "states", "events", "open_roles", "config", "description"}
SETTING_LABELS = {"personal": "个人信息的查看范围", "owner_levels": "承办层级", "number_prefix": "案件编号前缀",
                  "open_level": "立案层级", "alternative_initials": "可选起始状态",
                  "early_warning_categories": "预警类别"}
