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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

_STATEMENT, _UNTIL_COMMIT, _UNTIL_READ = "statement", "until commit", "until read"
# the execution options of a statement whose results nobody reads (it may wait in a pipeline)
UNREAD = {"gonghui_unread": True}
_COMMIT_WITH_NEXT = "gonghui.commit_with_next"
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

    _pipeline_begin(engine)
    _close_pipelines(engine)
    _commit_through_pipeline(engine)


def commit_with_next_statements(session: Session) -> None:
    """The next statements of ``session`` up to its COMMIT are sent with it, in one round trip; an error of
    any of them is raised by the commit. Only for statements whose results are not read: inserts without
    RETURNING (``insert(...).inline()``), with nothing left for the ORM to flush."""
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        connection.info[_COMMIT_WITH_NEXT] = True


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


def _pipeline_begin(engine: sa.Engine) -> None:
    """A transaction's first statement opens a pipeline (so that BEGIN travels with it), as do the statements
    asked to travel with the COMMIT."""
    from psycopg import ServerCursor
    from psycopg.pq import TransactionStatus

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _open(connection: sa.Connection, cursor: Any, _statement: str, _parameters: Any, _context: Any,
              executemany: bool) -> None:
        dbapi_connection: Any = connection.connection.dbapi_connection
        if isinstance(cursor, ServerCursor) or _is_open(dbapi_connection):
            return   # (a statement after the first of those that travel with the COMMIT joins their pipeline)
        if connection.info.pop(_COMMIT_WITH_NEXT, False):
            _enter(dbapi_connection, _UNTIL_COMMIT)
        elif not executemany and not dbapi_connection.autocommit and \
                dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
            _enter(dbapi_connection, _STATEMENT)


def _close_pipelines(engine: sa.Engine) -> None:
    """A statement's pipeline closes when it returns; any pipeline closes on an error, and none outlives its
    transaction or its connection's checkout."""

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _read(connection: sa.Connection, _cursor: Any, _statement: str, _parameters: Any, context: Any,
              _executemany: bool) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        purpose = _OPEN.get(dbapi_connection, ("",))[0]
        if purpose == _STATEMENT or (purpose == _UNTIL_READ and not context.execution_options.get("gonghui_unread")):
            _exit(dbapi_connection)   # the statement's results (or its error), and those before it, arrive here

    @sa.event.listens_for(engine, "handle_error")
    def _failed(context: sa.engine.ExceptionContext) -> None:
        try:
            dbapi_connection = context.connection.connection.dbapi_connection if context.connection else None
        except exc.SQLAlchemyError:   # a connection already invalidated holds no pipeline of ours
            return
        if dbapi_connection is not None:
            _exit(dbapi_connection, quietly=True)

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _ended(connection: sa.Connection) -> None:
        connection.info.pop(_COMMIT_WITH_NEXT, None)   # asked for, but no statement came before the end

    @sa.event.listens_for(engine.pool, "reset")
    def _returned(dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        record.info.pop(_COMMIT_WITH_NEXT, None)
        _exit(dbapi_connection, quietly=True)


def _commit_through_pipeline(engine: sa.Engine) -> None:
    """The COMMIT of a transaction with a pipeline open is queued behind its statements: one round trip."""
    commit, rollback = engine.dialect.do_commit, engine.dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        if not _is_open(dbapi_connection):
            commit(dbapi_connection)
            return
        try:
            commit(dbapi_connection)   # queued in the pipeline behind the statement
        finally:
            _exit(dbapi_connection)    # one round trip: the statement's result, then the COMMIT's

    def do_rollback(dbapi_connection: Any) -> None:
        _exit(dbapi_connection, quietly=True)
        rollback(dbapi_connection)

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]
    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def _enter(dbapi_connection: Any, purpose: str) -> None:
    pipeline = dbapi_connection.pipeline()
    pipeline.__enter__()
    _OPEN[dbapi_connection] = (purpose, pipeline)


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
