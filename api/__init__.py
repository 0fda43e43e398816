"""The Flask application: ``create_app`` builds it; nothing is created at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from types import FunctionType
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.routing import BaseConverter

from api import headers, idempotency, json_guard, problems, secret_key
from api.config import load_defaults, load_environment
from api.extensions import csrf, current_session, db, migrate, smorest
from api.sessions import CookieSessions
from workflow.calendar import WorkCalendar
from workflow.definitions import Catalog
from workflow.engine import Engine

if TYPE_CHECKING:
    from api.lifecycles import Lifecycles

MIGRATIONS = str(Path(__file__).parent / "migrations")


class Application(Flask):
    """Flask, asking once per hook whether it is a coroutine function (Flask asks on every call of every hook
    and view: some twenty times a request)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if type(func) is not FunctionType:   # a bound method is a new object on every call: not kept
            return super().ensure_sync(func)
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Application(__name__, instance_relative_config=True)
    load_defaults(app.config)
    load_environment(app.config)
    app.config.update(config or {})
    if app.config.get("INSTANCE_PATH"):
        app.instance_path = app.config.root_path = os.path.abspath(app.config["INSTANCE_PATH"])
    app.config["SECRET_KEY"] = secret_key.resolve(app.config.get("SECRET_KEY"), app.instance_path,
                                                  generate_missing=bool(app.config["SECRET_KEY_GENERATE"]))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'gonghui.sqlite3'}"
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    # the state machine library says at INFO that it entered and left a state: two lines for every event fired,
    # which the case's history holds already (and writing them cost 2 % of a fired event's CPU)
    logging.getLogger("transitions").setLevel(logging.WARNING)

    lifecycles = _lifecycles(app)
    catalog = Catalog.from_directory(app.config["DEFINITIONS_DIR"], effects=lifecycles.effect_names)
    lifecycles.check_against(catalog)
    app.extensions["gonghui.engine"] = Engine(catalog, WorkCalendar())

    app.url_map.converters["case_number"] = CaseNumberConverter
    # a database error's message leaves out the statement's values (case data, ID numbers, stored answers): it is
    # logged with the traceback of a failed request
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"hide_parameters": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    _sqlite_pragmas(app)
    _check_connections(app)
    smorest.init_app(app)
    app.session_interface = CookieSessions()
    csrf.init_app(app)   # every form of the pages; the API (bearer tokens, no cookies) is exempt below
    _register_blueprints(app)
    from api import openapi_rules, ui

    ui.register(app)
    openapi_rules.document(smorest.spec, catalog)
    from api.ui.session import not_found as page_not_found
    from api.views.public import not_found as public_page_not_found

    problems.register(app, pages_not_found=[("/public/", public_page_not_found), ("/", page_not_found)])
    from api.auth import authenticate_api_request

    # who is calling comes first: no body of a protected endpoint is read before its caller is known (401/403)
    app.before_request(authenticate_api_request)
    app.before_request(_refuse_nul_characters)
    app.before_request(_calendar_in_step)
    app.before_request(json_guard.refuse_unsafe_json)   # after 401/403: a stranger's body is not read
    app.after_request(headers.security_headers)   # API and pages alike
    idempotency.register(app)
    from api import calendar_store

    calendar_store.init_app(app)
    from api import definition_store

    definition_store.init_app(app)
    app.before_request(definition_store.in_step)
    return app


def _lifecycles(app: Flask) -> Lifecycles:
    """The lifecycle plug-ins of ``api.plugins`` (or of the ``LIFECYCLES`` setting), registered with the app: kept
    in ``app.extensions``, their commands added to ``gonghui``. marshmallow's messages are made Chinese first,
    before the plug-ins' schemas are declared."""
    from api.fields import use_chinese_messages

    use_chinese_messages()
    from api.lifecycles import EXTENSION, Lifecycles
    from api.plugins import LIFECYCLES

    listed = app.config.get("LIFECYCLES")
    lifecycles = app.extensions[EXTENSION] = Lifecycles(LIFECYCLES if listed is None else listed)
    for plugin in lifecycles.values():
        for command in plugin.commands:
            app.cli.add_command(command)
    return lifecycles


