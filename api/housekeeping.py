"""Removing what has outlived its use: idempotency records older than ``IDEMPOTENCY_TTL_HOURS`` (24).

The scheduler runs ``purge_idempotency_records`` every ``HOUSEKEEPING_INTERVAL_SECONDS`` (an hour);
``gonghui idempotency purge`` does the same once. Deleting in batches keeps each transaction short.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import IdempotencyRecord

BATCH = 5000


def purge_idempotency_records(make_session: Callable[[], Session], now: datetime, ttl: timedelta) -> int:
    """Delete every idempotency record created ``ttl`` or longer before ``now``; returns how many."""
    removed = 0
    while True:
        with make_session() as session:
            ids = list(session.scalars(sa.select(IdempotencyRecord.id)
                                       .where(IdempotencyRecord.created_at <= now - ttl).limit(BATCH)))
            if not ids:
                return removed
            session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(ids)))
            session.commit()
            removed += len(ids)
