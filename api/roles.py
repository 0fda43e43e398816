"""Two database roles on PostgreSQL: an owner that runs the migrations and a service role the application runs as.

The owner owns every table (and so alone may alter them, or switch off the append-only trigger). The service
role may read and write the tables the application changes, but may only SELECT and INSERT the audit tables
(``case_history``, ``access_records``): it can neither UPDATE nor DELETE a history row, nor TRUNCATE, nor
disable the trigger that refuses those. Tables created later by the owner's migrations get the same rights by
default (append-only tables must be added to ``APPEND_ONLY``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

APPEND_ONLY = ("case_history", "access_records", "admin_log")
OWNER_ONLY = ("alembic_version",)


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_role(connection: Connection, name: str, password: str | None) -> bool:
    """Create a login role unless it exists (set its password when one is given); whether it was created."""
    exists = connection.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name})
    role = _quoted(connection, name)
    if not exists:
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    if password:
        connection.execute(sa.text(f"ALTER ROLE {role} PASSWORD {_literal(password)}"))
    return not exists


def set_up(connection: Connection, owner: str, service: str, *, owner_password: str | None = None,
           service_password: str | None = None) -> list[str]:
    """Create the roles if needed, give the schema's objects to the owner and the service role its rights;
    safe to run again after a migration. Returns what was done, for the operator."""
    done = []
    for name, password in ((owner, owner_password), (service, service_password)):
        if ensure_role(connection, name, password):
            done.append(f"role {name} created")
    o, s = _quoted(connection, owner), _quoted(connection, service)
    superuser = connection.scalar(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if not superuser:
        connection.execute(sa.text(f"GRANT {o} TO current_user"))
    connection.execute(sa.text(f"GRANT USAGE, CREATE ON SCHEMA public TO {o}"))
    tables = list(connection.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
    for table in tables:
        connection.execute(sa.text(f"ALTER TABLE {_quoted(connection, table)} OWNER TO {o}"))
    functions = connection.execute(sa.text(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname LIKE 'gonghui%'"))
    for name, arguments in functions:
        connection.execute(sa.text(f"ALTER FUNCTION {_quoted(connection, name)}({arguments}) OWNER TO {o}"))
    done.append(f"{len(tables)} tables owned by {owner}")
    connection.execute(sa.text(f"REVOKE CREATE ON SCHEMA public FROM {s}"))
    connection.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {s}"))
    connection.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {s}"))
    connection.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {s}"))
    for table in (name for name in APPEND_ONLY if name in tables):
        connection.execute(sa.text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {s}"))
    for table in (name for name in OWNER_ONLY if name in tables):
        connection.execute(sa.text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {s}"))
    connection.execute(sa.text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
                               f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {s}"))
    connection.execute(sa.text(f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
                               f"GRANT USAGE, SELECT ON SEQUENCES TO {s}"))
    done.append(f"{service} may read and write the tables, and only SELECT and INSERT {', '.join(APPEND_ONLY)}")
    return done
