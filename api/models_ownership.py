"""Tables of ownership and supervision: the units a case has been owned by, the notifications of the users who
can act on a case, and the webhooks that tell other systems (with their outbox and delivery log)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models import Case, JSONType, UTCDateTime


class CaseInvolvement(db.Model):  # type: ignore[name-defined,misc]
    """A unit the case was owned by (written on opening and on every change of owner): such a unit keeps
    seeing the case, read-only, once it has moved on."""

    __tablename__ = "case_involvements"
    __table_args__ = (sa.Index("ix_case_involvements_unit_case", "org_unit_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notification(db.Model):  # type: ignore[name-defined,misc]
    """A notice to one user about one case. ``deadline`` is the due time a due-soon or overdue notice is
    about: the unique constraint keeps it to one per case, kind, deadline and user, whichever sweeper writes it."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind", "deadline", "user_id", name="uq_notifications_case_kind_deadline"),
        sa.Index("ix_notifications_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# notices are inserted with ON CONFLICT DO NOTHING (api.writers.insert_statement): a notice of one deadline that
# another sweeper wrote already is passed over
Notification.__table__.info["on_conflict_do_nothing"] = True


class Webhook(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    secret: Mapped[str] = mapped_column(sa.String(200))   # needed as such to sign each body (HMAC)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookOutbox(db.Model):  # type: ignore[name-defined,misc]
    """One message to one webhook, written in the transaction of the change it tells of; the scheduler
    delivers each webhook's messages of one case in ``id`` order."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        sa.Index("ix_webhook_outbox_due", "status", "next_attempt_at", "id"),
        sa.Index("ix_webhook_outbox_queue", "webhook_id", "case_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")   # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One attempt to deliver one message, and what the receiver answered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id"))
    outbox_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_outbox.id"))
    attempt: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None]
    response: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    duration_ms: Mapped[int]


# the sweep looks for cases entering their warning time (due soon) over the open cases only
sa.Index("ix_cases_warn_open", Case.__table__.c.warn_at,
         postgresql_where=sa.text("NOT closed"), sqlite_where=sa.text("NOT closed"))
