"""Tables of the medical mutual-aid scheme: members, their scheme years, claimed invoices, and the record
of who saw personal data unmasked."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models import UTCDateTime


class Member(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "aid_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(sa.String(18), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    employer_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_units.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    years: Mapped[list[SchemeYear]] = relationship(back_populates="member", order_by="SchemeYear.year")


class SchemeYear(db.Model):  # type: ignore[name-defined,misc]
    """A member's year in the scheme: contribution paid, and the parameters claims of that year use."""

    __tablename__ = "aid_scheme_years"
    __table_args__ = (sa.UniqueConstraint("member_id", "year", name="uq_aid_scheme_years_member_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("aid_members.id"))
    year: Mapped[int]
    paid: Mapped[bool] = mapped_column(default=True)
    deductible: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    ratio: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4))
    annual_cap: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    # the claim window after discharge for this year, when it has its own (else the definition's claim_window_days)
    window_days: Mapped[int | None] = mapped_column(nullable=True)

    member: Mapped[Member] = relationship(back_populates="years")


class ClaimedInvoice(db.Model):  # type: ignore[name-defined,misc]
    """An invoice can be reimbursed once: its number is unique across all claims."""

    __tablename__ = "aid_claimed_invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(64), unique=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))


class AccessRecord(db.Model):  # type: ignore[name-defined,misc]
    """Someone saw personal data of a case (of any lifecycle) unmasked: who, from which unit, when, which
    fields (the paths of the definition's ``personal:`` rules) and through which request (append-only;
    written by ``api.access``)."""

    __tablename__ = "access_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # or the employer whose roster contact (联系人, 联系电话) was seen (``api.present.employer_contact``)
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employers.id"), index=True)
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    fields: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    org_unit: Mapped[str | None] = mapped_column(sa.String(64))
    via: Mapped[str | None] = mapped_column(sa.String(200))    # e.g. "GET /api/v1/cases/7/history"
