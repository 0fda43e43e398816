"""Fixtures: one schema per test session (SQLite file, or a fresh PostgreSQL database when
``TEST_DATABASE_URL`` is set), emptied and re-seeded with the demo data before each test; a frozen clock."""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# Every app the suite builds (and every server it starts) signs sessions with a key of this run, never with
# a key written in the code, and never writes a key file into the working tree's instance folder.
os.environ["GONGHUI_SECRET_KEY"] = secrets.token_hex(32)


class FrozenClock:
    """The injected clock: frozen at a Shanghai instant, moved only by the test."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> datetime:
        self.moment = self.moment + timedelta(**delta)
        return self.moment


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if PG_URL:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def clock() -> FrozenClock:
    return FrozenClock(shanghai(2026, 11, 24, 10, 0))


@pytest.fixture(scope="session")
def app(database_url: str, clock: FrozenClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from api import create_app
    from api.extensions import db

    audit = tmp_path_factory.mktemp("audit")   # the audit key and checkpoints, outside the database
    application = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "CLOCK": clock,
        "PASSWORD_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": secrets.token_hex(32),
        "AUDIT_KEY_FILE": str(audit / "audit.key"), "AUDIT_CHECKPOINTS": str(audit / "checkpoints.jsonl"),
        "DOCUMENT_FONT_FOLDER": str(tmp_path_factory.mktemp("fonts")),   # the documents' font, made once a run
    })
    with application.app_context():
        upgrade(directory=application.extensions["migrate"].directory, revision="heads")
    yield application
    with application.app_context():
        db.engine.dispose()


def _empty_all_tables(app: Flask) -> None:
    from api.extensions import db

    with app.app_context():
        tables = [table for table in db.metadata.sorted_tables]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                names = ", ".join(f'"{table.name}"' for table in tables)
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(tables):
                    connection.execute(table.delete())
                # the deletes of cases added their deltas to the report summary (its triggers): gone too
                connection.execute(sa.text("DELETE FROM report_summaries"))
                connection.execute(sa.text("DELETE FROM sqlite_sequence")) if connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None


class DemoSnapshot:
    """On PostgreSQL, the tables as the demo seed leaves them, kept once in the schema ``demo_snapshot`` and put
    back before a test by one server-side function: the rows of every non-empty table deleted (with triggers and
    foreign-key checks off: ``session_replication_role = replica``), the snapshot's rows copied in, every
    sequence set back. About 10 ms where emptying with TRUNCATE and seeding again take 100-200 ms. Deleted rows
    stay as dead tuples until a vacuum, so every ``REBUILD_EVERY``-th test empties and seeds the old way."""

    REBUILD_EVERY = 40

    def __init__(self) -> None:
        self.taken = False
        self.uses = 0

    def restore(self, engine: sa.Engine) -> bool:
        self.uses += 1
        if not self.taken or self.uses % self.REBUILD_EVERY == 0:
            return False
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT demo_snapshot.restore()"))
        return True

    def take(self, engine: sa.Engine) -> None:
        if engine.dialect.name != "postgresql":
            return
        with engine.begin() as connection:
            for statement in _SNAPSHOT_SQL:
                connection.exec_driver_sql(statement.replace("%", "%%"))   # no parameters: % is literal
        self.taken = True


_SNAPSHOT_SQL = ["DROP SCHEMA IF EXISTS demo_snapshot CASCADE", "CREATE SCHEMA demo_snapshot", """
CREATE TABLE demo_snapshot.sequences AS
    SELECT format('%I.%I', schemaname, sequencename) AS name, last_value, start_value
    FROM pg_sequences WHERE schemaname = 'public'""", "CREATE TABLE demo_snapshot.copied (name text, columns text)", """
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT c.table_name,
                    string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal_position) AS columns
             FROM information_schema.columns c
             JOIN information_schema.tables b USING (table_schema, table_name)
             WHERE c.table_schema = 'public' AND b.table_type = 'BASE TABLE' AND c.is_generated = 'NEVER'
               AND c.table_name <> 'alembic_version'
             GROUP BY c.table_name LOOP
        EXECUTE format('CREATE TABLE demo_snapshot.%I AS SELECT %s FROM public.%I',
                       t.table_name, t.columns, t.table_name);
        INSERT INTO demo_snapshot.copied VALUES (t.table_name, t.columns);
    END LOOP;
END $$""", """
CREATE FUNCTION demo_snapshot.restore() RETURNS void LANGUAGE plpgsql AS $$
DECLARE t record; filled boolean;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR t IN SELECT name, columns FROM demo_snapshot.copied LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM public.%I)', t.name) INTO filled;
        IF filled THEN EXECUTE format('DELETE FROM public.%I', t.name); END IF;
        EXECUTE format('INSERT INTO public.%I (%s) SELECT %s FROM demo_snapshot.%I',
                       t.name, t.columns, t.columns, t.name);
    END LOOP;
    PERFORM setval(name, coalesce(last_value, start_value), last_value IS NOT NULL) FROM demo_snapshot.sequences;
END $$"""]
_DEMO_SNAPSHOT = DemoSnapshot()


@pytest.fixture
def fresh(app: Flask, clock: FrozenClock) -> Flask:
    """The app over an empty database holding only the demo data, the clock back at its start."""
    from api import demo
    from api.extensions import db

    clock.set(shanghai(2026, 11, 24, 10, 0))
    Path(app.config["AUDIT_CHECKPOINTS"]).unlink(missing_ok=True)   # they described the emptied tables
    with app.app_context():
        if _DEMO_SNAPSHOT.restore(db.engine):
            return app
    _empty_all_tables(app)
    with app.app_context():
        demo.seed(db.session, clock())
        db.session.commit()
        _DEMO_SNAPSHOT.take(db.engine)
    return app


@pytest.fixture
def client(fresh: Flask) -> FlaskClient:
    return fresh.test_client()


class Api:
    """A test client that signs in as demo users and speaks JSON."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, tuple[str, datetime]] = {}

    def token(self, username: str) -> str:
        """A token for ``username``, signed in again when the frozen clock has moved past its lifetime."""
        clock = self.client.application.config["CLOCK"]
        cached = self.tokens.get(username)
        if cached is None or not timedelta(0) <= clock() - cached[1] < timedelta(hours=11):
            response = self.client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
            assert response.status_code == 200, response.get_json()
            self.tokens[username] = (response.get_json()["token"], clock())
        return self.tokens[username][0]

    def headers(self, username: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, as_: str | None, **kwargs: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers(as_, kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, as_: str | None, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(f"/api/v1{path}", json=json,
                                headers=self.headers(as_, kwargs.pop("headers", None)), **kwargs)

    def open_case(self, as_: str, definition: str, data: dict[str, Any], org_unit: str | None = None) -> Any:
        body: dict[str, Any] = {"definition": definition, "data": data}
        if org_unit:
            body["org_unit"] = org_unit
        response = self.post("/cases", as_, body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def fire(self, case_id: int, event: str, as_: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(f"/cases/{case_id}/events/{event}", as_, {"data": data or {}}, **kwargs)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


def mediation_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "applicants": [{"name": "王小明", "id_number": "331081199805201237", "phone": "13800000000"}],
        "respondent": {"name": "温岭市东海鞋业有限公司", "uscc": "91331081158813992N"},
        "dispute_type": "wages", "claims": "支付拖欠的三个月工资", "amount": "12000.50", "channel": "visit",
    }
    data.update(overrides)
    return data


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://...")
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
