"""Statements over a set of rows sent as one statement. On PostgreSQL the rows travel as one JSON document, read
back as a table by ``json_to_recordset`` with the types of the table's columns: a batch of any size is one
execution of one statement (planned once, cached by SQLAlchemy and prepared by psycopg), a statement-level
trigger (the report summary's on ``cases``) runs once for the batch instead of once per row as it does when
psycopg's ``executemany`` sends the rows one by one, and the rows are encoded by the json module's C encoder
rather than parameter by parameter. A column that holds the same value in every row (the batch's time, its
actor, its comment) is left out of the document and is one parameter of the statement instead (the statement
differs with the columns so held: a few texts, each cached). Elsewhere (SQLite: in-process, row triggers) the
rows go one by one, which costs no round trip there.

Imports: SQLAlchemy only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

Values = dict[str, Any]


def _encoded(value: Any) -> str:
    """A value the json module cannot write, as PostgreSQL reads it back into its column's type."""
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    if isinstance(value, date | Decimal):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    raise TypeError(f"{type(value).__name__} is not written set-wise")


def _recordset(table: sa.Table, columns: Sequence[tuple[str, str]], rows: Sequence[Values]) -> Any:
    """``json_to_recordset(rows) AS v(name type, ...)``: the rows as a table whose columns are (name, column of
    ``table`` whose type it has)."""
    document = json.dumps([{name: row[name] for name, _ in columns} for row in rows], default=_encoded,
                          ensure_ascii=False, separators=(",", ":"))
    typed = (sa.column(name, table.c[column].type) for name, column in columns)
    return (sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", document, type_=sa.Text), sa.JSON))
            .table_valued(*typed).render_derived(name="v", with_types=True))


_PLAIN = (str, int, bool)


def _same_in_all(rows: Sequence[Values], name: str) -> bool:
    """Whether every row holds the same value in ``name``: the very object, or equal text or number."""
    first = rows[0][name]
    if type(first) in _PLAIN:
        kind = type(first)
        return all(row[name] is first or (type(row[name]) is kind and row[name] == first) for row in rows)
    return all(row[name] is first for row in rows)


def _split(table: sa.Table, rows: Sequence[Values], names: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The columns of ``names`` that differ from row to row, and those the same in every row as expressions of
    one parameter each (cast to the column's type): a value shared by the batch (its time, its actor, its
    comment) travels once instead of once per row."""
    varying, same = [], {}
    for name in names:
        if len(rows) > 1 and _same_in_all(rows, name):
            column = table.c[name]
            same[name] = sa.cast(sa.bindparam(f"same_{name}", rows[0][name], type_=column.type), column.type)
        else:
            varying.append(name)
    return varying, same


def _postgresql(connection: sa.Connection) -> bool:
    return connection.dialect.name == "postgresql"


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Values]) -> None:
    """Insert ``rows`` (each with the same columns) into ``table``, results unread."""
    if not rows:
        return
    names = list(rows[0])
    if not _postgresql(connection):
        connection.execute(sa.insert(table), list(rows))
        return
    varying, same = _split(table, rows, names)
    values = _recordset(table, [(name, name) for name in varying], rows)
    connection.execute(sa.insert(table).from_select([*varying, *same],
                                                    sa.select(*values.c, *same.values()).select_from(values)))


def update_matching(connection: sa.Connection, table: sa.Table, match: Sequence[str],
                    rows: Sequence[Values]) -> set[int]:
    """Update each row of ``table`` whose ``match`` columns hold ``row["was_<column>"]`` with the row's other
    values (column: new value); returns the ids of the rows updated (a row whose columns differ now — its version
    moved — is passed over)."""
    if not rows:
        return set()
    changed = [name for name in rows[0] if not name.startswith("was_")]
    if not _postgresql(connection):
        return _update_one_by_one(connection, table, match, changed, rows)
    varying, same = _split(table, rows, changed)
    values = _recordset(table, [*((f"was_{name}", name) for name in match), *((name, name) for name in varying)],
                        rows)
    update = (sa.update(table).where(*(table.c[name] == values.c[f"was_{name}"] for name in match))
              .values({**{name: values.c[name] for name in varying}, **same}).returning(table.c.id))
    return set(connection.scalars(update))


def _update_one_by_one(connection: sa.Connection, table: sa.Table, match: Sequence[str], changed: Sequence[str],
                       rows: Sequence[Values]) -> set[int]:
    update = (sa.update(table).where(*(table.c[name] == sa.bindparam(f"was_{name}") for name in match))
              .values({name: sa.bindparam(f"new_{name}", type_=table.c[name].type) for name in changed}))
    updated = set()
    for row in rows:
        parameters = {**{f"was_{name}": row[f"was_{name}"] for name in match},
                      **{f"new_{name}": row[name] for name in changed}}
        if connection.execute(update, parameters).rowcount:
            updated.add(row["was_id"])
    return updated
