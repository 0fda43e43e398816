"""A case's history: one row per change, each chained to the one before by a SHA-256 hash (verified by
``api.audit``, replayed by ``api.replay``)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, CaseHistory
from api.writers import CaseRecord, CaseWriter


def chain_hash(prev_hash: str | None, entry: dict[str, Any]) -> str:
    payload = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + payload).encode()).hexdigest()


def record_history(writer: CaseWriter, case: CaseRecord, *, seq: int, event: str, from_state: str | None,
                   level_from: str | None, org_from: str | None, actor: str, at: datetime,
                   data: dict[str, Any], comment: str | None) -> dict[str, Any]:
    """Write the case's next history row through ``writer``, chained to the last one (whose hash the case keeps);
    returns the row's values."""
    prev = None
    if seq > 1:
        prev = case.history_hash or writer.session.scalar(
            sa.select(CaseHistory.hash).where(CaseHistory.case_id == case.id)
            .order_by(CaseHistory.seq.desc()).limit(1))
    values: dict[str, Any] = {
        "case_id": case.id, "seq": seq, "event": event, "from_state": from_state, "to_state": case.state,
        "level_from": level_from, "level_to": case.level, "org_from": org_from, "org_to": case.org_unit.code,
        "actor": actor, "at": at, "data": data, "comment": comment, "prev_hash": prev}
    values["hash"] = chain_hash(prev, payload_of(values))
    case.history_hash = values["hash"]
    writer.add(CaseHistory, values)
    return values


_PAYLOAD_FIELDS = ("case_id", "seq", "event", "from_state", "to_state", "level_from", "level_to", "org_from",
                   "org_to", "actor", "at", "data", "comment")


def payload_of(values: dict[str, Any]) -> dict[str, Any]:
    """The fields a history row's hash covers (the instant in UTC)."""
    payload = {name: values[name] for name in _PAYLOAD_FIELDS}
    payload["at"] = values["at"].astimezone(UTC).isoformat()
    return payload


def history_payload(row: CaseHistory) -> dict[str, Any]:
    return payload_of({name: getattr(row, name) for name in _PAYLOAD_FIELDS})


def history_of(session: Session, case: Case) -> list[CaseHistory]:
    return list(session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case.id)
                                .order_by(CaseHistory.seq)))