# a roster of 100,000 rows, over the API and in the browser
LARGE_UPLOADS = {"enterprises.EnterpriseImport": 64 * 1024 * 1024, "ui.roster_import": 64 * 1024 * 1024}


def _refuse_nul_characters() -> None:
    """NUL characters cannot be stored in PostgreSQL text: refused (400) before anything reads them.
    (Uploads are files, read by their own parsers; only the roster import may send more than 1 MiB.)"""
    from flask import session

    from api.context import this_request
    from api.errors import MalformedRequest

    current = this_request()   # read a dozen times: not via the proxy
    endpoint, mimetype = current.endpoint, current.mimetype
    if endpoint in LARGE_UPLOADS:
        current.max_content_length = LARGE_UPLOADS[endpoint]
    if mimetype == "multipart/form-data":
        return
    if not current.path.startswith("/api/") and endpoint not in (None, "ui.login") and "user_id" not in session:
        return   # a web page's form from someone not signed in: the page sends them to sign in, unread
    found = bool(current.query_string) and any(
        "\x00" in value for values in current.args.listvalues() for value in values)
    if not found and current.method in ("POST", "PUT", "PATCH"):
        body = current.get_data(cache=True)
        found = b"\\u0000" in body or b"\x00" in body
        found = found or (mimetype == "application/x-www-form-urlencoded" and any(
            "\x00" in value for values in current.form.listvalues() for value in values))
    if found:
        raise MalformedRequest("请求中不能包含 NUL（\\u0000）字符")


def _calendar_in_step() -> None:
    """A year loaded through another process reaches this one within a minute (one query a minute)."""
    from api.context import this_app, this_request

    if this_request().method == "POST":
        from api import calendar_store
        from api.clock import now

        extensions = this_app().extensions
        try:
            calendar_store.refresh_if_stale(current_session(), now(), extensions["gonghui.engine"].calendar,
                                            extensions.setdefault("gonghui.calendar_refreshed", []))
        except Exception:  # noqa: BLE001 - a database that is away is answered by the request itself
            db.session.rollback()


class CaseNumberConverter(BaseConverter):
    """A receipt number such as ``YL-2026-000123`` (so that ``/claims/check`` is not taken for one)."""

    regex = r"[A-Z]{2}-\d{4}-\d{6,}"


def _register_blueprints(app: Flask) -> None:
    """Every module of ``api.views`` with a ``blp``, and the blueprints the lifecycles bring; the API's
    (flask-smorest) blueprints are exempt from the CSRF check."""
    import importlib
    import pkgutil

    import flask_smorest

    from api import views
    from api.lifecycles import registry
    from api.views import enterprises

    blueprints = []
    for module in sorted(pkgutil.iter_modules(views.__path__), key=lambda found: found.name):
        blueprint = getattr(importlib.import_module(f"api.views.{module.name}"), "blp", None)
        if blueprint is not None:
            blueprints.append(blueprint)
    lifecycles = registry(app)
    blueprints += [blueprint for lifecycle in lifecycles.values() for blueprint in lifecycle.blueprints]
    enterprises.add_columns(lifecycles)
    for blueprint in blueprints:
        if isinstance(blueprint, flask_smorest.Blueprint):
            smorest.register_blueprint(blueprint)
            csrf.exempt(blueprint)
        else:
            app.register_blueprint(blueprint)
    from api import metrics

    app.before_request(metrics.start_timer)
    app.after_request(metrics.count_request)


def _check_connections(app: Flask) -> None:
    """PostgreSQL connections are checked on checkout without a round trip, and BEGIN and COMMIT travel with
    a statement (api/connections.py)."""
    from api import connections

    with app.app_context():
        connections.configure(db.engine)


def _sqlite_pragmas(app: Flask) -> None:
    """WAL and a busy timeout, so that the scheduler thread and requests share the SQLite file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        @event.listens_for(db.engine, "connect")
        def on_connect(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
