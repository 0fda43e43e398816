"""A fixed-window rate limit kept in the database, so that every API process counts the same requests."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
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
