"""Receipt numbers (prefix-year-serial, one counter row per prefix and year) and case ids taken before the insert."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import Case, CaseSequence


def reserve_numbers(session: Session, prefix: str, year: int, count: int) -> list[str]:
    """A block of ``count`` consecutive receipt numbers, taken with one row update."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(CaseSequence).values(prefix=prefix, year=year, value=0).on_conflict_do_nothing())
    last = session.execute(
        sa.update(CaseSequence).where(CaseSequence.prefix == prefix, CaseSequence.year == year)
        .values(value=CaseSequence.value + count).returning(CaseSequence.value)).scalar_one()
    return [f"{prefix}-{year}-{value:06d}" for value in range(last - count + 1, last + 1)]


def new_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new cases, taken before they are inserted (so they go in with one executemany): from the
    sequence on PostgreSQL; on SQLite after the highest, the database's write lock (held since the numbers were
    reserved) keeping other writers out until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(sa.text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) "
                                            "FROM generate_series(1, :count)"), {"count": count}))
    highest = session.scalar(sa.select(sa.func.max(Case.id))) or 0
    return list(range(highest + 1, highest + count + 1))
