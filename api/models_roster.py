"""A roster import started in the browser (参保名单导入), kept as a job: who started it, how far it is, and
its result once it is done.

The row is written in a short transaction of its own when the upload arrives, so that the page polling it
finds it while the import's own transaction is still open; progress is written to it every few hundred rows
(``api.roster_jobs``); the result and the rejected rows are written by the import's own transaction, so a
job reads ``done`` exactly when what it imported is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models import JSONType, OrgUnit, UTCDateTime


class RosterImport(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "roster_imports"
    __table_args__ = (sa.Index("ix_roster_imports_unit_started", "org_unit_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)   # in the job's address; not guessable
    username: Mapped[str] = mapped_column(sa.String(64))
    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))                # running | done | failed
    rows_total: Mapped[int | None]                                    # data rows in the file, once counted
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)   # the import's summary, shortened
    rejected_csv: Mapped[str | None] = mapped_column(sa.Text)         # every rejected row, as the report
    problem: Mapped[str | None] = mapped_column(sa.String(500))       # why a failed job failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    org_unit: Mapped[OrgUnit] = relationship()
