"""The migrations create exactly the schema the models describe, and init-db is safe to run twice."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask


def test_the_migrated_schema_matches_the_models(app: Flask) -> None:
    from api.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations differ: add a migration (flask db migrate)"


def test_init_db_twice_is_harmless(app: Flask) -> None:
    runner = app.test_cli_runner()
    from api.cli import init_db

    for _ in range(2):
        result = runner.invoke(init_db)
        assert result.exit_code == 0, result.output
