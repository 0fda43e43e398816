"""A case's history: one row per change, each chained to the one before by a SHA-256 hash (verified by
``api.audit``, replayed by ``api.replay``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, CaseHistory
from api.writers import CaseRecord, CaseWriter


def chain_hash(prev_hash: str | None, entry: dict[str, Any]) -> str:
    payload = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(((prev_hash or "") + payload).encode()).hexdigest()


# ``chain_hash``'s JSON, one value at a time
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
_encode_text = json.encoder.encode_basestring


class Slot:
    """A value of a history payload that differs from row to row (``ChainTemplate``)."""

    def __init__(self, index: int) -> None:
        self.index = index


class ChainTemplate:
    """``chain_hash`` for many rows whose payloads are the same but for a few values (a migration's ``migrate``
    rows: the same event, actor, time and comment, each with its case's id, states and unit): the payload's
    JSON is written once, with a marker where each ``Slot`` is, and each row's is that text with the row's
    values encoded in their places, instead of the whole payload walked, sorted and encoded again."""

    def __init__(self, entry: dict[str, Any]) -> None:
        fixed = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=_unslotted, separators=(",", ":"))
        marker = "~"
        while marker in fixed:   # a marker no fixed value holds (the comment is free text)
            marker += "~"
        dumped = json.dumps(_marked(entry, marker), sort_keys=True, ensure_ascii=False, default=str,
                            separators=(",", ":"))
        pieces = re.split(f'"{re.escape(marker)}(\\d+){re.escape(marker)}"', dumped)
        literals = [piece.replace("{", "{{").replace("}", "}}") for piece in pieces[::2]]
        slots = [f"{{{index}}}" for index in pieces[1::2]]
        self._format = "".join(literal + slot for literal, slot in zip(literals, [*slots, ""], strict=True))

    def hash(self, prev_hash: str | None, values: Sequence[Any]) -> str:
        """``chain_hash(prev_hash, entry)`` with ``values[i]`` in ``Slot(i)``'s place."""
        payload = self._format.format(*map(_encoded, values))
        return hashlib.sha256(((prev_hash or "") + payload).encode()).hexdigest()


def _encoded(value: Any) -> str:
    """``value`` as ``chain_hash`` writes it in a payload (text and whole numbers without the encoder's walk)."""
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if kind is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


def _unslotted(value: Any) -> Any:
    return "" if isinstance(value, Slot) else str(value)


def _marked(entry: Any, marker: str) -> Any:
    if isinstance(entry, Slot):
        return f"{marker}{entry.index}{marker}"
    if isinstance(entry, dict):
        return {name: _marked(value, marker) for name, value in entry.items()}
    if isinstance(entry, list | tuple):
        return [_marked(value, marker) for value in entry]
    return entry


def record_history(writer: CaseWriter, case: CaseRecord, *, seq: int, event: str, from_state: str | None,
                   level_from: str | None, org_from: str | None, actor: str, at: datetime,
                   data: dict[str, Any], comment: str | None) -> dict[str, Any]:
    """Write the case's next history row through ``writer``, chained to the last one (whose hash the case keeps);
    returns the row's values."""
    prev = None
    if seq > 1:
        prev = case.history_hash or last_hash(writer.session, case.id)
    values: dict[str, Any] = {
        "case_id": case.id, "seq": seq, "event": event, "from_state": from_state, "to_state": case.state,
        "level_from": level_from, "level_to": case.level, "org_from": org_from, "org_to": case.org_unit.code,
        "actor": actor, "at": at, "data": data, "comment": comment, "prev_hash": prev}
    values["hash"] = chain_hash(prev, payload_of(values))
    case.history_hash = values["hash"]
    writer.add(CaseHistory, values)
    return values


def last_hash(session: Session, case_id: int) -> str | None:
    """The hash of the case's last history row, read back (for a case that does not hold it)."""
    return session.scalar(sa.select(CaseHistory.hash).where(CaseHistory.case_id == case_id)
                          .order_by(CaseHistory.seq.desc()).limit(1))


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
