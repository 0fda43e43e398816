"""The tables. Times are stored in UTC (``UTCDateTime``), money as ``Numeric``, case data as JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every database (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OrgUnit(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_units.id"))
    # Materialised path "wenling/chengdong/cd-e001/": scope is a prefix match, one indexed query.
    path: Mapped[str] = mapped_column(sa.String(400), index=True)
    uscc: Mapped[str | None] = mapped_column(sa.String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id", lazy="joined", join_depth=1)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSONType)
    display_name: Mapped[str | None] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Raised by sign-out, a password change, deactivation or an administrator: every browser session and
    # session token issued under an older generation stops working at once (api/sessions.py).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="session")  # session | service
    label: Mapped[str | None] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    generation: Mapped[int] = mapped_column(default=0, server_default="0")  # the user's, when a session token

    user: Mapped[User] = relationship(lazy="joined")


class Case(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cases"
    __table_args__ = (
        # prefix matches on the path (scope) use the index on PostgreSQL only with the pattern operator class
        sa.Index("ix_cases_scope", "org_path", "definition_key", "state",
                 postgresql_ops={"org_path": "varchar_pattern_ops"}),
        sa.Index("ix_cases_open_due", "closed", "due_at"),
        sa.Index("ix_cases_due", "due_at", "id"),
        sa.Index("ix_cases_definition_created", "definition_key", "created_at"),
        # ordered walks that stop at the page: the worklist, and lists newest first (with or without a state)
        # (with every column the worklist's conditions read, PostgreSQL: its count is a walk of the index alone)
        sa.Index("ix_cases_worklist", sa.text("overdue DESC"), "due_at", "id",
                 postgresql_where=sa.text("NOT closed"), sqlite_where=sa.text("NOT closed"),
                 postgresql_include=["org_path", "definition_key", "definition_version", "state", "category"]),
        sa.Index("ix_cases_state_created", "state", "created_at", "id"),
        sa.Index("ix_cases_created", "created_at", "id"),
        # PostgreSQL only (migration 0009): lists by due time, and the rule that lets "not late" be a range of it
        sa.Index("ix_cases_due_last", sa.text("coalesce(due_at, 'infinity'::timestamptz)"), "id")
        .ddl_if(dialect="postgresql"),
        sa.CheckConstraint("NOT closed OR due_at IS NULL", name="ck_cases_closed_no_due").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    definition_key: Mapped[str] = mapped_column(sa.String(64))
    definition_version: Mapped[int]
    state: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[str] = mapped_column(sa.String(16))
    org_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("org_units.id"), index=True)
    org_path: Mapped[str] = mapped_column(sa.String(400))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    party: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    category: Mapped[str | None] = mapped_column(sa.String(64))
    closed: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_provisional: Mapped[bool] = mapped_column(default=False)
    overdue: Mapped[bool] = mapped_column(default=False, index=True)
    escalations: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)
    # the hash of the case's last history row, so that the next row is chained without reading it back
    history_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # the milestone events of its lifecycle (``Lifecycle.milestones``) the case has reached, in their declared
    # order, comma-separated: what its reports count ("accepted", "agreed") without reading the history
    milestones: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class CaseHistory(db.Model):  # type: ignore[name-defined,misc]
    """Append-only: one row per fired event, chained by hash to the previous row of its case."""

    __tablename__ = "case_history"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_case_history_case_seq"),
                      sa.Index("ix_case_history_case_event", "case_id", "event"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    seq: Mapped[int]
    event: Mapped[str] = mapped_column(sa.String(64))
    from_state: Mapped[str | None] = mapped_column(sa.String(64))
    to_state: Mapped[str] = mapped_column(sa.String(64))
    level_from: Mapped[str | None] = mapped_column(sa.String(16))
    level_to: Mapped[str] = mapped_column(sa.String(16))
    org_from: Mapped[str | None] = mapped_column(sa.String(64))
    org_to: Mapped[str] = mapped_column(sa.String(64))
    actor: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class ReportSummary(db.Model):  # type: ignore[name-defined,misc]
    """Counts of cases by everything the reports group by, kept by triggers on ``cases`` (``api.report_summary``):
    a change of a case adds delta rows (-1 for the tuple it left, +1 for the one it entered), compaction folds
    them into one row per key. A case is counted three times: in the row of its opening month (grain ``m``), of
    its opening ten days (grain ``t``: the 1st–10th, 11th–20th, 21st to the month's end) and of its opening day
    (grain ``d``), local days of Asia/Shanghai."""

    __tablename__ = "report_summaries"
    __table_args__ = (
        # a unit's rows (months, or the days of a street), and the days of a period across every unit (the city)
        sa.Index("ix_report_summaries_scope", "definition_key", "grain", "org_path", "period",
                 postgresql_ops={"org_path": "varchar_pattern_ops"}),
        sa.Index("ix_report_summaries_period", "definition_key", "grain", "period"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    definition_key: Mapped[str] = mapped_column(sa.String(64))
    org_unit_id: Mapped[int]
    org_path: Mapped[str] = mapped_column(sa.String(400))
    grain: Mapped[str] = mapped_column(sa.String(1))          # the period's first day: m month, t ten days, d day
    period: Mapped[date]
    state: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(64))      # '' for none
    closed: Mapped[bool]
    overdue: Mapped[bool]
    escalated: Mapped[bool]
    milestones: Mapped[str] = mapped_column(sa.String(200))
    n: Mapped[int]
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)


class Timer(db.Model):  # type: ignore[name-defined,misc]
    """A deadline or a warning of a case in a state; fired at most once by the sweep."""

    __tablename__ = "timers"
    __table_args__ = (sa.Index("ix_timers_pending_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))          # deadline | warning
    action: Mapped[str] = mapped_column(sa.String(64))        # escalate | remind | <event>
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending|paused|fired|cancelled
    provisional: Mapped[bool] = mapped_column(default=False)
    # How the due time was counted, so that it can be recounted when a provisional year gets its schedule.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period: Mapped[str | None] = mapped_column(sa.String(32))   # "working_days:3", "days:15", "until"
    remaining_seconds: Mapped[int | None]                     # set while the clock is paused
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(sa.String(200))

    case: Mapped[Case] = relationship()


class IdempotencyRecord(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("principal", "key", name="uq_idempotency_keys_principal_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(sa.String(100))
    key: Mapped[str] = mapped_column(sa.String(200))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(400))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # records expire (api/housekeeping.py)


class CaseSequence(db.Model):  # type: ignore[name-defined,misc]
    """The next receipt number per prefix and year (TJ-2026-000123)."""

    __tablename__ = "case_sequences"

    prefix: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class Employer(db.Model):  # type: ignore[name-defined,misc]
    """An employer from the social-insurance roster, keyed by its unified social credit code."""

    __tablename__ = "employers"
    __table_args__ = (sa.Index("ix_employers_street_staff", "street_unit_id", "insured_staff"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(sa.String(18), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    street_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_units.id"))
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    insured_staff: Mapped[int | None]
    founded_on: Mapped[date | None] = mapped_column(sa.Date)
    # the roster's 联系人 and 联系电话: personal data, shown in full only to the clerks forming unions
    contact_name: Mapped[str | None] = mapped_column(sa.String(100))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    # none | single (its own union) | joint (member of a joint union)
    union_status: Mapped[str] = mapped_column(sa.String(16), default="none")
    union_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_units.id"))
    # the union-formation case open for this employer, if any: never a second one while it is open
    formation_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    street_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[street_unit_id])
    union_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[union_unit_id])


class CalendarYear(db.Model):  # type: ignore[name-defined,misc]
    """An official holiday schedule loaded by an administrator for a year chinese-calendar does not know."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSONType)
    workdays: Mapped[list[str]] = mapped_column(JSONType)
    source: Mapped[str | None] = mapped_column(sa.String(200))
    loaded_by: Mapped[str] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
