"""Figures every lifecycle's report shares: counts by state, open, overdue, escalated, for a scope and period,
read from the report summary (``report_summaries``, kept by triggers on ``cases``; see ``api.report_summary``).

A period is read as its whole months from the month rows and the days at its edges from the day rows, so a
report reads a number of rows that depends on the units, months and kinds of case, not on how many cases there
are. ``tallies`` answers one grouped query; each lifecycle's report derives its figures from those groups and
asks the cases themselves, in one grouped query each, only for what the summary does not keep (sums inside the
data, working days between two moments, counts per employer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, ReportSummary

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class ReportScope:
    """Cases of one definition, owned at or below ``org_path``, opened between two local dates."""

    definition: str
    org_path: str
    date_from: date | None = None
    date_to: date | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [Case.definition_key == self.definition,
                                                 Case.org_path.startswith(self.org_path, autoescape=True)]
        if self.date_from:
            clauses.append(Case.created_at >= _local_midnight(self.date_from))
        if self.date_to:
            clauses.append(Case.created_at < _local_midnight(self.date_to + timedelta(days=1)))
        return clauses


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def rate(numerator: int, denominator: int) -> float | None:
    """A share rounded to four places, or None when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


def money(value: Decimal | None) -> str:
    return f"{(value or Decimal('0')):.2f}"


@dataclass(frozen=True)
class Tally:
    """Cases of a scope and period alike in everything the summary keeps: how many, and their amount."""

    state: str
    level: str
    category: str | None
    closed: bool
    overdue: bool
    escalated: bool
    milestones: frozenset[str]
    n: int
    amount: Decimal
    org_unit_id: int | None = None

    def reached(self, event: str) -> bool:
        """Whether these cases reached the milestone ``event`` (their history holds it)."""
        return event in self.milestones


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Span:
    """Summary rows of one grain whose period lies in [start, end) (None: unbounded), counted with ``sign``."""

    grain: str
    start: date | None
    end: date | None
    sign: int = 1

    def where(self) -> sa.ColumnElement[bool]:
        rows = ReportSummary
        return sa.and_(rows.grain == self.grain, *([rows.period >= self.start] if self.start else []),
                       *([rows.period < self.end] if self.end else []))


def spans(date_from: date | None, date_to: date | None) -> list[Span]:
    """How a period of local opening days is read: whole months from month rows; a month the period covers in
    part either by the days it covers, or by its month row less the days it leaves out (day rows counted
    negatively), whichever reads fewer days. A report so reads at most about a month of day rows."""
    if date_from is not None and date_to is not None and date_from > date_to:
        return []
    start, end = date_from, None if date_to is None else date_to + timedelta(days=1)   # [start, end)
    first = None if start is None else start.replace(day=1)                            # months [first, last)
    last = None if end is None else _next_month((end - timedelta(days=1)).replace(day=1))
    if first is not None and last is not None and _next_month(first) == last:          # within one month
        assert start is not None and end is not None
        if (end - start).days <= (start - first).days + (last - end).days:
            return [Span("d", start, end)]
        return [Span("m", first, last), *_less(first, start), *_less(end, last)]
    found = []
    if start is not None and first is not None and start != first:
        if (_next_month(first) - start).days <= (start - first).days:   # the days covered, or the month less
            found.append(Span("d", start, _next_month(first)))
            first = _next_month(first)
        else:
            found.extend(_less(first, start))
    if end is not None and last is not None and end != last:
        head = (end - timedelta(days=1)).replace(day=1)
        if (end - head).days <= (last - end).days:
            found.append(Span("d", head, end))
            last = head
        else:
            found.extend(_less(end, last))
    if first is None or last is None or first < last:
        found.append(Span("m", first, last))
    return found


def _less(start: date, end: date) -> list[Span]:
    return [Span("d", start, end, -1)] if start < end else []


def covering(date_from: date | None, date_to: date | None) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[int]]:
    """The summary rows a period reads, and each row's sign (+1, or -1 for days a month row counts too many)."""
    chosen = spans(date_from, date_to)
    if not chosen:
        return sa.false(), sa.literal(1)
    negative = [span.where() for span in chosen if span.sign < 0]
    sign = sa.case((sa.or_(*negative), -1), else_=1) if negative else sa.literal(1)
    return sa.or_(*(span.where() for span in chosen)), sign


def tallies(session: Session, scope: ReportScope, *, by_unit: bool = False) -> list[Tally]:
    """The scope's cases grouped by state, level, category, flags and milestones (and unit, ``by_unit``)."""
    rows = ReportSummary
    keys = [rows.state, rows.level, rows.category, rows.closed, rows.overdue, rows.escalated, rows.milestones,
            *([rows.org_unit_id] if by_unit else [])]
    where, sign = covering(scope.date_from, scope.date_to)
    n = sa.func.sum(rows.n * sign)
    query = (sa.select(*keys, n, sa.func.sum(rows.amount_cents * sign))
             .where(rows.definition_key == scope.definition, rows.org_path.startswith(scope.org_path, autoescape=True),
                    where)
             .group_by(*keys).having(n != 0))
    return [Tally(row[0], row[1], row[2] or None, bool(row[3]), bool(row[4]), bool(row[5]),
                  frozenset(filter(None, row[6].split(","))), int(row[-2]), Decimal(int(row[-1])).scaleb(-2),
                  row[7] if by_unit else None)
            for row in list[Any](session.execute(query))]


def common_figures(session: Session, scope: ReportScope, rows: list[Tally] | None = None) -> dict[str, Any]:
    """The shared figures, from ``rows`` (the scope's tallies) or read for the scope."""
    rows = tallies(session, scope) if rows is None else rows
    by_state: dict[str, int] = {}
    for row in rows:
        by_state[row.state] = by_state.get(row.state, 0) + row.n
    return {"definition": scope.definition, "from": _iso(scope.date_from), "to": _iso(scope.date_to),
            "total": sum(row.n for row in rows), "by_state": by_state,
            "open": sum(row.n for row in rows if not row.closed),
            "overdue": sum(row.n for row in rows if row.overdue and not row.closed),
            "escalated": sum(row.n for row in rows if row.escalated)}


def count(rows: list[Tally], keep: Any = None) -> int:
    """How many cases the tallies ``keep`` picks count (all, without ``keep``)."""
    return sum(row.n for row in rows if keep is None or keep(row))


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
