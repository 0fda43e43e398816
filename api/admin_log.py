"""The administrators' log: every change to accounts, tokens and calendars, append-only.

Each entry names who acted (a username, ``cli`` for the command line, ``system`` for a lockout), what was done,
to what, and the state before and after (never a password hash or a token's secret). On PostgreSQL a trigger
refuses UPDATE and DELETE on the table (migration 0011), as for the case history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from api.extensions import db
from api.models import JSONType, UTCDateTime

# The actions written, with the label the 管理 page shows.
ACTIONS = {
    "user.create": "新建用户", "user.update": "修改用户", "user.password": "修改密码",
    "user.deactivate": "停用用户", "user.activate": "启用用户", "user.sessions_revoked": "结束全部会话",
    "user.locked_out": "登录失败过多，账号锁定", "user.unlocked": "解除登录锁定",
    "token.issue": "签发令牌", "token.revoke": "吊销令牌", "calendar.load": "载入放假安排",
}


class AdminLogEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "admin_log"
    __table_args__ = (sa.Index("ix_admin_log_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str] = mapped_column(sa.String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


def record(session: Session, *, actor: str, action: str, target: str, at: datetime,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Append one entry in the caller's transaction (the change and its trace commit together)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown admin action {action!r}")
    session.execute(sa.insert(AdminLogEntry).values(at=at, actor=actor[:64], action=action, target=target[:120],
                                                    before=before, after=after))


def entries(session: Session, *, action: str | None = None, target: str | None = None,
            since: datetime | None = None, page: int = 1, per_page: int = 50) -> tuple[list[AdminLogEntry], int]:
    """Newest first, with the number of matching entries."""
    where = []
    if action:
        where.append(AdminLogEntry.action == action)
    if target:
        where.append(AdminLogEntry.target == target)
    if since is not None:
        where.append(AdminLogEntry.at >= since)
    total = session.scalar(sa.select(sa.func.count()).select_from(AdminLogEntry).where(*where)) or 0
    rows = session.scalars(sa.select(AdminLogEntry).where(*where)
                           .order_by(AdminLogEntry.at.desc(), AdminLogEntry.id.desc())
                           .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def actor_of_cli() -> str:
    """The command line acts as ``cli:<system user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"
