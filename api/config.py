"""Configuration: a class of defaults (``Config``), overridden by ``GONGHUI_<NAME>`` environment variables
(Flask's ``from_prefixed_env``) and ``DATABASE_URL``, then by what ``create_app`` is given."""

from __future__ import annotations

import copy
import os
import types
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask

ROOT = Path(__file__).resolve().parent.parent


def utc_now() -> datetime:
    return datetime.now(UTC)


class Config:
    SQLALCHEMY_DATABASE_URI: str | None = None          # default: SQLite in the instance folder
    # no pre-ping (a round trip per request): api/connections.py checks a connection on checkout without one
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": 1800}
    SECRET_KEY: str | None = None   # GONGHUI_SECRET_KEY, else instance/secret_key (api/secret_key.py)
    SECRET_KEY_GENERATE = True      # write instance/secret_key on first use when missing (not under `serve`)
    DEFINITIONS_DIR: str = str(ROOT / "definitions")
    MAX_CONTENT_LENGTH = 1024 * 1024                     # 1 MiB: a larger body is 413
    TOKEN_TTL_HOURS = 12
    TOKEN_CACHE_SECONDS = 2      # a token is checked against the database at most this often per process
    IDEMPOTENCY_TTL_HOURS = 24                             # idempotency records are replayed, then purged
    HOUSEKEEPING_INTERVAL_SECONDS = 3600
    REPORT_COMPACT_INTERVAL_SECONDS = 300                  # the report summary folded (api/report_summary.py)
    MAX_JSON_DEPTH = 64                                    # deeper JSON bodies are refused (400) unparsed
    CLOCK = staticmethod(utc_now)                          # tests inject a frozen clock
    TIMEZONE: str = "Asia/Shanghai"
    SCHEDULER_ENABLED = False                              # `gonghui run` and `gonghui scheduler` turn it on
    SWEEP_INTERVAL_SECONDS = 30
    SWEEP_BATCH = 1000   # timers per sweep transaction
    WEBHOOK_INTERVAL_SECONDS = 5   # the scheduler delivers webhook messages this often
    WEBHOOK_THREADS = 1            # messages of different cases posted at once by one scheduler
    WEBHOOK_ALLOW_HOSTS: str = ""  # hosts on loopback/private networks webhooks may still target (comma-separated)
    WORKLIST_LIMIT = 200         # cases on the UI's worklist page
    LIST_COUNT_LIMIT = 1000      # lists count their matches up to this many (total_exact false beyond)
    ROSTER_PROGRESS_EVERY = 500  # rows between two progress records of a roster import on the web page
    API_TITLE = "工会工作流 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"  # swagger-ui-dist, vendored: no network needed
    API_SPEC_OPTIONS = {
        "info": {"description": "温岭市总工会 基层工会组建、劳动争议调解、职工医疗互助、职工反映问题 案件工作流。"
                                "任何字符串都不能含 NUL（U+0000）字符：含有时答 400（在身份验证之后）。"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
    JSON_AS_ASCII = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False                          # GONGHUI_SESSION_COOKIE_SECURE=1 behind TLS
    WTF_CSRF_TIME_LIMIT = None       # a form's CSRF token is good while its session lasts (Flask-WTF)

    # Text settings read elsewhere with their own defaults: declared here so that ``GONGHUI_<NAME>`` keeps
    # the characters given (a token or key of digits is not read as a number).
    AUDIT_CHECKPOINTS: str
    AUDIT_KEY: str
    AUDIT_KEY_FILE: str
    DOCUMENT_FONT_FOLDER: str                              # the documents' cut-down font; <instance>/fonts
    INSTANCE_PATH: str
    INTAKE_PLATFORM_ADDRESSES: str
    LOG_LEVEL: str
    METRICS_ALLOW: str
    METRICS_TOKEN: str
    MIGRATION_DATABASE_URL: str
    PASSWORD_METHOD: str
    PUBLIC_BASE_URL: str


PREFIX = "GONGHUI"


def text_settings() -> set[str]:
    """The settings ``Config`` declares as text (``str`` or ``str | None``)."""
    def is_text(hint: Any) -> bool:
        return hint is str or (isinstance(hint, types.UnionType) and str in typing.get_args(hint))

    return {name for name, hint in typing.get_type_hints(Config).items() if name.isupper() and is_text(hint)}


def load_defaults(config: flask.Config) -> None:
    """``Config``'s settings, with copies of its dicts and lists: a nested ``GONGHUI_A__B`` changes one app's."""
    config.from_object(Config)
    config.update({name: copy.deepcopy(value) for name, value in config.items() if isinstance(value, dict | list)})


def load_environment(config: flask.Config) -> None:
    """``GONGHUI_<NAME>`` sets the setting ``NAME`` (``from_prefixed_env``: a value that reads as JSON is taken
    as such — ``30``, ``0.5``, ``true``, ``[...]`` —, any other as text; ``GONGHUI_A__B`` sets the key ``B`` of
    the dict setting ``A``), a text setting (``text_settings``) as the characters given; ``DATABASE_URL`` sets
    the database."""
    config.from_prefixed_env(PREFIX)
    given = flask.Config(config.root_path)
    given.from_prefixed_env(PREFIX, loads=str)
    config.update({name: given[name] for name in text_settings() if name in given})
    if os.environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
