"""The Flask application: ``create_app`` builds it; nothing is created at import time."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import BaseConverter

from api import idempotency, json_guard, problems, secret_key
from api.config import Config, from_environment
from api.extensions import db, migrate, smorest
from api.lifecycles import check_against, load_all
from workflow.definitions import Catalog
from workflow.engine import Engine

MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = {**from_environment(), **(config or {})}
    instance = settings.get("INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=os.path.abspath(instance) if instance else None)
    app.config.from_object(Config)
    app.config.update(settings)
    app.config["SECRET_KEY"] = secret_key.resolve(app.config.get("SECRET_KEY"), app.instance_path,
                                                  generate_missing=bool(app.config["SECRET_KEY_GENERATE"]))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'gonghui.sqlite3'}"
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))

    load_all()
    catalog = Catalog.from_directory(app.config["DEFINITIONS_DIR"])
    check_against(catalog)
    app.extensions["gonghui.engine"] = Engine(catalog)

    app.url_map.converters["case_number"] = CaseNumberConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    _sqlite_pragmas(app)
    _check_connections(app)
    smorest.init_app(app)
    _register_blueprints(app)
    from api import openapi_rules

    openapi_rules.document(smorest.spec, catalog)
    problems.register(app)
    from api.auth import authenticate_api_request

    # who is calling comes first: no body of a protected endpoint is read before its caller is known (401/403)
    app.before_request(authenticate_api_request)
    app.before_request(_refuse_nul_characters)
    app.before_request(_calendar_in_step)
    app.before_request(json_guard.refuse_unsafe_json)   # after 401/403: a stranger's body is not read
    app.after_request(_security_headers)
    idempotency.register(app)
    from api import calendar_store

    calendar_store.init_app(app)
    from api import definition_store

    definition_store.init_app(app)
    app.before_request(definition_store.in_step)
    return app


LARGE_UPLOADS = {"enterprises.EnterpriseImport": 64 * 1024 * 1024}   # a roster of 100,000 rows


def _refuse_nul_characters() -> Any:
    """NUL characters cannot be stored in PostgreSQL text: refused (400) before anything reads them.
    (Uploads are files, read by their own parsers; only the roster import may send more than 1 MiB.)"""
    from flask import request, session

    from api.problems import problem

    if request.endpoint in LARGE_UPLOADS:
        request.max_content_length = LARGE_UPLOADS[request.endpoint]
    if request.mimetype == "multipart/form-data":
        return None
    if not request.path.startswith("/api/") and request.endpoint not in (None, "ui.login") \
            and "user_id" not in session:
        return None   # a web page's form from someone not signed in: the page sends them to sign in, unread
    found = any("\x00" in value for values in request.args.listvalues() for value in values)
    if not found and request.method in ("POST", "PUT", "PATCH"):
        body = request.get_data(cache=True)
        found = b"\\u0000" in body or b"\x00" in body
        found = found or any("\x00" in value for values in request.form.listvalues() for value in values)
    return problem(400, "请求中不能包含 NUL（\\u0000）字符") if found else None


def _calendar_in_step() -> None:
    """A year loaded through another process reaches this one within a minute (one query a minute)."""
    from flask import request

    if request.method == "POST":
        from api import calendar_store
        from api.clock import now

        try:
            calendar_store.refresh_if_stale(db.session, now())
        except Exception:  # noqa: BLE001 - a database that is away is answered by the request itself
            db.session.rollback()


def _security_headers(response: Any) -> Any:
    """Every answer: no MIME sniffing, no framing, no referrer leaks; the UI sets its own stricter CSP."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


class CaseNumberConverter(BaseConverter):
    """A receipt number such as ``YL-2026-000123`` (so that ``/claims/check`` is not taken for one)."""

    regex = r"[A-Z]{2}-\d{4}-\d{6,}"


def _register_blueprints(app: Flask) -> None:
    """Every module of ``api.views`` with a ``blp``, and the blueprints the lifecycles bring."""
    import importlib
    import pkgutil

    import flask_smorest

    from api import views
    from api.lifecycles import LIFECYCLES
    from api.views import health

    blueprints = []
    for module in sorted(pkgutil.iter_modules(views.__path__), key=lambda found: found.name):
        blueprint = getattr(importlib.import_module(f"api.views.{module.name}"), "blp", None)
        if blueprint is not None:
            blueprints.append(blueprint)
    blueprints += [blueprint for lifecycle in LIFECYCLES.values() for blueprint in lifecycle.blueprints]
    for blueprint in blueprints:
        if isinstance(blueprint, flask_smorest.Blueprint):
            smorest.register_blueprint(blueprint)
        else:
            app.register_blueprint(blueprint)
    app.before_request(health.start_timer)
    app.after_request(health.count_request)


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
