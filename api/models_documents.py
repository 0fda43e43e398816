"""Where a unit can be reached, as printed on the documents it issues (receipts, notices, agreements)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.extensions import db
from api.models import OrgUnit, UTCDateTime


class UnitContact(db.Model):  # type: ignore[name-defined,misc]
    """A unit's address, telephone and office hours; a unit without a row is reached through its parent."""

    __tablename__ = "unit_contacts"

    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str] = mapped_column(sa.String(40))
    hours: Mapped[str | None] = mapped_column(sa.String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def contact_of(session: Session, unit: OrgUnit) -> tuple[OrgUnit, UnitContact | None]:
    """The nearest unit on the way up (the unit itself first) that has a contact, and that contact."""
    codes = [code for code in unit.path.split("/") if code]
    rows = {holder.code: (holder, contact) for holder, contact in session.execute(
        sa.select(OrgUnit, UnitContact).join(UnitContact).where(OrgUnit.code.in_(codes)))}
    for code in reversed(codes):
        if code in rows:
            return rows[code]
    return unit, None


# Synthetic contacts for the demo tree (addresses after the federation's offices, numbers made up).
DEMO_CONTACTS = {
    "wenling": ("温岭市太平街道万昌中路 806 号 职工服务中心", "0576-8000 1000", "工作日 8:30—12:00，14:00—17:30"),
    "chengdong": ("温岭市城东街道横湖中路 88 号 街道总工会", "0576-8000 2001", "工作日 8:30—12:00，14:00—17:30"),
    "chengbei": ("温岭市城北街道北山路 12 号 便民服务中心 3 号窗口", "0576-8000 2004", "工作日 8:30—17:00"),
    "daxi": ("温岭市大溪镇大溪南路 1 号 镇总工会", "0576-8000 2007", "工作日 8:30—12:00，14:00—17:30"),
}


def seed_contacts(session: Session, now: datetime) -> None:
    for code, (address, phone, hours) in DEMO_CONTACTS.items():
        unit = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        if unit is None:
            continue
        contact = session.get(UnitContact, unit.id) or UnitContact(org_unit_id=unit.id)
        contact.address, contact.phone, contact.hours, contact.updated_at = address, phone, hours, now
        session.add(contact)
    session.flush()
