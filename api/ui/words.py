"""What the clerk's pages say instead of identifiers: people by name and unit, units by name, deadlines as
"12月2日（星期三）前", a case's data with its lifecycle's labels, rule keys as the state's deadline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.deadlines import SHANGHAI
from api.models import OrgUnit, User
from api.ui.labels import LEVELS, choice_label, label_for
from workflow.definitions import Definition

WEEKDAYS = "一二三四五六日"
SYSTEM = "system"


def day_words(day: date, today: date | None = None) -> str:
    """"12月2日（星期三）", with the year when it is not this year's."""
    year = f"{day.year}年" if today is None or day.year != today.year else ""
    return f"{year}{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def deadline_words(due: datetime | None, now: datetime | None = None) -> str:
    """A due instant as a clerk reads it: midnight ends the day before ("12月2日（星期三）前"), any other time
    is named ("12月3日（星期四）10:30前")."""
    if due is None:
        return "—"
    local = due.astimezone(SHANGHAI)
    today = now.astimezone(SHANGHAI).date() if now is not None else None
    if local.time() == time(0, 0):
        return f"{day_words(local.date() - timedelta(days=1), today)}前"
    return f"{day_words(local.date(), today)}{local:%H:%M}前"


def moment_words(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def people(session: Session, usernames: set[str]) -> dict[str, str]:
    """"城东街道总工会 · 李调解" for each login name (one query); the system and unknown names as words."""
    found = {SYSTEM: "系统（期限届满自动处理）"}
    wanted = usernames - {SYSTEM}
    if wanted:
        for user in session.scalars(sa.select(User).where(User.username.in_(wanted))):
            found[user.username] = person(user)
    return {name: found.get(name, "其他用户") for name in usernames}


def person(user: User) -> str:
    name = user.display_name or "未署名用户"
    return f"{user.org_unit.name} · {name}"


def unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(session.execute(sa.select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(codes))).all())


RULE = re.compile(r"\b([a-z_]+)\.([a-z_]+)\.deadline\b")


def rule_words(text: str, definition: Definition) -> str:
    """"mediation_case.registered.deadline" → "“已登记”办理期限"."""
    def name(match: re.Match[str]) -> str:
        state = definition.states.get(match.group(2))
        return f"“{state.label}”办理期限" if state is not None else "办理期限"

    return RULE.sub(name, text)


UNIT_FIELDS = {"union_unit", "counter_unit"}   # data fields holding an org unit's code
HIDDEN_FIELDS = {"rule"}                          # internal: the rule is told in the history in words


def data_rows(data: dict[str, Any], definition: Definition, units: dict[str, str]) -> list[tuple[str, str]]:
    """A case's data as (label, text) rows, labelled by its lifecycle: a nested record's fields are rows of their
    own, labelled "record · field"."""
    rows: list[tuple[str, str]] = []
    words = _DataWords(definition, units)

    def walk(value: dict[str, Any], prefix: str) -> None:
        for key, item in value.items():
            path = f"{prefix}{key}"
            if key in HIDDEN_FIELDS:
                continue
            if isinstance(item, dict):
                walk(item, f"{path}.")
            else:
                rows.append((_row_label(definition, path), words.text(path, item)))

    walk(data, "")
    return rows


@dataclass(frozen=True)
class _DataWords:
    """How a value of a case's data reads, labelled by its lifecycle."""

    definition: Definition
    units: dict[str, str]

    def text(self, path: str, value: Any) -> str:
        if isinstance(value, list):
            return self._items(path, value)
        if isinstance(value, dict):
            return self._record(path, value)
        if isinstance(value, bool):
            return "是" if value else "否"
        if value is None:
            return ""
        if path in UNIT_FIELDS:
            return self.units.get(str(value), "（已撤销的单位）")
        return rule_words(choice_label(value), self.definition)

    def _items(self, path: str, items: list[Any]) -> str:
        """A list of records, one "第N行" each; a list of values, separated by 、."""
        if items and all(isinstance(item, dict) for item in items):
            return "；".join(f"第{index}行 " + self._record(path, item) for index, item in enumerate(items, start=1))
        return "、".join(self.text(path, item) for item in items)

    def _record(self, path: str, record: dict[str, Any]) -> str:
        return "，".join(f"{label_for(self.definition.key, f'{path}.{key}')}：{self.text(f'{path}.{key}', item)}"
                        for key, item in record.items())


def _row_label(definition: Definition, path: str) -> str:
    parts = path.split(".")
    if len(parts) == 1:
        return label_for(definition.key, path)
    return f"{label_for(definition.key, '.'.join(parts[:-1]))} · {label_for(definition.key, path)}"


def level_words(level: str) -> str:
    return LEVELS.get(level, "")


def data_units(data: dict[str, Any]) -> set[str]:
    return {str(data[name]) for name in UNIT_FIELDS if data.get(name)}
