"""How the rows of a change reach the database. Whatever writes on a case's behalf — its history
(``api.history``), its timers (``api.deadlines``), involvement and notices (``api.ownership``), webhook messages
(``api.webhooks``) and the case itself (``api.cases``) — is handed a ``CaseWriter`` by the one who owns the
transaction, so the way of writing is chosen once, by the caller, and can be read in the arguments:

- ``RowWriter`` writes one case's change: a request changes one case and adds a handful of rows (history,
  timers, involvement, notices, webhook messages). They go with the case's versioned update — on PostgreSQL
  inside it, as CTEs — so a lost race fails there, as ``StaleVersion``, and takes them with it.
- ``SetWriter`` collects new cases, changed cases, timers to cancel and rows, and ``write()`` sends them with one
  statement per table, the cases first and the rows that point at them after: the sweep's batch
  (``api.sweep``), ``api.cases.open_many`` (the roster and union_term imports), and ``open_case``, whose new case
  goes in holding its history hash, before the rows that point at it.

Imports: models, and how statements travel (``api.connections``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstanceState, Session
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError

from api.connections import UNREAD, results_with_next
from api.models import Case, OrgUnit, Timer
from workflow.errors import StaleVersion

Values = dict[str, Any]


@dataclass(slots=True)
class NewCase:
    """A case about to be inserted set-wise (``open_many``): the columns of ``cases`` as a typed record, with its
    unit at hand. It never goes through the session: ``SetWriter.open`` inserts it with the others."""

    id: int
    number: str
    definition_key: str
    definition_version: int
    state: str
    level: str
    org_unit: OrgUnit
    org_unit_id: int
    org_path: str
    data: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    amount: Decimal | None = None
    party: str | None = None
    category: str | None = None
    closed: bool = False
    due_at: datetime | None = None
    warn_at: datetime | None = None
    due_provisional: bool = False
    overdue: bool = False
    escalations: int = 0
    closed_at: datetime | None = None
    version: int = 1
    history_hash: str | None = None
    milestones: str = ""


# a case as the writers of its rows see it: stored (and in the session), or about to be inserted set-wise
CaseRecord = Case | NewCase

CASE_COLUMNS = tuple(column.key for column in Case.__table__.columns)
_CASE_COLUMN_KEYS = frozenset(CASE_COLUMNS) - {"id", "version"}
_CASE_TYPES = {attribute.key: attribute.columns[0].type for attribute in sa.inspect(Case).column_attrs}

# the columns a change may make to a stored case, written for a whole set by one statement
CHANGED_COLUMNS = ("state", "data", "org_unit_id", "org_path", "level", "escalations", "overdue", "closed",
                   "closed_at", "updated_at", "due_at", "warn_at", "due_provisional", "amount", "party", "category",
                   "history_hash", "milestones")


class CaseWriter(ABC):
    """Where the rows of a change go: written as they come (``RowWriter``) or collected (``SetWriter``)."""

    def __init__(self, session: Session) -> None:
        self.session = session   # also what the writers' callers read through

    @abstractmethod
    def add(self, model: type[Any], values: Values) -> None:
        """A row of the case's own tables (a history row, a timer, an involvement)."""

    @abstractmethod
    def insert(self, table: sa.Table, rows: list[Values]) -> None:
        """Rows about the case written by a statement (notices, webhook messages); a table whose ``info`` says
        ``on_conflict_do_nothing`` passes over a row another writer wrote already."""

    @abstractmethod
    def cancel_timers(self, case_id: int, statuses: tuple[str, ...]) -> None:
        """Cancel the case's timers in ``statuses``."""

    @abstractmethod
    def changed(self, case: Case) -> None:
        """The change of a stored case is complete: write it (its version moves by one)."""


