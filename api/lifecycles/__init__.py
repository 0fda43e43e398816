"""Per-lifecycle plug-ins: the marshmallow schemas of a definition's case data and event data, its report,
and hooks the service layer calls. (Which data are personal, and who sees them, is declared in the definition's
``personal:`` block and applied by ``api.present.masked_data``, for every lifecycle alike.)

Each module of this package registers one :class:`Lifecycle` for one definition key; ``load_all`` imports
them all at start-up, and ``check_against`` refuses to start when a definition has an event without a data
schema, so that every event's data is validated.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from marshmallow import Schema

from api.lifecycles._supervision import SUPERVISION_SCHEMAS
from workflow.definitions import Catalog
from workflow.errors import DefinitionError

if TYPE_CHECKING:
    from datetime import datetime

    from flask import Blueprint
    from sqlalchemy.orm import Session

    from api.auth import Principal
    from api.models import Case


class EmptySchema(Schema):
    """An event that carries no data."""


@dataclass
class Lifecycle:
    key: str
    open_schema: type[Schema]
    event_schemas: dict[str, type[Schema]]
    # (session, principal, scope_path, date_from, date_to) -> report dict
    report: Callable[..., dict[str, Any]] | None = None
    # (session, principal, data) -> (org unit code or None) before a case is opened: routing, eligibility
    before_open: Callable[[Session, Principal, dict[str, Any]], str | None] | None = None
    # (data) -> the state a new case starts in, when the definition allows several (alternative_initials)
    initial_state: Callable[[dict[str, Any]], str] | None = None
    # (session, case, now) -> None, once the new case has its id: rows of the lifecycle's own tables
    after_open: Callable[[Session, Case, datetime], None] | None = None
    # (session, case, event, data, now) -> data: completes an event's validated data from stored records
    prepare_event: Callable[[Session, Case, str, dict[str, Any], datetime], dict[str, Any]] | None = None
    # (case) -> fields added to the case resource (e.g. an early-warning flag)
    extra: Callable[[Case], dict[str, Any]] | None = None
    blueprints: list[Blueprint] = field(default_factory=list)
    # Chinese labels of the data fields by dotted path ("agreement.amount"; a record's column "invoices.amount";
    # "approve:amount" for one event's form only), for the web pages
    labels: dict[str, str] = field(default_factory=dict)
    # the report's headline figures for the 统计 pages: (report key, Chinese name, kind: count|money|rate|days)
    figures: list[tuple[str, str, str]] = field(default_factory=list)
    # the 统计 page's monthly trend: (a rate of ``figures``, the count it is a rate of), e.g. 调处结案率 of 受理
    trend: tuple[str, str] | None = None
    # a new case gets a 查询码 to follow it on the public pages (the operator's form answers with it, once)
    lookup_secret: bool = False
    _instances: dict[str, Schema] = field(default_factory=dict, repr=False)

    def schema_for(self, event: str | None) -> Schema:
        name = event or "__open__"
        schema = self._instances.get(name)
        if schema is None:
            schema_class = (self.open_schema if event is None else self.event_schemas.get(event)
                            or SUPERVISION_SCHEMAS.get(event, EmptySchema))
            schema = self._instances[name] = schema_class()
        return schema


LIFECYCLES: dict[str, Lifecycle] = {}


def register(lifecycle: Lifecycle) -> Lifecycle:
    LIFECYCLES[lifecycle.key] = lifecycle
    return lifecycle


def load_all() -> dict[str, Lifecycle]:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return LIFECYCLES


def check_against(catalog: Catalog) -> None:
    """Every definition needs a lifecycle module; every event with required data needs a schema."""
    faults: list[str] = []
    for definition in catalog.all():
        lifecycle = LIFECYCLES.get(definition.key)
        if lifecycle is None:
            faults.append(f"{definition.key}: no lifecycle module in api/lifecycles/")
            continue
        for event in definition.events.values():
            if event.requires and event.name not in lifecycle.event_schemas \
                    and event.name not in SUPERVISION_SCHEMAS:
                faults.append(f"{definition.key}.{event.name}: requires data but has no schema")
        schemas = [lifecycle.open_schema, *lifecycle.event_schemas.values()]
        for rule in definition.personal:
            for path in filter(None, (rule.path, rule.when)):
                if not any(_has_path(schema(), path.split(".")) for schema in schemas):
                    faults.append(f"{definition.key}: personal field {rule.path!r} names {path!r}, "
                                  "which no data schema of the lifecycle has")
    if faults:
        raise DefinitionError("api/lifecycles", faults)


def _has_path(schema: Schema, parts: list[str]) -> bool:
    """Whether case data validated by ``schema`` can hold a value at ``parts`` (``*``: the items of a list)."""
    from marshmallow import fields

    field: Any = schema.fields.get(parts[0])
    for part in parts[1:]:
        if isinstance(field, fields.List) and part == "*":
            field = field.inner
        elif isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            field = field.schema.fields.get(part)
        else:
            return False
    return field is not None
