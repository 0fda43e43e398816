"""Writes held back for a set-wise batch: inside ``deferring(session)`` the history rows and timers that
``api.history`` and ``deadlines`` would add to the session are collected as plain rows instead, and the cancelling of
a case's timers is noted, so that the batch's owner (the sweep, ``api.cases.open_many``) writes them all with one
statement per table. Outside it, nothing changes: the same code writes row by row through the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

Row = tuple[sa.Table, dict[str, Any]]

_ROWS, _CANCELS = "deferred_rows", "deferred_cancels"


@contextmanager
def deferring(session: Session, cancels: set[int] | None = None) -> Iterator[list[Row]]:
    """Collect the rows (and, when ``cancels`` is given, the cases whose timers to cancel) written meanwhile."""
    rows: list[Row] = []
    session.info[_ROWS] = rows
    if cancels is not None:
        session.info[_CANCELS] = cancels
    try:
        yield rows
    finally:
        session.info.pop(_ROWS, None)
        session.info.pop(_CANCELS, None)


def rows(session: Session) -> list[Row] | None:
    """The rows being collected, or None when writes go through the session as usual."""
    collected: list[Row] | None = session.info.get(_ROWS)
    return collected


def cancels(session: Session) -> set[int] | None:
    noted: set[int] | None = session.info.get(_CANCELS)
    return noted


def insert(session: Session, collected: list[Row]) -> None:
    """Insert collected rows with one executemany per table (no ids read back)."""
    by_table: dict[sa.Table, list[dict[str, Any]]] = {}
    for table, values in collected:
        by_table.setdefault(table, []).append(values)
    for table, values_list in by_table.items():
        session.connection().execute(insert_statement(session, table), values_list)


_CACHED = "gonghui.per_transaction"


def per_transaction(session: Session, key: str, load: Any) -> Any:
    """A value read once per transaction of the session (``load()``), forgotten when the transaction ends."""
    cache: dict[str, Any] = session.info.setdefault(_CACHED, {})
    if key not in cache:
        cache[key] = load()
    return cache[key]


@sa.event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CACHED, None)


def insert_statement(session: Session, table: sa.Table) -> Any:
    """An insert into ``table``; ON CONFLICT DO NOTHING for a table that says so in its ``info`` (a row that
    another writer already wrote, such as a notice of one deadline, is then passed over)."""
    if not table.info.get("on_conflict_do_nothing"):
        return sa.insert(table)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
