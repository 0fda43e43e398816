"""Keeping the report summary honest: ``compact`` folds its delta rows into one row per key, ``verify`` recounts
it from the cases (and the milestones from the history) and names every difference.

The rows themselves are written by the triggers on ``cases`` (migration ``0035_report_summaries``): every write
of a case, whatever path it takes, adds its deltas in its own transaction; a report reads ``SUM(n)`` per group,
so it is right before and after compaction alike.

Imports: models and the registry of lifecycles (their milestones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import ReportSummary
from api.writers import affected_rows

KEY = ("definition_key", "org_unit_id", "org_path", "grain", "period", "state", "level", "category", "closed",
       "overdue", "escalated", "milestones")
_KEYS = ", ".join(KEY)
_COLUMNS = f"{_KEYS}, n, amount_cents"
# an id of our own for pg_try_advisory_xact_lock: one compaction at a time over all scheduler processes
_COMPACT_LOCK = 0x5E0A_2035


@dataclass(frozen=True)
class Compaction:
    rows_folded: int      # delta rows read and deleted
    rows_written: int     # the rows they became (one per key whose count is not zero)
    skipped: bool = False  # another process was compacting


def compact(session: Session) -> Compaction:
    """Fold the rows of every key that has more than one (or counts nothing) into one; the caller commits.
    On PostgreSQL one statement: it deletes the rows it sees and inserts their sums, so rows that writers add
    meanwhile stay for the next time (writers only ever insert)."""
    if session.get_bind().dialect.name == "postgresql":
        if not session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=_COMPACT_LOCK)):
            return Compaction(0, 0, skipped=True)
        match = " AND ".join(f"s.{name} = f.{name}" for name in KEY)
        folded, written = session.execute(sa.text(f"""
            WITH folded AS (SELECT {_KEYS} FROM report_summaries GROUP BY {_KEYS}
                            HAVING count(*) > 1 OR sum(n) = 0),
                 gone AS (DELETE FROM report_summaries AS s USING folded AS f WHERE {match} RETURNING s.*),
                 written AS (INSERT INTO report_summaries ({_COLUMNS})
                             SELECT {_KEYS}, sum(n), sum(amount_cents) FROM gone GROUP BY {_KEYS}
                             HAVING sum(n) <> 0 OR sum(amount_cents) <> 0 RETURNING 1)
            SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM written)""")).one()
        return Compaction(int(folded), int(written))
    # SQLite: one writer at a time; the transaction sees one state of the table throughout
    session.execute(sa.text("DROP TABLE IF EXISTS temp.report_folds"))
    session.execute(sa.text(f"""CREATE TEMP TABLE report_folds AS
        SELECT {_KEYS}, sum(n) AS n, sum(amount_cents) AS amount_cents, count(*) AS rows_read
        FROM report_summaries GROUP BY {_KEYS} HAVING count(*) > 1 OR sum(n) = 0"""))
    folded = session.scalar(sa.text("SELECT coalesce(sum(rows_read), 0) FROM temp.report_folds"))
    session.execute(sa.text(f"DELETE FROM report_summaries WHERE ({_KEYS}) IN (SELECT {_KEYS} FROM temp.report_folds)"))
    written = affected_rows(session.execute(sa.text(f"""INSERT INTO report_summaries ({_COLUMNS})
        SELECT {_COLUMNS} FROM temp.report_folds WHERE n <> 0 OR amount_cents <> 0""")))
    session.execute(sa.text("DROP TABLE temp.report_folds"))
    return Compaction(int(folded or 0), int(written))


def _recount_sql(dialect: str) -> str:
    """The summary as it should be: the cases grouped by every key, at every grain (month, ten days, day)."""
    if dialect == "postgresql":
        local = "(c.created_at AT TIME ZONE 'Asia/Shanghai')"
        month = f"date_trunc('month', {local})::date"
        periods = {"m": month, "t": f"({month} + least(extract(day from {local})::int - 1, 20) / 10 * 10)",
                   "d": f"{local}::date"}
        cents = "coalesce(round(c.amount * 100), 0)::bigint"
    else:
        month = "date(c.created_at, '+8 hours', 'start of month'"
        day = "CAST(strftime('%d', c.created_at, '+8 hours') AS INTEGER)"
        periods = {"m": f"{month})", "t": f"{month}, '+' || (min({day} - 1, 20) / 10 * 10) || ' days')",
                   "d": "date(c.created_at, '+8 hours')"}
        cents = "CAST(round(coalesce(c.amount, 0) * 100) AS INTEGER)"
    return " UNION ALL ".join(
        f"SELECT c.definition_key, c.org_unit_id, c.org_path, '{grain}', {period}, c.state, c.level, "
        f"coalesce(c.category, ''), c.closed, c.overdue, c.escalations > 0, c.milestones, count(*), sum({cents}) "
        f"FROM cases AS c GROUP BY c.definition_key, c.org_unit_id, c.org_path, {period}, c.state, c.level, "
        f"coalesce(c.category, ''), c.closed, c.overdue, c.escalations > 0, c.milestones"
        for grain, period in periods.items())


def _keyed(rows: Any) -> dict[tuple[Any, ...], tuple[int, int]]:
    found = {}
    for row in rows:
        key = (row[0], int(row[1]), row[2], row[3], str(row[4])[:10], row[5], row[6], row[7], bool(row[8]),
               bool(row[9]), bool(row[10]), row[11])
        found[key] = (int(row[12]), int(row[13]))
    return found


@dataclass(frozen=True)
class Difference:
    what: str

    def __str__(self) -> str:
        return self.what


def verify(session: Session, milestones: dict[str, tuple[str, ...]], *, limit: int = 50) -> list[Difference]:
    """Recount the summary from the cases and compare key by key; check each case's milestones against its
    history (``milestones``: each lifecycle's declared events). No difference: an empty list."""
    dialect = session.get_bind().dialect.name
    expected = _keyed(session.execute(sa.text(_recount_sql(dialect))))
    table = ReportSummary.__table__
    kept = _keyed(session.execute(
        sa.select(*(table.c[name] for name in KEY), sa.func.sum(table.c.n), sa.func.sum(table.c.amount_cents))
        .group_by(*(table.c[name] for name in KEY))
        .having(sa.or_(sa.func.sum(table.c.n) != 0, sa.func.sum(table.c.amount_cents) != 0))))
    found = []
    for key in sorted(set(expected) | set(kept), key=repr):
        should, is_ = expected.get(key, (0, 0)), kept.get(key, (0, 0))
        if should != is_:
            labels = dict(zip(KEY, key, strict=True))
            found.append(Difference(f"{labels}: the cases count {should[0]} (amount {should[1] / 100:.2f}), "
                                    f"the summary {is_[0]} (amount {is_[1] / 100:.2f})"))
    for definition, events in milestones.items():
        for event in events:
            wrong = session.scalars(sa.text(
                "SELECT c.number FROM cases AS c WHERE c.definition_key = :key AND "
                "CASE WHEN (',' || c.milestones || ',') LIKE ('%,' || :event || ',%') THEN 1 ELSE 0 END <> "
                "CASE WHEN EXISTS (SELECT 1 FROM case_history AS h WHERE h.case_id = c.id AND h.event = :event) "
                "THEN 1 ELSE 0 END ORDER BY c.id LIMIT :limit").bindparams(key=definition, event=event, limit=limit))
            found.extend(Difference(f"case {number}: its milestones and its history disagree on {event!r}")
                         for number in wrong)
    return found
