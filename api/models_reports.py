"""Tables of the public intake of worker reports: the reporters' secrets and the intake's rate limit."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models import UTCDateTime


class ReportSecret(db.Model):  # type: ignore[name-defined,misc]
    """Only the SHA-256 of the secret a reporter was given is kept."""

    __tablename__ = "report_secrets"

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))


class RateWindow(db.Model):  # type: ignore[name-defined,misc]
    """Requests of one client in one fixed window: shared by every process."""

    __tablename__ = "rate_windows"

    client: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
