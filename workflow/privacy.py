"""Who sees personal data unmasked: the rules a definition declares in its ``personal:`` block, and the one
pure function that applies them to case data.

A rule names a field by its path in the case data (``member.id_number``; ``applicants.*.phone`` for every item
of a list), how it is masked for everyone else, and who sees it whole: a role held anywhere the case is in
scope (``mediator``), at the unit handling the case (``clerk@owner``) or at a level (``admin@city``). A field
may carry several rules, the first whose ``when`` flag is true in the case data applying (the anonymous
reporter's contact). Nothing here knows about Flask or the database: the caller says who is looking.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LEVELS = ("enterprise", "street", "city")
RELATIONS = frozenset({"owner", *LEVELS})
HIDDEN = "（已隐去）"


def _keep(start: int, end: int) -> Callable[[str], str]:
    def mask(text: str) -> str:
        if len(text) <= start + end:
            return "*" * len(text)
        return text[:start] + "*" * (len(text) - start - end) + text[len(text) - end:]
    return mask


# How a field is shown to those who may not see it: "331081199805201237" → "3310**********1237".
STYLES: dict[str, Callable[[str], str]] = {
    "first4_last4": _keep(4, 4),     # resident ID numbers, bank accounts
    "first3_last4": _keep(3, 4),     # mobile phone numbers: 139****1111
    "first1": _keep(1, 0),           # a person's name: 陈**
    "last4": _keep(0, 4),
    "last6": _keep(0, 6),
    "hide": lambda text: HIDDEN,
}


@dataclass(frozen=True)
class Grant:
    """A role that sees the field whole; ``relation`` None: anywhere the case is in scope; ``owner``: at the
    unit handling the case; a level: at a unit of that level."""

    role: str
    relation: str | None = None

    @classmethod
    def parse(cls, text: str) -> Grant:
        role, _, relation = text.partition("@")
        return cls(role, relation or None)

    def __str__(self) -> str:
        return f"{self.role}@{self.relation}" if self.relation else self.role


@dataclass(frozen=True)
class PersonalRule:
    path: str
    label: str
    style: str
    grants: tuple[Grant, ...]
    when: str | None = None           # a flag in the case data: the rule holds only when it is true
    placeholder: str | None = None    # what ``hide`` shows instead of the value

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return self.when is None or bool(_dig(facts, self.when))


# An employer's contact from the social-insurance roster (联系人, 联系电话; employers' records, not case data):
# whole for the clerks and administrators of a street or the city who form unions — the first step is to
# call the employer — where the employer's street is in their scope; masked for everyone else.
FORMING_UNIONS = tuple(Grant(role, level) for role in ("clerk", "admin") for level in ("street", "city"))
EMPLOYER_CONTACT = (PersonalRule("contact_name", "联系人", "first1", FORMING_UNIONS),
                    PersonalRule("contact_phone", "联系电话", "first3_last4", FORMING_UNIONS))


@dataclass(frozen=True)
class Viewer:
    """Who is looking, as far as the rules care. ``in_scope`` false (or no viewer at all: the public, an
    outside system) sees every personal field masked."""

    roles: frozenset[str]
    level: str | None
    owner: bool          # the viewer's unit is the unit handling the case
    in_scope: bool = True


PUBLIC = Viewer(frozenset(), None, owner=False, in_scope=False)


@dataclass(frozen=True)
class Masked:
    data: dict[str, Any]
    shown: tuple[str, ...]     # the paths of personal fields present and shown whole


def grants_see(grants: tuple[Grant, ...], viewer: Viewer) -> bool:
    if not viewer.in_scope:
        return False
    for grant in grants:
        if grant.role not in viewer.roles:
            continue
        if grant.relation is None or (grant.relation == "owner" and viewer.owner) or grant.relation == viewer.level:
            return True
    return False


def rule_for(rules: tuple[PersonalRule, ...], path: str, facts: Mapping[str, Any]) -> PersonalRule | None:
    """The rule of ``path`` that holds for a case with these data (the first whose ``when`` is true)."""
    return next((rule for rule in rules if rule.path == path and rule.applies(facts)), None)


def mask_value(value: Any, rule: PersonalRule) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return value
    if rule.style == "hide":
        return rule.placeholder or HIDDEN
    return STYLES[rule.style](str(value))


def apply(rules: tuple[PersonalRule, ...], data: Mapping[str, Any], viewer: Viewer,
          facts: Mapping[str, Any] | None = None) -> Masked:
    """``data`` as ``viewer`` may see it, and which personal fields it shows whole. ``facts`` (the case's
    data) decide the ``when`` flags; ``data`` may be a part of them (a history row's changes)."""
    flags = {**data, **(facts or {})}
    result: dict[str, Any] | None = None
    shown: list[str] = []
    for path in dict.fromkeys(rule.path for rule in rules):
        rule = rule_for(rules, path, flags)
        if rule is None or not _present(data, path.split(".")):
            continue
        if grants_see(rule.grants, viewer):
            shown.append(path)
            continue
        if result is None:
            result = copy.deepcopy(dict(data))
        _replace(result, path.split("."), lambda value, rule=rule: mask_value(value, rule))  # type: ignore[misc]
    return Masked(result if result is not None else dict(data), tuple(shown))


def values_at(data: Any, path: str) -> list[Any]:
    """Every value found at ``path`` (``*`` walks a list)."""
    found: list[Any] = []
    _collect(data, path.split("."), found)
    return found


def _collect(node: Any, parts: list[str], found: list[Any]) -> None:
    if not parts:
        if node not in (None, ""):
            found.append(node)
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for item in node if isinstance(node, list) else []:
            _collect(item, rest, found)
    elif isinstance(node, Mapping) and head in node:
        _collect(node[head], rest, found)


def _present(data: Any, parts: list[str]) -> bool:
    found: list[Any] = []
    _collect(data, parts, found)
    return bool(found)


def _replace(node: Any, parts: list[str], change: Callable[[Any], Any]) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        for index, item in enumerate(node if isinstance(node, list) else []):
            if rest:
                _replace(item, rest, change)
            else:
                node[index] = change(item)
    elif isinstance(node, dict) and head in node:
        if rest:
            _replace(node[head], rest, change)
        else:
            node[head] = change(node[head])


def _dig(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
