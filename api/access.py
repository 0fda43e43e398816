"""The record of who saw personal data unmasked: one ``access_records`` row per case and request, written with
the request's own transaction (``api.idempotency`` calls :func:`write`), GET requests included.

An answer that fails (4xx) rolls its changes back, but a page it showed still showed the data: its access
records are written all the same. Outside a request (a command, the scheduler) the row goes into the session.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from api.clock import now
from api.models_medical import AccessRecord

if TYPE_CHECKING:
    from api.auth import Principal


def record(session: Session, case_id: int, principal: Principal, fields: tuple[str, ...] | list[str]) -> None:
    """``principal`` saw ``fields`` of case ``case_id`` unmasked."""
    if not fields:
        return
    if not has_request_context():
        session.add(AccessRecord(case_id=case_id, username=principal.username, org_unit=principal.org_unit,
                                 fields=_joined(fields), at=now(), via=None))
        return
    pending: dict[tuple[int, str], dict[str, Any]] = g.setdefault("access_records", {})
    row = pending.get((case_id, principal.username))
    if row is None:
        pending[(case_id, principal.username)] = {
            "case_id": case_id, "username": principal.username, "org_unit": principal.org_unit,
            "fields": list(fields), "via": f"{request.method} {request.full_path.rstrip('?')}"[:200]}
    else:
        row["fields"] += [name for name in fields if name not in row["fields"]]


def write(session: Session, at: datetime | None = None) -> int:
    """Insert the request's access records (one statement); how many."""
    pending: dict[tuple[int, str], dict[str, Any]] = g.pop("access_records", {}) if has_request_context() else {}
    if not pending:
        return 0
    moment = at or now()
    session.execute(sa.insert(AccessRecord.__table__).inline(),   # no RETURNING: it may travel with the COMMIT
                    [{**row, "fields": _joined(row["fields"]), "at": moment} for row in pending.values()])
    return len(pending)


def pending() -> bool:
    return has_request_context() and bool(g.get("access_records"))


def _joined(fields: tuple[str, ...] | list[str]) -> str:
    return ",".join(dict.fromkeys(fields))[:200]