class RowWriter(CaseWriter):
    """One case at a time (a request): the rows come in the order they are handed over and reach the database
    with the case's change (``changed``), in the same round trip. On PostgreSQL a handful of them go in the very
    statement that updates the case, as data-modifying CTEs (``WITH w0 AS (INSERT …) UPDATE cases …``): one
    statement instead of one a row. Elsewhere, or with many rows, they are sent ahead of the case's update
    without waiting for their results (``api.connections.results_with_next``). Either way none of them is read
    back, the case's update, whose count of rows tells a lost race, is the statement whose results are waited
    for, and an error of any of them (a history sequence number taken meanwhile) is raised by it.
    ``write()`` sends what is collected without a change of the case (a caller that only adds rows)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._pending: list[tuple[sa.Table | None, Values]] = []   # (table, row); (None, …): timers cancelled

    def add(self, model: type[Any], values: Values) -> None:
        self._pending.append((model.__table__, values))

    def insert(self, table: sa.Table, rows: list[Values]) -> None:
        self._pending.extend((table, row) for row in rows)

    def cancel_timers(self, case_id: int, statuses: tuple[str, ...]) -> None:
        # a plain statement: no timer of the case is held in the session to keep in step
        self._pending.append((None, {"t_case_id": case_id, "t_statuses": list(statuses)}))

    def write(self) -> None:
        """Send the collected rows now (without waiting for their results where they can travel with the next
        statement)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        connection = self.session.connection()
        dialect = connection.dialect.name
        for table, values in pending:   # one row each: an executemany would wait for its results
            connection.execute(_CANCEL_TIMERS if table is None else _unread_insert(table, dialect), values)

    def changed(self, case: Case) -> None:
        connection, case_id = self.session.connection(), case.id
        try:
            alone = self._alone(case)
            if alone and _combinable(connection, self._pending):
                pending, self._pending = self._pending, []
                _update_case(connection, case, pending)   # one statement: the rows ride on the case's update
                return
            with results_with_next(connection):
                self.write()
                if alone:
                    _update_case(connection, case)   # the case's update (version checked) closes the round trip
                else:
                    self.session.flush()   # other objects changed too: the unit of work orders them all
        except (StaleDataError, sa.exc.IntegrityError) as error:
            raise StaleVersion("案件刚被他人修改，请刷新后重试", case_id=case_id) from error

    def _alone(self, case: Case) -> bool:
        """Whether ``case`` is the one object the session has to write."""
        session = self.session
        return not session.new and not session.deleted and all(instance is case for instance in session.dirty)


_TIMERS = Timer.__table__


def _cancelling(case_id: str, statuses: str) -> sa.Update:
    """``UPDATE timers SET status = 'cancelled' WHERE case_id = :<case_id> AND status IN :<statuses>``."""
    return (sa.update(_TIMERS).where(_TIMERS.c.case_id == sa.bindparam(case_id),
                                     _TIMERS.c.status.in_(sa.bindparam(statuses, expanding=True)))
            .values(status="cancelled"))


_CANCEL_TIMERS = _cancelling("t_case_id", "t_statuses").execution_options(**UNREAD)
# at most this many rows ride on a case's update (more, and each would be a shape of statement of its own)
MAX_RIDING_ROWS = 8


def _combinable(connection: sa.Connection, pending: list[tuple[sa.Table | None, Values]]) -> bool:
    """Whether ``pending`` can go in the case's update as CTEs: on PostgreSQL, a handful of rows, each holding
    every column that has a default in Python (SQLAlchemy fills those in for the statement, under the column's
    own name: two rows of one table would share it), and no timers cancelled after a timer was added (the parts
    of one statement see the same snapshot: a cancel would not see the new timer, which written one after the
    other it would)."""
    if not pending or len(pending) > MAX_RIDING_ROWS or connection.dialect.name != "postgresql":
        return False
    added_timer = False
    for table, values in pending:
        if table is None and added_timer:
            return False
        if table is not None and not _defaulted(table) <= values.keys():
            return False
        added_timer = added_timer or table is _TIMERS
    return True


@lru_cache(maxsize=64)
def _defaulted(table: sa.Table) -> frozenset[str]:
    """The columns of ``table`` that SQLAlchemy gives a value when an insert leaves them out."""
    return frozenset(column.key for column in table.columns if column.default is not None)


