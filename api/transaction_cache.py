"""Values read once per transaction of a session (the members of a unit, the active webhooks), kept in
``session.info`` and forgotten when the outermost transaction ends. A cache of reads only: nothing here changes
how anything is written (that is the ``CaseWriter`` a caller passes, ``api.writers``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

T = TypeVar("T")

_CACHED = "gonghui.per_transaction"


def per_transaction(session: Session, key: str, load: Callable[[], T]) -> T:
    """``load()`` once per transaction of the session; the same value after that, until the transaction ends."""
    cache: dict[str, Any] = session.info.setdefault(_CACHED, {})
    if key not in cache:
        cache[key] = load()
    value: T = cache[key]
    return value


@sa.event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CACHED, None)
