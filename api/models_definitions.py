"""Tables of definitions deployed at runtime, and of the migrations of open cases between their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models import JSONType, UTCDateTime


class DefinitionVersion(db.Model):  # type: ignore[name-defined,misc]
    """One version of one lifecycle as deployed: its YAML text exactly as sent, never changed afterwards."""

    __tablename__ = "definition_versions"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    origin: Mapped[str | None] = mapped_column(sa.String(200))       # the file name, or "api" / "网页"
    deployed_by: Mapped[str] = mapped_column(sa.String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DefinitionMigration(db.Model):  # type: ignore[name-defined,misc]
    """A run moving the open cases of one lifecycle from one version to another; ``running`` until every case
    it covers has moved (a run stopped by a crash is taken up again by the same request)."""

    __tablename__ = "definition_migrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), index=True)
    from_version: Mapped[int]
    to_version: Mapped[int]
    state_map: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recount_deadlines: Mapped[bool]
    status: Mapped[str] = mapped_column(sa.String(16))              # running | done
    moved: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[list[Any]] = mapped_column(JSONType)           # case numbers left at the old version
    requested_by: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
