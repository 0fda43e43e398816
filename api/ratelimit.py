"""A fixed-window rate limit kept in the database, so that every API process counts the same requests."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Response, current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models_reports import RateWindow


def hit(session: Session, client: str, now: datetime, *, limit: int, window: timedelta) -> int | None:
    """Count one request of ``client``; None when allowed, else the seconds until the window ends.

    The count is written in its own short transaction (a refused request must still count, and the caller's
    transaction may roll back).
    """
    epoch = int(now.timestamp())
    size = int(window.total_seconds())
    start = datetime.fromtimestamp(epoch - epoch % size, tz=now.tzinfo)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RateWindow).values(client=client, window_start=start, count=1)
    statement = statement.on_conflict_do_update(index_elements=["client", "window_start"],
                                                set_={"count": RateWindow.count + 1})
    with Session(session.get_bind()) as own:
        own.execute(statement)
        count = own.scalar(sa.select(RateWindow.count).where(RateWindow.client == client,
                                                              RateWindow.window_start == start)) or 0
        own.execute(sa.delete(RateWindow).where(RateWindow.window_start < start - window))
        own.commit()
    if count > limit:
        return max(1, int((start + window - now).total_seconds()))
    return None


def refused(client: str, setting: str, *, limit: int, window_seconds: int, message: str) -> Response | None:
    """Count a request of ``client``; a 429 problem (with Retry-After) once it is over the limit.

    ``GONGHUI_<setting>_LIMIT`` and ``GONGHUI_<setting>_WINDOW_SECONDS`` override the defaults."""
    from api.clock import now
    from api.extensions import db
    from api.problems import problem

    retry = hit(db.session, client, now(), limit=current_app.config.get(f"{setting}_LIMIT", limit),
                window=timedelta(seconds=current_app.config.get(f"{setting}_WINDOW_SECONDS", window_seconds)))
    return None if retry is None else problem(429, message, headers={"Retry-After": str(retry)})
