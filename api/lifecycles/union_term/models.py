"""The union's current term (基层工会换届): chair, committee, start and end, and the case that follows it.

One row per union (an enterprise-level org unit). It is written when a term case opens (by hand, by the
import, by the approval of a formation or of a re-election), so that the unit's record shows its committee
without reading case data, and so that a union never has two open term cases.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models import Case, JSONType, OrgUnit, UTCDateTime


class UnionTerm(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "union_terms"

    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"), primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    chair: Mapped[str | None] = mapped_column(sa.String(100))
    committee: Mapped[list[str]] = mapped_column(JSONType)
    term_start: Mapped[date] = mapped_column(sa.Date)
    term_years: Mapped[int]
    term_end: Mapped[date] = mapped_column(sa.Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    org_unit: Mapped[OrgUnit] = relationship()
    case: Mapped[Case] = relationship()
