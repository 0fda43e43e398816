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


def _choices(schema_field: fields.Field[Any]) -> list[tuple[str, str]]:
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
        if isinstance(schema_field, fields.Nested):
            described += describe(schema_field.schema, f"{path}.", name_of)
        elif isinstance(schema_field, fields.List):
            described.append(_list_field(path, name_of, schema_field))
        else:
            described.append(_single_field(path, name_of(path), schema_field))
    return described


def _list_field(path: str, name_of: Any, schema_field: fields.List[Any]) -> FormField:
    """A list of records (one per line), of fixed choices (checkboxes) or of free text (one item per line)."""
    label, required, inner = name_of(path), schema_field.required, schema_field.inner
    if isinstance(inner, fields.Nested):
        columns = [key for key, value in inner.schema.fields.items() if not value.dump_only]
        labels = [name_of(f"{path}.{column}") for column in columns]
        return FormField(path, label, "records", required, columns=columns, column_labels=labels,
                         hint=f"每行一条，依次填写{'、'.join(labels)}，用逗号分隔")
    if _choices(inner):
        return FormField(path, label, "checkboxes", required, _choices(inner))
    return FormField(path, label, "lines", required, hint="每行一项")


# the kind of input of a single value, by its field's class (the first that matches)
_KINDS: tuple[tuple[type[fields.Field[Any]], str], ...] = (
    (Money, "money"), (fields.Integer, "number"), (fields.Date, "date"))


def _single_field(path: str, label: str, schema_field: fields.Field[Any]) -> FormField:
    """One value: a checkbox, a number, an amount, a date, a choice, or text (a textarea when it may be long)."""
    if isinstance(schema_field, fields.Boolean):
        return FormField(path, label, "checkbox", False)
    required = schema_field.required
    for field_class, kind in _KINDS:
        if isinstance(schema_field, field_class):
            return FormField(path, label, kind, required)
    if _choices(schema_field):
        return FormField(path, label, "select", required, _choices(schema_field))
    long_text = any(isinstance(v, validate.Length) and (v.max or 0) > 300 for v in schema_field.validators)
    return FormField(path, label, "textarea" if long_text else "text", required)


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
        elif spec.kind == "checkboxes":
            chosen = form.getlist(spec.name)
            if chosen or spec.required:
                _set(data, spec.name, chosen)
        elif raw := (form.get(spec.name) or "").strip():
            _set(data, spec.name, _typed(spec, raw))
    return data


def _typed(spec: FormField, raw: str) -> Any:
    """The value of a text input as the API takes it: a list, records, a whole number (or the text, for the
    schema to refuse), or the text itself."""
    if spec.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if spec.kind == "records":
        return _records(spec.columns, raw)
    if spec.kind == "number":
        return int(raw) if is_whole_number(raw.removeprefix("-")) else raw
    return raw


def _records(columns: list[str], raw: str) -> list[dict[str, str]]:
    """One record per non-blank line, its values separated by commas (ASCII or full width) in column order."""
    records = []
    for line in raw.splitlines():
        values = [value.strip() for value in line.replace("，", ",").split(",")]
        if any(values):
            records.append({column: value for column, value in zip(columns, values, strict=False) if value})
    return records


def field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Service errors ("data.respondent.name") keyed by form field ("respondent.name"); list items folded."""
    folded: dict[str, list[str]] = {}
    for key, messages in errors.items():
        name = key.removeprefix("data.")
        parts = [part for part in name.split(".") if not part.isdigit()]
        folded.setdefault(".".join(parts) or "_schema", []).extend(messages)
    return folded
