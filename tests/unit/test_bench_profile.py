"""The profile's groups: a sample's function is counted in the package its file belongs to."""

from __future__ import annotations

import pytest

from bench.profile import group_of


@pytest.mark.parametrize(("path", "group"), [
    ("/srv/gonghui/api/cases/firing.py", "gonghui API (api/)"),
    ("/srv/gonghui/api/json_guard.py", "gonghui API (api/)"),
    ("/srv/gonghui/workflow/engine.py", "gonghui engine (workflow/)"),
    ("/venv/site-packages/sqlalchemy/orm/loading.py", "SQLAlchemy ORM (unit of work, loading, attributes)"),
    ("/venv/lib/python3.11/site-packages/psycopg/cursor.py", "database driver (psycopg, incl. waiting for PostgreSQL)"),
    ("/venv/lib/python3.11/site-packages/flask/json/provider.py", "Flask"),
    ("/usr/lib/python3.11/json/encoder.py", "json"),
    ("/usr/lib/python3.11/enum.py", "Python standard library and other"),
    ("~", "built-ins"),
])
def test_each_file_is_counted_in_its_package(path: str, group: str) -> None:
    assert group_of(path) == group
