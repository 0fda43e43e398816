"""Faults shown where a clerk can see them: every error key the use cases give (``data.applicants.0.id_number``,
``invoices.1.amount``, ``respondent``, a guard's ``member``) is placed beside a field of the form, naming the
line of a list ("第1行 身份证号：…"); a fault no field owns goes to the top of the form (``_schema``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.forms import FormField

TOP = "_schema"
REQUIRED_MESSAGES = {"此项为必填项", "不能为空"}
ONE_OF = "须为以下之一："
# the API's words for integrators, as a clerk reads them on a page
PAGE_WORDS = {"日期格式须为 YYYY-MM-DD": "日期须写作“年-月-日”，如 2026-11-24"}


def place(errors: dict[str, list[str]], described: list[FormField],
          extra_fields: Iterable[str] = ()) -> dict[str, list[str]]:
    """The service's errors keyed by form field name (or ``_schema``), each message worded for its place."""
    names = {spec.name: spec for spec in described}
    extra = set(extra_fields)
    placed: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        messages = placed.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    for key, messages in errors.items():
        path = key.removeprefix("data.") if key != "data" else TOP
        parts = [part for part in path.split(".") if part]
        for message in _flat(messages):
            target, where = _target(parts, names, extra)
            message = worded(message, names.get(target) if target is not None else None)
            if target is not None:
                add(target, f"{where}{message}" if where else message)
                continue
            # a record or group the form shows as its fields ("respondent", "agreement", "member")
            prefix = ".".join(part for part in parts if part != TOP) + "."
            children = [spec for spec in described if prefix != "." and spec.name.startswith(prefix)]
            if children:
                required = [spec for spec in children if spec.required] if message in REQUIRED_MESSAGES else []
                for spec in required or children[:1]:
                    add(spec.name, message)
            else:
                label = ".".join(part for part in parts if part != TOP)
                add(TOP, f"{label}：{message}" if label and label not in names else message)
    return placed


def worded(message: str, spec: FormField | None) -> str:
    """The message in the page's words: a choice refused names the choices by their labels, not their codes."""
    if spec is not None and spec.choices and message.startswith(ONE_OF):
        return ONE_OF + "、".join(label for _, label in spec.choices)
    return PAGE_WORDS.get(message, message)


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, dict):   # a nested error structure that was not flattened upstream
        return [message for value in messages.values() for message in _flat(value)]
    if isinstance(messages, list | tuple):
        return [message for value in messages for message in _flat(value)]
    return [str(messages)]


def _target(parts: list[str], names: dict[str, FormField], extra: set[str]) -> tuple[str | None, str]:
    """The form field owning a dotted error path, and the words naming the line and column inside it."""
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in names or name in extra:
            rest = parts[end:]
            spec = names.get(name)
            if not rest or spec is None:
                return name, ""
            where = ""
            if rest[0].isdigit():
                unit = "项" if spec.kind == "checkboxes" else "行"
                where = f"第{int(rest[0]) + 1}{unit}"
                rest = rest[1:]
            column = next((part for part in rest if part != TOP), None)
            if column is not None:
                where += f" {spec.column_label.get(column, column)}"
            return name, f"{where.strip()}：" if where else ""
    return None, ""


def summary(placed: dict[str, list[str]], described: list[FormField]) -> list[tuple[str | None, str]]:
    """The list at the top of the form: (field name to link to, or None; the message with its label)."""
    labels = {spec.name: spec.label for spec in described}
    rows: list[tuple[str | None, str]] = [(None, message) for message in placed.get(TOP, [])]
    for spec in described:
        rows += [(spec.name, f"{labels[spec.name]}：{message}") for message in placed.get(spec.name, [])]
    for name, messages in placed.items():
        if name != TOP and name not in labels:
            rows += [(name, message) for message in messages]
    return rows
