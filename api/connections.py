"""Pooled PostgreSQL connections: checked without a round trip, and BEGIN and COMMIT sent along with a
statement instead of on their own.

**Checking.** SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one more round trip per
request. Instead, a connection taken from the pool is checked in the process alone: an idle connection has
nothing to read, so when its socket is readable — the server closed it (a restart, ``pg_terminate_backend``,
an idle timeout) or said something unasked — or psycopg already knows it broken, it is pinged; if that fails
the pool throws it away and retries with a fresh connection (``DisconnectionError``, up to three times). A
connection dropped silently on the way (no FIN reaches us) is not seen by this, nor by a ping short of its
timeout: ``pool_recycle`` (30 minutes, ``api.config``) replaces connections before firewalls usually forget
them, and a request that meets such a connection is answered 503 with ``Retry-After`` (``api.problems``)
while SQLAlchemy refills the pool.

**Pipelining.** psycopg sends the BEGIN that opens a transaction as a round trip of its own before the first
statement. Here that first statement goes in a libpq pipeline with it (one round trip for both): the results
are read when the statement returns, so nothing else changes — an error is raised by the same call. And a
request that ends with writes whose results nobody reads (its access records, the idempotency record) sends
them with the COMMIT: ``commit_with_next_statements`` opens a pipeline at the next statement that the commit
closes, so an error of those statements (a unique key taken meanwhile) is raised by the commit, and rolls
everything back.
Likewise the rows a request writes beside a case — its history row, timers cancelled and started, notices —
are read back by nobody: ``results_with_next`` sends them in a pipeline that the next statement whose results
are read (the case's update, version checked) closes, so the change of a case costs one round trip, and an
error of any of them (a history sequence number taken meanwhile) is raised by that statement.
A pipeline still open when the connection goes back to the pool is closed first.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from psycopg import ServerCursor
from psycopg.pq import TransactionStatus
from sqlalchemy import exc
from sqlalchemy.orm import Session

_STATEMENT, _UNTIL_COMMIT, _UNTIL_READ = "statement", "until commit", "until read"
# the execution options of a statement whose results nobody reads (it may wait in a pipeline)
UNREAD = {"gonghui_unread": True}
# engines configured here, and who watches their statements being sent (``watching``)
_CONFIGURED: weakref.WeakSet[sa.Engine] = weakref.WeakSet()
_WATCHING: list[Callable[[Any, str, Any, bool], None]] = []
# DBAPI connections whose next statements travel with the COMMIT (``commit_with_next_statements``)
_COMMIT_WITH_NEXT: weakref.WeakSet[Any] = weakref.WeakSet()
# DBAPI connection → (what the pipeline is for, the pipeline) while one is open
_OPEN: weakref.WeakKeyDictionary[Any, tuple[str, Any]] = weakref.WeakKeyDictionary()


def configure(engine: sa.Engine) -> None:
    """Check ``engine``'s connections on checkout and pipeline its BEGIN and COMMIT as above (PostgreSQL with
    psycopg; other databases are left as they are)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    ping = engine.dialect.do_ping

    @sa.event.listens_for(engine.pool, "checkout")
    def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise exc.DisconnectionError("the connection was closed")
        if not _readable(dbapi_connection.fileno()):
            return
        try:
            ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure of the ping means a dead connection
            # the server went away (a restart?): the pool's other connections are replaced as they come out too
            dead = exc.DisconnectionError("the server closed the connection")
            dead.invalidate_pool = True
            raise dead from error

    _pipelined_statements(engine)
    _commit_through_pipeline(engine)
    _CONFIGURED.add(engine)


def configured(engine: sa.Engine) -> bool:
    """Whether ``engine``'s statements go through this module (and can be watched)."""
    return engine in _CONFIGURED


@contextmanager
def watching(watch: Callable[[Any, str, Any, bool], None]) -> Iterator[None]:
    """For counting round trips (``bench.roundtrips``, tests): ``watch(dbapi_connection, statement, context,
    executemany)`` is called for every statement of a configured engine as it is sent, with the pipeline it
    travels in, if any, open (``open_pipeline``)."""
    _WATCHING.append(watch)
    try:
        yield
    finally:
        _WATCHING.remove(watch)


def commit_with_next_statements(session: Session) -> None:
    """The next statements of ``session`` up to its COMMIT are sent with it, in one round trip; an error of
    any of them is raised by the commit. Only for statements whose results are not read: inserts without
    RETURNING (``insert(...).inline()``), with nothing left for the ORM to flush."""
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        _COMMIT_WITH_NEXT.add(connection.connection.dbapi_connection)


