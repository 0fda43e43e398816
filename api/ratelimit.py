"""A fixed-window rate limit kept in the database, so that every API process counts the same requests."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.errors import RateLimited
from api.models_reports import RateWindow

# Windows are kept this long at least, whatever the window of the request that removes old ones.
KEEP = timedelta(days=2)


# A refusal for too many requests or misses: answered 429 with ``Retry-After`` (``api.problems``); a page may
# catch it and say so in its own words.
Throttled = RateLimited


def _window_start(now: datetime, window: timedelta) -> datetime:
    epoch = int(now.timestamp())
    size = int(window.total_seconds())
    return datetime.fromtimestamp(epoch - epoch % size, tz=now.tzinfo)


def _retry(start: datetime, window: timedelta, now: datetime) -> int:
    return max(1, int((start + window - now).total_seconds()))


def hit(session: Session, client: str, now: datetime, *, limit: int, window: timedelta) -> int | None:
    """Count one request of ``client``; None when allowed, else the seconds until the window ends.

    The count is written in its own short transaction (a refused request must still count, and the caller's
    transaction may roll back).
    """
    start = _window_start(now, window)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RateWindow).values(client=client, window_start=start, count=1)
    statement = statement.on_conflict_do_update(index_elements=["client", "window_start"],
                                                set_={"count": RateWindow.count + 1})
    with Session(session.get_bind()) as own:
        own.execute(statement)
        count = own.scalar(sa.select(RateWindow.count).where(RateWindow.client == client,
                                                              RateWindow.window_start == start)) or 0
        own.execute(sa.delete(RateWindow).where(RateWindow.window_start < start - max(window, KEEP)))
        own.commit()
    if count > limit:
        return _retry(start, window, now)
    return None


def spent(session: Session, client: str, now: datetime, *, limit: int, window: timedelta) -> int | None:
    """Without counting: None while ``client`` has fewer than ``limit`` in this window, else the seconds left."""
    start = _window_start(now, window)
    with Session(session.get_bind()) as own:  # what other requests committed, whatever this one has read
        count = own.scalar(sa.select(RateWindow.count).where(RateWindow.client == client,
                                                             RateWindow.window_start == start)) or 0
    return _retry(start, window, now) if count >= limit else None


def forget(session: Session, client: str) -> None:
    """Drop every window of ``client`` (an administrator lifts a lockout)."""
    session.execute(sa.delete(RateWindow).where(RateWindow.client == client))


def setting(name: str, default: int) -> int:
    """``GONGHUI_<name>`` or the default."""
    return int(current_app.config.get(name, default))


def enforce(client: str, setting: str, *, limit: int, window_seconds: int, message: str) -> None:
    """Count a request of ``client``; ``Throttled`` (429 with Retry-After) once it is over the limit.

    ``GONGHUI_<setting>_LIMIT`` and ``GONGHUI_<setting>_WINDOW_SECONDS`` override the defaults."""
    from api.clock import now
    from api.extensions import current_session

    retry = hit(current_session(), client, now(), limit=current_app.config.get(f"{setting}_LIMIT", limit),
                window=timedelta(seconds=current_app.config.get(f"{setting}_WINDOW_SECONDS", window_seconds)))
    if retry is not None:
        raise Throttled(message, retry)
