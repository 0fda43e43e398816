"""Pooled PostgreSQL connections that are checked without a round trip to the server.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one more round trip per request. Instead,
a connection taken from the pool is checked in the process alone: an idle connection has nothing to read, so
when its socket is readable — the server closed it (a restart, ``pg_terminate_backend``, an idle timeout) or
said something unasked — or psycopg already knows it broken, it is pinged; if that fails the pool throws it
away and retries with a fresh connection (``DisconnectionError``, up to three times). A connection dropped
silently on the way (no FIN reaches us) is not seen by this, nor by a ping short of its timeout:
``pool_recycle`` (30 minutes, ``api.config``) replaces connections before firewalls usually forget them,
and a request that meets such a connection is answered 503 and its pool refilled.
"""

from __future__ import annotations

import select
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc


def check_without_round_trip(engine: sa.Engine) -> None:
    """Check ``engine``'s connections on checkout as above (PostgreSQL with psycopg; others are left as is)."""
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
            raise exc.DisconnectionError("the server closed the connection") from error


def _readable(descriptor: int) -> bool:
    """Whether the socket has something to read (data, or the end of the stream), without waiting."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
