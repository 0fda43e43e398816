"""The audit trail: history chained by hash, append-only on PostgreSQL, verifiable, and restorable."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from api.audit import verify
from api.extensions import db
from api.models import CaseHistory
from tests.conftest import Api, mediation_data


def walk(api: Api) -> dict:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    api.fire(case["id"], "fail", "chengdong_mediator", {"reason": "用人单位拒绝调解"})
    return case


def test_an_untouched_history_verifies(fresh: Flask, api: Api) -> None:
    walk(api)
    with fresh.app_context():
        assert list(verify(db.session)) == []
    from api.commands.audit import audit

    result = fresh.test_cli_runner().invoke(audit, ["verify"])
    assert result.exit_code == 0 and "1 case histories checked, 0 break(s)" in result.output


def _tamper(app: Flask, statement: str) -> None:
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE case_history DISABLE TRIGGER case_history_append_only"))
        connection.execute(sa.text(statement))
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE case_history ENABLE TRIGGER case_history_append_only"))


def test_an_altered_row_is_reported(fresh: Flask, api: Api) -> None:
    case = walk(api)
    _tamper(fresh, f"UPDATE case_history SET comment = '改过' WHERE case_id = {case['id']} AND seq = 2")
    with fresh.app_context():
        breaks = list(verify(db.session))
    assert [(b.case_number, b.seq) for b in breaks] == [(case["number"], 2)]
    from api.commands.audit import audit

    result = fresh.test_cli_runner().invoke(audit, ["verify"])
    assert result.exit_code == 1 and f"BROKEN  {case['number']}  seq 2" in result.output


def test_a_deleted_row_is_reported(fresh: Flask, api: Api) -> None:
    case = walk(api)
    _tamper(fresh, f"DELETE FROM case_history WHERE case_id = {case['id']} AND seq = 2")
    with fresh.app_context():
        reasons = [b.reason for b in verify(db.session)]
    assert "history row 2 is missing" in reasons


@pytest.mark.postgres
def test_postgresql_refuses_to_update_or_delete_history(fresh: Flask, api: Api) -> None:
    walk(api)
    with fresh.app_context():
        for statement in ("UPDATE case_history SET comment = 'x'", "DELETE FROM case_history"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as connection:
                connection.execute(sa.text(statement))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseHistory)) == 3


@pytest.mark.postgres
def test_a_dump_restored_into_a_new_database_verifies(fresh: Flask, api: Api) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump and pg_restore are needed (Debian postgresql-client)")
    walk(api)
    walk(api)
    source = sa.make_url(fresh.config["SQLALCHEMY_DATABASE_URI"])
    target = f"restore_{uuid.uuid4().hex[:8]}"
    plain = {"host": source.host or "127.0.0.1", "port": str(source.port or 5432), "user": source.username or "root"}
    dump = subprocess.run(["pg_dump", "-Fc", "-h", plain["host"], "-p", plain["port"], "-U", plain["user"],
                           source.database], capture_output=True, check=True, env=os.environ).stdout
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{target}"'))
    try:
        subprocess.run(["pg_restore", "-h", plain["host"], "-p", plain["port"], "-U", plain["user"], "-d", target,
                        "--no-owner"], input=dump, check=True, capture_output=True)
        restored = sa.create_engine(source.set(database=target))
        with sa.orm.Session(restored) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(CaseHistory)) == 6
            assert list(verify(session)) == []
        restored.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
        admin.dispose()
