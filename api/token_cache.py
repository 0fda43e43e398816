"""The callers of recently checked bearer tokens, kept in each process for ``TOKEN_CACHE_SECONDS`` (2), so that
an API request does not query the database for its token each time.

A token is checked against the database at most once per ``TOKEN_CACHE_SECONDS`` in each process; in
between, its expiry is still checked against the clock on every request. Whatever ends or changes a token
in this process — a revocation, a sign-out, a new password, an administrator ending a user's sessions,
deactivating a user or changing its roles or unit, a change to an org unit — empties the cache of every app
of the process when its transaction commits, so it takes effect at once here; done by another process
(another gunicorn worker, the command line) it takes effect here within ``TOKEN_CACHE_SECONDS``.
``TOKEN_CACHE_SECONDS=0`` checks every request against the database.

This module may import SQLAlchemy and the models; it knows nothing of Flask.
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

from api.models import ApiToken, OrgUnit, User

P = TypeVar("P")
MAX_ENTRIES = 10_000
_WATCHED_TABLES = frozenset({User.__tablename__, ApiToken.__tablename__, OrgUnit.__tablename__})
_CHANGED = "gonghui.callers_changed"
_CACHES: weakref.WeakSet[TokenCache[Any]] = weakref.WeakSet()


class TokenCache(Generic[P]):
    """token digest → (caller, the token's expiry, when it was checked); thread-safe, bounded."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[P, datetime | None, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, digest: str, now: datetime) -> P | None:
        """The caller of the token while its check is fresh and the token has not expired."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        caller, expires_at, checked = entry
        if time.monotonic() - checked >= self.seconds or (expires_at is not None and expires_at <= now):
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return caller

    def put(self, digest: str, caller: P, expires_at: datetime | None) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()   # checked again within one query each: simpler than an LRU
            self._entries[digest] = (caller, expires_at, time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def forget_all() -> None:
    """Every cached caller of this process is checked again on its next request."""
    for cache in list(_CACHES):
        cache.clear()


def _note(session: Session) -> None:
    session.info[_CHANGED] = True


@sa.event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    touched = (*session.dirty, *session.deleted)
    if any(isinstance(instance, (User, ApiToken, OrgUnit)) for instance in touched):
        _note(session)


@sa.event.listens_for(Session, "do_orm_execute")
def _bulk_change(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _WATCHED_TABLES:
            _note(state.session)


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget_all()