@contextmanager
def results_with_next(connection: sa.Connection) -> Iterator[None]:
    """Statements executed in the block with ``execution_options(**UNREAD)`` are sent without waiting for their
    results; the first statement without it goes with them and its results, and theirs, are read in one round
    trip (errors included). What is still waiting when the block ends is read then. Elsewhere than PostgreSQL
    with psycopg, or inside a pipeline already open, statements run as usual."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg" or \
            _is_open(dbapi_connection) or not connection.in_transaction():
        yield
        return
    _enter(dbapi_connection, _UNTIL_READ)
    try:
        yield
    except BaseException:
        _exit(dbapi_connection, quietly=True)
        raise
    _exit(dbapi_connection)


def open_pipeline(dbapi_connection: Any) -> Any | None:
    """The pipeline open on a connection by this module, if any (for counting round trips)."""
    return _OPEN[dbapi_connection][1] if _is_open(dbapi_connection) else None


def _readable(descriptor: int) -> bool:
    """Whether the socket has something to read (data, or the end of the stream), without waiting."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _pipelined_statements(engine: sa.Engine) -> None:
    """A transaction's first statement opens a pipeline (so that BEGIN travels with it), as do the statements
    asked to travel with the COMMIT; a statement's pipeline closes when it returns, and any pipeline on an error.

    The dialect's ``do_execute`` (and its siblings) are wrapped rather than listened to with the engine's
    ``before_cursor_execute`` and ``after_cursor_execute``: an engine with no event listeners at all spares every
    statement SQLAlchemy's event dispatch (about 4 % of the instructions of a fired event, ``bench.instructions``)."""
    dialect = engine.dialect
    dialect.do_execute = _through_pipelines(dialect.do_execute, None)  # type: ignore[method-assign]
    dialect.do_execute_no_params = _through_pipelines(dialect.do_execute_no_params, False)  # type: ignore[method-assign]
    dialect.do_executemany = _through_pipelines(dialect.do_executemany, True)  # type: ignore[method-assign]

    @sa.event.listens_for(engine.pool, "reset")   # the pool's events: the engine keeps none
    def _returned(dbapi_connection: Any, _record: Any, _reset_state: Any) -> None:
        _forget(dbapi_connection)
        _exit(dbapi_connection, quietly=True)


def _through_pipelines(execute: Callable[..., None], many: bool | None) -> Callable[..., None]:
    """``execute`` (a dialect's ``do_execute…``) with the statement's pipeline opened before and closed after;
    ``many``: whether it executes many parameter sets (None: as its context says)."""
    def do(cursor: Any, statement: str, *rest: Any) -> None:
        context = rest[-1] if rest else None
        # an insert of many rows in batches (insertmanyvalues) comes through ``do_execute`` too
        executemany = many if many is not None else bool(context is not None and context.executemany)
        dbapi_connection = _opening(cursor, executemany)
        for watch in _WATCHING:
            watch(dbapi_connection, statement, context, executemany)
        try:
            execute(cursor, statement, *rest)
        except BaseException:
            _exit(dbapi_connection, quietly=True)
            raise
        _returned(dbapi_connection, context)
    return do


def _opening(cursor: Any, executemany: bool) -> Any:
    """The cursor's connection, with a pipeline opened for the statement about to be sent where it needs one."""
    dbapi_connection = cursor.connection
    if isinstance(cursor, ServerCursor) or _is_open(dbapi_connection):
        return dbapi_connection   # (a statement after the first of those that travel with the COMMIT joins them)
    if _forget(dbapi_connection):
        _enter(dbapi_connection, _UNTIL_COMMIT)
    elif not executemany and not dbapi_connection.autocommit and \
            dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
        _enter(dbapi_connection, _STATEMENT)
    return dbapi_connection


def _returned(dbapi_connection: Any, context: Any) -> None:
    """A statement returned: its pipeline is closed, and the results of those before it in it read (errors raised)."""
    purpose = _OPEN.get(dbapi_connection, ("",))[0]
    if purpose == _STATEMENT or (purpose == _UNTIL_READ and not (
            context is not None and context.execution_options.get("gonghui_unread"))):
        _exit(dbapi_connection)


def _commit_through_pipeline(engine: sa.Engine) -> None:
    """The COMMIT of a transaction with a pipeline open is queued behind its statements: one round trip. A
    COMMIT or ROLLBACK with no statement after ``commit_with_next_statements`` forgets that it was asked."""
    commit, rollback = engine.dialect.do_commit, engine.dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        _forget(dbapi_connection)
        if not _is_open(dbapi_connection):
            commit(dbapi_connection)
            return
        try:
            commit(dbapi_connection)   # queued in the pipeline behind the statement
        finally:
            _exit(dbapi_connection)    # one round trip: the statement's result, then the COMMIT's

    def do_rollback(dbapi_connection: Any) -> None:
        _forget(dbapi_connection)
        _exit(dbapi_connection, quietly=True)
        rollback(dbapi_connection)

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]
    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def _enter(dbapi_connection: Any, purpose: str) -> None:
    pipeline = dbapi_connection.pipeline()
    pipeline.__enter__()
    _OPEN[dbapi_connection] = (purpose, pipeline)


def _forget(dbapi_connection: Any) -> bool:
    """Whether the next statements of ``dbapi_connection`` were to travel with its COMMIT; no longer."""
    try:
        asked = dbapi_connection in _COMMIT_WITH_NEXT
    except TypeError:   # not a psycopg connection (the pool's own wrapper, when it rolls back on return)
        return False
    if asked:
        _COMMIT_WITH_NEXT.discard(dbapi_connection)
    return asked


def _is_open(dbapi_connection: Any) -> bool:
    try:
        return dbapi_connection in _OPEN
    except TypeError:   # not a psycopg connection (SQLAlchemy's stand-in on the first connect)
        return False


def _exit(dbapi_connection: Any, *, quietly: bool = False) -> None:
    if not _is_open(dbapi_connection):
        return
    opened = _OPEN.pop(dbapi_connection, None)
    if opened is None:
        return
    try:
        opened[1].__exit__(None, None, None)
    except Exception:
        if not quietly:
            raise
