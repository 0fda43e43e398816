"""The administrators' log: every definition deploy, migration of open cases and holiday schedule load passes
through ``_log_admin_action``. For now it writes the application log; the append-only admin log table, when the
service has one, is written here and nowhere else."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger("gonghui.admin")


def _log_admin_action(session: Session, *, actor: str, action: str, target: str, details: dict[str, Any],
                      now: datetime) -> None:
    """Record one administrative change (``session`` is the transaction that makes the change)."""
    log.info("admin action %s on %s by %s at %s: %s", action, target, actor, now.isoformat(), details)