@lru_cache(maxsize=64)
def _unread_insert(table: sa.Table, dialect: str) -> Any:
    """The insert of one row into ``table`` whose result nobody reads (built once: its cache key with it)."""
    return insert_statement_for(dialect, table).inline().execution_options(**UNREAD)


@lru_cache(maxsize=256)
def _case_update(columns: tuple[str, ...]) -> sa.Update:
    """``UPDATE cases SET <columns>, version = :c_next WHERE id = :c_id AND version = :c_v`` (built once per set of
    columns)."""
    table = Case.__table__
    return (sa.update(table).where(table.c.id == sa.bindparam("c_id"), table.c.version == sa.bindparam("c_v"))
            .values(version=sa.bindparam("c_next"),
                    **{name: sa.bindparam(f"c_{name}", type_=table.c[name].type) for name in columns}))


# the shape of a row riding on a case's update: (table, its columns), or None for timers cancelled
_Part = tuple[sa.Table, tuple[str, ...]] | None


@lru_cache(maxsize=256)
def _case_update_with(columns: tuple[str, ...], parts: tuple[_Part, ...]) -> sa.Update:
    """``WITH w0 AS (<part 0>), w1 AS (…) UPDATE cases …`` (PostgreSQL; built once per shape). Part ``i`` binds
    its values as ``w<i>_<column>`` (the cancel: ``w<i>_case_id``, ``w<i>_statuses``), so that no two parts share
    a name, and none is a column of ``cases`` (SQLAlchemy would take it for one more column to set)."""
    ctes = []
    for index, part in enumerate(parts):
        name = f"w{index}"
        if part is None:
            statement: Any = _cancelling(f"{name}_case_id", f"{name}_statuses")
        else:
            table, keys = part
            statement = insert_statement_for("postgresql", table).values(
                {key: sa.bindparam(f"{name}_{key}", type_=table.c[key].type) for key in keys})
        ctes.append(statement.cte(name))
    return _case_update(columns).add_cte(*ctes)


def _riding(pending: list[tuple[sa.Table | None, Values]]) -> tuple[tuple[_Part, ...], Values]:
    """The shape of ``pending`` and its values under the names ``_case_update_with`` binds them by."""
    parts: list[_Part] = []
    values: Values = {}
    for index, (table, row) in enumerate(pending):
        if table is None:
            parts.append(None)
            values[f"w{index}_case_id"], values[f"w{index}_statuses"] = row["t_case_id"], row["t_statuses"]
        else:
            keys = tuple(sorted(row))
            parts.append((table, keys))
            values.update({f"w{index}_{key}": row[key] for key in keys})
    return tuple(parts), values


def _update_case(connection: sa.Connection, case: Case,
                 riding: list[tuple[sa.Table | None, Values]] | None = None) -> None:
    """The change of one case in one statement, as the unit of work would write it — the columns that changed
    and the version moved by one, only if still at the version read — without the unit of work's bookkeeping;
    the case is then marked written (the version's bump a lost race, ``StaleDataError``). ``riding``: rows
    written by the same statement (PostgreSQL)."""
    state: InstanceState[Case] = sa.inspect(case)
    columns = tuple(sorted(key for key, before in state.committed_state.items()
                           if key in _CASE_COLUMN_KEYS and not _unchanged(key, before, state.dict.get(key))))
    version = case.version
    parameters = {"c_id": case.id, "c_v": version, "c_next": version + 1,
                  **{f"c_{name}": state.dict[name] for name in columns}}
    statement = _case_update(columns)
    if riding:
        parts, values = _riding(riding)
        statement, parameters = _case_update_with(columns, parts), {**parameters, **values}
    written = connection.execute(statement, parameters)
    if written.rowcount != 1:
        raise StaleDataError(f"case {case.id} is no longer at version {version}")
    state.dict["version"] = version + 1
    state._commit_all(state.dict, state.session.identity_map if state.session else None)  # as a flush leaves it


def _unchanged(key: str, before: Any, after: Any) -> bool:
    """Whether a column assigned since the load holds the value it was loaded with, compared as the unit of work
    compares it (the column type's ``compare_values``); a value not loaded before counts as changed."""
    if before is NO_VALUE:
        return False
    return before is after or bool(_CASE_TYPES[key].compare_values(before, after))


