"""HTML forms generated from the lifecycles' marshmallow schemas, so that every event and every new case of
every lifecycle gets its form without writing one: the schema says which fields, their kinds and choices.

Nested schemas become groups of fields named ``outer.inner``; a list of strings is a textarea, one item per
line (or checkboxes when the items have a fixed set of choices); a list of nested records is a textarea, one
record per line with the values separated by commas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate

from api.fields import Money, is_whole_number
from api.ui.labels import choice_label, field_label, label_for


@dataclass
class FormField:
    name: str            # dotted path, e.g. "respondent.name"
    label: str
    kind: str            # text, textarea, number, money, date, checkbox, select, checkboxes, lines, records
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)   # for records: the nested fields in order
    column_labels: list[str] = field(default_factory=list)
    hint: str = ""       # how to type a list or records, in words

    @property
    def column_label(self) -> dict[str, str]:
        return dict(zip(self.columns, self.column_labels, strict=False))


def _choices(schema_field: fields.Field) -> list[tuple[str, str]]:
    for validator in schema_field.validators:
        if isinstance(validator, validate.OneOf):
            return [(str(choice), choice_label(choice)) for choice in validator.choices]
    return []


def describe(schema: Schema, prefix: str = "", labeler: Any = None) -> list[FormField]:
    """The form of a schema; ``labeler(path)`` names a field (by default the generic words)."""
    name_of = labeler or (lambda path: field_label(path.rsplit(".", 1)[-1]))
    described: list[FormField] = []
    for name, schema_field in schema.fields.items():
        if schema_field.dump_only or schema_field.metadata.get("internal"):
            continue
        path = f"{prefix}{name}"
        label, required = name_of(path), schema_field.required
        if isinstance(schema_field, fields.Nested):
            described += describe(schema_field.schema, f"{path}.", name_of)
        elif isinstance(schema_field, fields.List):
            inner = schema_field.inner
            if isinstance(inner, fields.Nested):
                columns = [key for key, value in inner.schema.fields.items() if not value.dump_only]
                labels = [name_of(f"{path}.{column}") for column in columns]
                described.append(FormField(path, label, "records", required, columns=columns, column_labels=labels,
                                           hint=f"每行一条，依次填写{'、'.join(labels)}，用逗号分隔"))
            elif _choices(inner):
                described.append(FormField(path, label, "checkboxes", required, _choices(inner)))
            else:
                described.append(FormField(path, label, "lines", required, hint="每行一项"))
        elif isinstance(schema_field, fields.Boolean):
            described.append(FormField(path, label, "checkbox", False))
        elif isinstance(schema_field, Money):
            described.append(FormField(path, label, "money", required))
        elif isinstance(schema_field, fields.Integer):
            described.append(FormField(path, label, "number", required))
        elif isinstance(schema_field, fields.Date):
            described.append(FormField(path, label, "date", required))
        elif _choices(schema_field):
            described.append(FormField(path, label, "select", required, _choices(schema_field)))
        else:
            long_text = any(isinstance(v, validate.Length) and (v.max or 0) > 300 for v in schema_field.validators)
            described.append(FormField(path, label, "textarea" if long_text else "text", required))
    return described


def form_for(definition_key: str, event: str | None) -> list[FormField]:
    """The form of a new case (``event`` None) or of one event, labelled by its lifecycle."""
    from api.lifecycles import registry

    schema = registry()[definition_key].schema_for(event)
    return describe(schema, labeler=lambda path: label_for(definition_key, path, event))


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def parse(described: list[FormField], form: Any) -> dict[str, Any]:
    """The submitted form as the JSON the API would receive; blanks are left out for the schema to judge."""
    data: dict[str, Any] = {}
    for spec in described:
        if spec.kind == "checkbox":
            _set(data, spec.name, spec.name in form)
            continue
        if spec.kind == "checkboxes":
            chosen = form.getlist(spec.name)
            if chosen or spec.required:
                _set(data, spec.name, chosen)
            continue
        raw = (form.get(spec.name) or "").strip()
        if not raw:
            continue
        if spec.kind == "lines":
            _set(data, spec.name, [line.strip() for line in raw.splitlines() if line.strip()])
        elif spec.kind == "records":
            records = []
            for line in raw.splitlines():
                values = [value.strip() for value in line.replace("，", ",").split(",")]
                if any(values):
                    records.append({column: value for column, value in zip(spec.columns, values, strict=False)
                                    if value})
            _set(data, spec.name, records)
        elif spec.kind == "number":
            _set(data, spec.name, int(raw) if is_whole_number(raw.removeprefix("-")) else raw)
        else:
            _set(data, spec.name, raw)
    return data


def field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Service errors ("data.respondent.name") keyed by form field ("respondent.name"); list items folded."""
    folded: dict[str, list[str]] = {}
    for key, messages in errors.items():
        name = key.removeprefix("data.")
        parts = [part for part in name.split(".") if not part.isdigit()]
        folded.setdefault(".".join(parts) or "_schema", []).extend(messages)
    return folded
