"""Configuration: a class of defaults, overridden by ``GONGHUI_*`` environment variables and ``DATABASE_URL``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def utc_now() -> datetime:
    return datetime.now(UTC)


class Config:
    SQLALCHEMY_DATABASE_URI: str | None = None          # default: SQLite in the instance folder
    # no pre-ping (a round trip per request): api/connections.py checks a connection on checkout without one
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": 1800}
    SECRET_KEY: str | None = None   # GONGHUI_SECRET_KEY, else instance/secret_key (api/secret_key.py)
    SECRET_KEY_GENERATE = True      # write instance/secret_key on first use when missing (not under `serve`)
    DEFINITIONS_DIR = str(ROOT / "definitions")
    MAX_CONTENT_LENGTH = 1024 * 1024                     # 1 MiB: a larger body is 413
    TOKEN_TTL_HOURS = 12
    TOKEN_CACHE_SECONDS = 2      # a token is checked against the database at most this often per process
    IDEMPOTENCY_TTL_HOURS = 24                             # idempotency records are replayed, then purged
    HOUSEKEEPING_INTERVAL_SECONDS = 3600
    MAX_JSON_DEPTH = 64                                    # deeper JSON bodies are refused (400) unparsed
    CLOCK = staticmethod(utc_now)                          # tests inject a frozen clock
    TIMEZONE = "Asia/Shanghai"
    SCHEDULER_ENABLED = False                              # `gonghui run` and `gonghui scheduler` turn it on
    SWEEP_INTERVAL_SECONDS = 30
    SWEEP_BATCH = 1000   # timers per sweep transaction
    WEBHOOK_INTERVAL_SECONDS = 5   # the scheduler delivers webhook messages this often
    WEBHOOK_THREADS = 1            # messages of different cases posted at once by one scheduler
    WEBHOOK_ALLOW_HOSTS = ""       # hosts on loopback/private networks webhooks may still target (comma-separated)
    WORKLIST_LIMIT = 200         # cases on the UI's worklist page
    LIST_COUNT_LIMIT = 1000      # lists count their matches up to this many (total_exact false beyond)
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


def from_environment() -> dict[str, Any]:
    """Settings taken from the environment: ``DATABASE_URL`` and every ``GONGHUI_<NAME>``."""
    settings: dict[str, Any] = {}
    if os.environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    for name, value in os.environ.items():
        if name.startswith("GONGHUI_"):
            key = name.removeprefix("GONGHUI_")
            settings[key] = int(value) if value.isdigit() else value
    return settings