def flush_case(session: Session, case_id: int | None) -> None:
    """Flush; a lost race (the version moved, or another history row took the sequence number) is ``StaleVersion``."""
    try:
        session.flush()
    except (StaleDataError, sa.exc.IntegrityError) as error:
        raise StaleVersion("案件刚被他人修改，请刷新后重试", case_id=case_id) from error


class SetWriter(CaseWriter):
    """Collects, then ``write()`` sends it all with one statement per table."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._new: list[NewCase] = []
        self._changed: dict[int, Case] = {}
        self._cancels: dict[tuple[str, ...], set[int]] = {}
        self._rows: dict[sa.Table, list[Values]] = {}

    def open(self, case: NewCase) -> None:
        """A new case, inserted first."""
        self._new.append(case)

    def add(self, model: type[Any], values: Values) -> None:
        self._rows.setdefault(model.__table__, []).append(values)

    def insert(self, table: sa.Table, rows: list[Values]) -> None:
        if rows:
            self._rows.setdefault(table, []).extend(rows)

    def cancel_timers(self, case_id: int, statuses: tuple[str, ...]) -> None:
        self._cancels.setdefault(statuses, set()).add(case_id)

    def collected(self) -> dict[sa.Table, list[Values]]:
        """The rows collected so far, by table (for a caller that writes the rows of some sets only)."""
        return self._rows

    def changed(self, case: Case) -> None:
        self._changed[case.id] = case

    def write(self) -> None:
        """New cases, then changed cases (each only if still at the version read: else ``StaleVersion`` and the
        caller's savepoint goes back), then cancelled timers, then the rows that point at the cases."""
        connection = self.session.connection()
        if self._new:
            connection.execute(sa.insert(Case.__table__),
                               [{name: getattr(case, name) for name in CASE_COLUMNS} for case in self._new])
        if self._changed:
            self._write_changed(connection)
        timers = Timer.__table__
        for statuses, case_ids in self._cancels.items():
            connection.execute(sa.update(timers).where(timers.c.case_id.in_(sorted(case_ids)),
                                                       timers.c.status.in_(statuses)).values(status="cancelled"))
        for table, rows in self._rows.items():
            connection.execute(insert_statement(self.session, table), rows)
        self._new, self._changed, self._cancels, self._rows = [], {}, {}, {}

    def _write_changed(self, connection: sa.Connection) -> None:
        table = Case.__table__
        update = (sa.update(table).where(table.c.id == sa.bindparam("c_id"), table.c.version == sa.bindparam("c_v"))
                  .values(version=sa.bindparam("c_next"),
                          **{name: sa.bindparam(f"c_{name}", type_=table.c[name].type) for name in CHANGED_COLUMNS}))
        cases = list(self._changed.values())
        written = connection.execute(update, [
            {"c_id": case.id, "c_v": case.version, "c_next": case.version + 1,
             **{f"c_{name}": getattr(case, name) for name in CHANGED_COLUMNS}} for case in cases])
        if written.rowcount != len(cases):
            raise StaleVersion("批量处理中的案件刚被他人修改")
        for case in cases:   # written above: the unit of work must not write them again
            self.session.expunge(case)


def affected_rows(result: sa.Result[Any]) -> int:
    """The rows an UPDATE, DELETE or INSERT went to (``Session.execute`` types its answer as a plain Result; for
    such a statement it is a CursorResult)."""
    assert isinstance(result, sa.CursorResult)
    return result.rowcount


def insert_statement(session: Session, table: sa.Table) -> Any:
    """An insert into ``table``; ON CONFLICT DO NOTHING for a table that says so in its ``info`` (a row that
    another writer already wrote, such as a notice of one deadline, is then passed over)."""
    return insert_statement_for(session.get_bind().dialect.name, table)


def insert_statement_for(dialect: str, table: sa.Table) -> Any:
    """``insert_statement`` for a database of ``dialect``."""
    if not table.info.get("on_conflict_do_nothing"):
        return sa.insert(table)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()
