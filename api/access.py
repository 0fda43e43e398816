"""The record of who saw personal data unmasked: one ``access_records`` row per case (or employer: its roster
contact) and request, written with the request's own transaction (``api.idempotency`` calls :func:`write`),
GET requests included.

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
from api.context import request_globals
from api.models_medical import AccessRecord

if TYPE_CHECKING:
    from api.auth import Principal


def record(session: Session, case_id: int, principal: Principal, fields: tuple[str, ...] | list[str]) -> None:
    """``principal`` saw ``fields`` of case ``case_id`` unmasked."""
    _record(session, {"case_id": case_id, "employer_id": None}, principal, fields)


def record_employer(session: Session, employer_id: int, principal: Principal,
                    fields: tuple[str, ...] | list[str]) -> None:
    """``principal`` saw ``fields`` of an employer's roster contact unmasked."""
    _record(session, {"case_id": None, "employer_id": employer_id}, principal, fields)


def _record(session: Session, subject: dict[str, int | None], principal: Principal,
            fields: tuple[str, ...] | list[str]) -> None:
    if not fields:
        return
    if not has_request_context():
        session.add(AccessRecord(**subject, username=principal.username, org_unit=principal.org_unit,
                                 fields=_joined(fields), at=now(), via=None))
        return
    pending: dict[tuple[int | None, int | None, str], dict[str, Any]] = g.setdefault("access_records", {})
    key = (subject["case_id"], subject["employer_id"], principal.username)
    row = pending.get(key)
    if row is None:
        pending[key] = {
            **subject, "username": principal.username, "org_unit": principal.org_unit,
            "fields": list(fields), "via": f"{request.method} {request.full_path.rstrip('?')}"[:200]}
    else:
        row["fields"] += [name for name in fields if name not in row["fields"]]


def write(session: Session, at: datetime | None = None) -> int:
    """Insert the request's access records (one statement); how many."""
    pending: dict[Any, dict[str, Any]] = request_globals().pop("access_records", {}) if has_request_context() else {}
    if not pending:
        return 0
    moment = at or now()
    session.execute(sa.insert(AccessRecord.__table__).inline(),   # no RETURNING: it may travel with the COMMIT
                    [{**row, "fields": _joined(row["fields"]), "at": moment} for row in pending.values()])
    return len(pending)


def pending() -> bool:
    return has_request_context() and bool(request_globals().get("access_records"))


def _joined(fields: tuple[str, ...] | list[str]) -> str:
    return ",".join(dict.fromkeys(fields))[:200]
