"""A throw-away PostgreSQL database for one benchmark run, with the schema and the demo data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")


def scratch_prefix() -> str:
    """Scratch databases are named after the one ``BENCH_DATABASE_URL`` names (``test_x`` → ``test_x_…``),
    or ``bench_…`` when it names the maintenance database ``postgres``."""
    database = sa.make_url(ADMIN_URL).database or "postgres"
    return "bench" if database == "postgres" else database


@contextmanager
def scratch_database() -> Iterator[str]:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{scratch_prefix()}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def vacuum(url: str) -> None:
    """``VACUUM ANALYZE`` the database: the state autovacuum keeps a production database in (statistics for the
    planner, no dead rows left by the run before). Every server is measured from it, so no run inherits the
    previous one's dead rows (this machine's PostgreSQL may run with autovacuum off)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def prepared_app(url: str):  # type: ignore[no-untyped-def]
    """The application over ``url`` with the schema migrated and the demo data loaded."""
    from flask_migrate import upgrade

    from api import create_app, demo
    from api.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
        demo.seed(db.session, app.config["CLOCK"]())
        db.session.commit()
    return app
