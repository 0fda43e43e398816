"""Figures every lifecycle's report shares: counts by state, open, overdue, escalated, for a scope and period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, CaseHistory

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


def common_figures(session: Session, scope: ReportScope) -> dict[str, Any]:
    where = scope.where()
    by_state = dict(session.execute(
        sa.select(Case.state, sa.func.count()).where(*where).group_by(Case.state)).all())
    totals = session.execute(sa.select(
        sa.func.count(),
        sa.func.count().filter(Case.closed.is_(False)),
        sa.func.count().filter(Case.overdue.is_(True), Case.closed.is_(False)),
        sa.func.count().filter(Case.escalations > 0),
    ).where(*where)).one()
    return {"definition": scope.definition, "from": _iso(scope.date_from), "to": _iso(scope.date_to),
            "total": totals[0], "by_state": by_state, "open": totals[1], "overdue": totals[2],
            "escalated": totals[3]}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def reached(event: str) -> sa.Exists:
    """Cases whose history holds ``event`` (a case that passed through a step keeps the record)."""
    return sa.exists().where(CaseHistory.case_id == Case.id, CaseHistory.event == event)
