"""Figures every lifecycle's report shares: counts by state, open, overdue, escalated, for a scope and period,
read from the report summary (``report_summaries``, kept by triggers on ``cases``; see ``api.report_summary``).

A period is read as its whole months from the month rows and its edges from the ten-day and day rows (at most
a few of each, ``spans``), so a report reads a number of rows that depends on the units, months and kinds of
case, not on how many cases there are. ``tallies`` answers one grouped query; each lifecycle's report derives
its figures from those groups and asks the cases themselves, in one grouped query each, only for what the
summary does not keep (sums inside the data, working days between two moments, counts per employer)."""

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


# The grains of the summary, coarsest first: the month, the ten days (旬: the 1st–10th, 11th–20th, 21st to the
# month's end) and the day. Each grain's periods are whole periods of the next finer one.
GRAINS = ("m", "t", "d")


def period_of(grain: str, day: date) -> date:
    """The first day of the period of ``grain`` that holds ``day``."""
    if grain == "m":
        return day.replace(day=1)
    if grain == "t":
        return day.replace(day=min((day.day - 1) // 10, 2) * 10 + 1)
    return day


def _next_period(grain: str, first: date) -> date:
    if grain == "m" or (grain == "t" and first.day == 21):
        return _next_month(first)
    return first + timedelta(days=10 if grain == "t" else 1)


@dataclass(frozen=True)
class Span:
    """Summary rows of one grain whose period lies in [start, end) (None: unbounded), counted with ``sign``."""

    grain: str
    start: date | None
    end: date | None
    sign: int = 1

    def where(self) -> sa.ColumnElement[bool]:
        rows = ReportSummary
        return sa.and_(rows.grain == _inline(self.grain), *([rows.period >= _inline(self.start)] if self.start else []),
                       *([rows.period < _inline(self.end)] if self.end else []))

    def periods(self) -> int:
        """How many periods of its grain the span reads (bounded spans only)."""
        assert self.start is not None and self.end is not None
        found, day = 0, self.start
        while day < self.end:
            found, day = found + 1, _next_period(self.grain, day)
        return found


def spans(date_from: date | None, date_to: date | None) -> list[Span]:
    """How a period of local opening days is read: whole months from month rows, then at each edge whole ten
    days from ten-day rows and the days left from day rows; a month or ten days the period covers in part is
    read either so, or as its own row less what it leaves out (counted negatively), whichever reads fewer
    periods. A report so reads at most a few ten-day rows and about five days of day rows at each edge."""
    if date_from is not None and date_to is not None and date_from > date_to:
        return []
    return _joined(_cover(date_from, None if date_to is None else date_to + timedelta(days=1), 0))   # [start, end)


def _cover(start: date | None, end: date | None, level: int) -> list[Span]:
    """The spans that count every day of [start, end) once, the coarsest of them of ``GRAINS[level]``."""
    grain = GRAINS[level]
    if level == len(GRAINS) - 1:
        return [Span(grain, start, end)]
    first = None if start is None else _ceil(grain, start)    # whole periods of the grain: [first, last)
    last = None if end is None else period_of(grain, end)
    if start is not None and end is not None and first is not None and last is not None and first > last:
        return _edge(start, end, level)   # within one period of the grain
    found = []
    if start is not None and first is not None and start != first:
        found.extend(_edge(start, first, level))
    if end is not None and last is not None and end != last:
        found.extend(_edge(last, end, level))
    if first is None or last is None or first < last:
        found.append(Span(grain, first, last))
    return found


def _ceil(grain: str, day: date) -> date:
    first = period_of(grain, day)
    return day if first == day else _next_period(grain, first)


def _edge(start: date, end: date, level: int) -> list[Span]:
    """[start, end), inside one period of ``GRAINS[level]``: read by the finer grains, or as that period's row
    less the days it leaves out, whichever reads fewer periods (the finer grains when as many)."""
    grain = GRAINS[level]
    finer = _cover(start, end, level + 1)
    first = period_of(grain, start)
    after = _next_period(grain, first)
    less = [Span(grain, first, after),
            *(_negated(_cover(first, start, level + 1)) if first < start else []),
            *(_negated(_cover(end, after, level + 1)) if end < after else [])]
    return min(finer, less, key=lambda chosen: sum(span.periods() for span in chosen))


def _joined(chosen: list[Span]) -> list[Span]:
    """The spans, coarsest grain first, with those of one grain and sign that meet made one."""
    found: list[Span] = []
    for span in sorted(chosen, key=lambda span: (GRAINS.index(span.grain), -span.sign, span.start or date.min)):
        kept = found[-1] if found else None
        if kept is not None and (kept.grain, kept.sign) == (span.grain, span.sign) and kept.end == span.start:
            found[-1] = Span(span.grain, kept.start, span.end, span.sign)
        else:
            found.append(span)
    return found


def _negated(chosen: list[Span]) -> list[Span]:
    return [Span(span.grain, span.start, span.end, -span.sign) for span in chosen]


def covering(date_from: date | None, date_to: date | None) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[int]]:
    """The summary rows a period reads, and each row's sign (+1, or -1 for days a coarser row counts too many)."""
    chosen = spans(date_from, date_to)
    if not chosen:
        return sa.false(), sa.literal(1)
    negative = [span.where() for span in chosen if span.sign < 0]
    sign = sa.case((sa.or_(*negative), -1), else_=1) if negative else sa.literal(1)
    return sa.or_(*(span.where() for span in chosen)), sign


def _inline(value: Any) -> sa.BindParameter[Any]:
    """A value written into the statement rather than sent beside it. The scope and the period decide how many
    summary rows a report reads (a street's or the city's, a month's or three years'); a plan made once for any
    of them (PostgreSQL's generic plan of a statement prepared after a few uses) guesses a handful of rows and
    sorts thousands to group them, where the plan made for the values at hand hashes them: about 3x faster."""
    return sa.bindparam(None, value, literal_execute=True)


def _escaped(prefix: str) -> str:
    """``prefix`` as the start of a LIKE pattern with ``/`` for its escape character."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def tallies(session: Session, scope: ReportScope, *, by_unit: bool = False) -> list[Tally]:
    """The scope's cases grouped by state, level, category, flags and milestones (and unit, ``by_unit``)."""
    rows = ReportSummary
    keys = [rows.state, rows.level, rows.category, rows.closed, rows.overdue, rows.escalated, rows.milestones,
            *([rows.org_unit_id] if by_unit else [])]
    where, sign = covering(scope.date_from, scope.date_to)
    n = sa.func.sum(rows.n * sign)
    within = rows.org_path.like(_inline(_escaped(scope.org_path) + "%"), escape="/")
    query = (sa.select(*keys, n, sa.func.sum(rows.amount_cents * sign))
             .where(rows.definition_key == _inline(scope.definition), within, where)
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
