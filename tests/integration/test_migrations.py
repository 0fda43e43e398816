"""The migrations create exactly the schema the models describe, and init-db is safe to run twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

EXPRESSION_INDEXES = {"ix_cases_worklist": ["overdue", "due_at", "id"], "ix_cases_due_last": ["id"]}
POSTGRESQL_ONLY = {"ix_cases_due_last"}
# the columns an index carries beside its key (PostgreSQL): the worklist's count walks the index alone
POSTGRESQL_INCLUDES = {"ix_cases_worklist": ["org_path", "definition_key", "definition_version", "state", "category"]}


@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_the_migrated_schema_matches_the_models(app: Flask) -> None:
    from api.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
        indexes = {index["name"]: index for index in sa.inspect(connection).get_indexes("cases")}
        dialect = connection.dialect.name
    # autogenerate cannot compare a partial index with a descending column: checked by name and columns instead
    differences = [item for item in differences
                   if not (item[0] in ("add_index", "remove_index") and item[1].name in EXPRESSION_INDEXES)]
    assert differences == [], "models and migrations differ: add a migration (flask db migrate)"
    for name, columns in EXPRESSION_INDEXES.items():
        if name in POSTGRESQL_ONLY and dialect != "postgresql":
            assert name not in indexes
        else:
            assert name in indexes and indexes[name]["column_names"][-len(columns):] == columns
    if dialect == "postgresql":
        for name, included in POSTGRESQL_INCLUDES.items():
            assert indexes[name].get("dialect_options", {}).get("postgresql_include") == included


def test_init_db_twice_is_harmless(app: Flask) -> None:
    runner = app.test_cli_runner()
    from api.cli import init_db

    for _ in range(2):
        result = runner.invoke(init_db)
        assert result.exit_code == 0, result.output
