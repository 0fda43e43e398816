"""Lifecycle plug-ins: one :class:`Lifecycle` per definition key, each in its own module of this package.

A plug-in brings what its definition cannot say as data: the marshmallow schemas of the case's data and of each
event's data, its hooks (routing and eligibility before a case opens, rows of its own tables after, completing
an event's data, effects bound by name, reactions to another lifecycle's events), its report and the figures
the 统计 page shows, the Chinese labels of its fields and choices, its demo data, its own endpoints and commands.
Its rules are pure functions in ``workflow/rules/<key>.py``.

Nothing registers itself: ``create_app`` takes the list in ``api.plugins`` (or the ``LIFECYCLES`` setting),
builds a :class:`Lifecycles` from it and keeps it in ``app.extensions["gonghui.lifecycles"]``; code running in
the app reaches it with :func:`registry`. A hook is handed a :class:`Context` — the session, the engine (and its
calendar), the definition version the case runs on (its ``config``), the principal and ``now`` — and reads
nothing else: no ``current_app``, no global session, no clock of its own.

``Lifecycles.check_against`` refuses to start when a definition has no plug-in, an event requiring data has no
schema, a personal field names no field of the schemas, an effect is bound twice, or the definition's
``config`` lacks a key the plug-in's rules read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema

from workflow.calendar import SHANGHAI, WorkCalendar
from workflow.definitions import Catalog, Definition
from workflow.errors import DefinitionError

if TYPE_CHECKING:
    import click
    from flask import Blueprint, Flask
    from marshmallow import fields
    from sqlalchemy.orm import Session

    from api.auth import Principal
    from api.models import Case, Employer
    from api.reports import ReportScope
    from workflow.engine import Engine, Outcome

EXTENSION = "gonghui.lifecycles"


@dataclass(frozen=True)
class Context:
    """What a lifecycle's hook is given, and all it may use besides its arguments."""

    session: Session
    engine: Engine
    definition: Definition        # the version the case runs on (or the latest, for a case about to open)
    principal: Principal | None   # who acts; None: the system (the sweep, an approval's follow-up, the demo)
    now: datetime

    @property
    def config(self) -> Mapping[str, Any]:
        """The definition's ``config``: every number a federation may change."""
        return self.definition.config

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar deadlines are counted on (windows are counted the same way)."""
        return self.engine.calendar

    @property
    def today(self) -> date:
        return self.now.astimezone(SHANGHAI).date()


def context(session: Session, engine: Engine, definition: Definition | str, principal: Principal | None,
            now: datetime) -> Context:
    found = engine.catalog.get(definition) if isinstance(definition, str) else definition
    return Context(session, engine, found, principal, now)


# the hooks, typed
BeforeOpen = Callable[[Context, dict[str, Any]], "str | None"]      # -> the owning unit's code, or None
InitialState = Callable[[Context, dict[str, Any]], str]             # -> one of the definition's initials
AfterOpen = Callable[[Context, "Case"], None]                        # the case has its id: the plug-in's rows
PrepareEvent = Callable[[Context, "Case", str, dict[str, Any]], dict[str, Any]]   # -> the event's data, completed
Effect = Callable[[Context, "Case", "Outcome"], None]               # an effect named in the definition
Report = Callable[["Session", "ReportScope", Context], dict[str, Any]]
Extra = Callable[["Case"], dict[str, Any]]                           # fields added to the case resource
Seed = Callable[[Context], None]
EmployerColumns = Callable[[Context, "Employer"], dict[str, Any]]


class EmptySchema(Schema):
    """An event that carries no data."""


@dataclass
class Lifecycle:
    key: str
    open_schema: type[Schema]
    event_schemas: dict[str, type[Schema]]
    report: Report | None = None
    before_open: BeforeOpen | None = None
    # the state a new case starts in, when the definition allows several (alternative_initials)
    initial_state: InitialState | None = None
    after_open: AfterOpen | None = None
    prepare_event: PrepareEvent | None = None
    extra: Extra | None = None
    # effects the definition names that need persistence, by name
    effects: dict[str, Effect] = field(default_factory=dict)
    # run after another lifecycle's event (its key, the event) has been applied, its effects done
    reactions: dict[tuple[str, str], Effect] = field(default_factory=dict)
    blueprints: list[Blueprint] = field(default_factory=list)
    commands: list[click.Command] = field(default_factory=list)   # added to ``gonghui`` (app.cli)
    # Chinese labels of the data fields by dotted path ("agreement.amount"; a record's column "invoices.amount";
    # "approve:amount" for one event's form only), and of the choices its fields take, for the web pages
    labels: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    # the report's headline figures for the 统计 pages: (report key, Chinese name, kind: count|money|rate|days)
    figures: list[tuple[str, str, str]] = field(default_factory=list)
    # the 统计 page's monthly trend: (a rate of ``figures``, the count it is a rate of), e.g. 调处结案率 of 受理
    trend: tuple[str, str] | None = None
    # a new case gets a 查询码 to follow it on the public pages (the operator's form answers with it, once)
    lookup_secret: bool = False
    # opened at the service counter's own page (窗口受理) rather than by 新建
    counter: bool = False
    # the definition's config keys its rules read: start-up refuses a definition without them
    config_keys: tuple[str, ...] = ()
    # events whose having happened the reports count ("accepted", "agreed"): kept on the case
    # (``Case.milestones``, in this order) by the use case that fires them, so reports need not read the history
    milestones: tuple[str, ...] = ()
    # reference data for the demo (``gonghui seed-demo`` and the tests), and demo cases (``seed-demo`` only)
    seed: Seed | None = None
    demo_cases: Seed | None = None
    # columns this lifecycle adds to each employer of ``GET /enterprises`` (and the fields documenting them)
    employer_columns: EmployerColumns | None = None
    employer_fields: dict[str, Callable[[], fields.Field[Any]]] = field(default_factory=dict)
    _instances: dict[str, Schema] = field(default_factory=dict, repr=False)

    def schema_for(self, event: str | None) -> Schema:
        from api.lifecycles._supervision import SUPERVISION_SCHEMAS

        name = event or "__open__"
        schema = self._instances.get(name)
        if schema is None:
            schema_class = (self.open_schema if event is None else self.event_schemas.get(event)
                            or SUPERVISION_SCHEMAS.get(event, EmptySchema))
            schema = self._instances[name] = schema_class()
        return schema


class Lifecycles(Mapping[str, Lifecycle]):
    """The plug-ins an app runs, by key, with the effects and reactions they bind."""

    def __init__(self, plugins: Iterable[Lifecycle]) -> None:
        self._by_key: dict[str, Lifecycle] = {}
        self._effects: dict[str, Effect] = {}
        self._reactions: dict[tuple[str, str], list[Effect]] = {}
        faults = []
        for plugin in plugins:
            if plugin.key in self._by_key:
                faults.append(f"{plugin.key}: listed twice")
            self._by_key[plugin.key] = plugin
            for name, effect in plugin.effects.items():
                if name in self._effects:
                    faults.append(f"{plugin.key}: effect {name!r} is bound by another lifecycle too")
                self._effects[name] = effect
            for trigger, reaction in plugin.reactions.items():
                self._reactions.setdefault(trigger, []).append(reaction)
        if faults:
            raise DefinitionError("api.plugins", faults)

    def __getitem__(self, key: str) -> Lifecycle:
        return self._by_key[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def effect_names(self) -> frozenset[str]:
        """The effects bound here, for the definitions loader (which knows only the pure ones)."""
        return frozenset(self._effects)

    def effect(self, name: str) -> Effect | None:
        return self._effects.get(name)

    def reactions_to(self, definition_key: str, event: str) -> list[Effect]:
        return self._reactions.get((definition_key, event), [])

    def counter(self) -> Lifecycle | None:
        """The lifecycle opened at the service counter, if one is."""
        return next((plugin for plugin in self.values() if plugin.counter), None)

    def with_trend(self) -> Lifecycle | None:
        return next((plugin for plugin in self.values() if plugin.trend), None)

    def check_against(self, catalog: Catalog) -> None:
        """Every definition needs a plug-in; every event with required data a schema; every personal field a
        field of the schemas; every config key the plug-in's rules read a value."""
        from api.lifecycles._supervision import SUPERVISION_SCHEMAS

        faults: list[str] = []
        for definition in catalog.all():
            lifecycle = self._by_key.get(definition.key)
            if lifecycle is None:
                faults.append(f"{definition.key}: no lifecycle plug-in (api/lifecycles/, listed in api/plugins.py)")
                continue
            for event in definition.events.values():
                if event.requires and event.name not in lifecycle.event_schemas \
                        and event.name not in SUPERVISION_SCHEMAS:
                    faults.append(f"{definition.key}.{event.name}: requires data but has no schema")
            faults += [f"{definition.key}: config lacks {name!r}, which the lifecycle's rules read"
                       for name in lifecycle.config_keys if name not in definition.config]
            schemas = [lifecycle.open_schema, *lifecycle.event_schemas.values()]
            for rule in definition.personal:
                for path in filter(None, (rule.path, rule.when)):
                    if not any(_has_path(schema(), path.split(".")) for schema in schemas):
                        faults.append(f"{definition.key}: personal field {rule.path!r} names {path!r}, "
                                      "which no data schema of the lifecycle has")
        if faults:
            raise DefinitionError("api/lifecycles", faults)


def registry(app: Flask | None = None) -> Lifecycles:
    """The app's plug-ins (``current_app`` unless an app is given)."""
    if app is None:
        from api.context import this_app

        app = this_app()
    found: Lifecycles = app.extensions[EXTENSION]
    return found


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
