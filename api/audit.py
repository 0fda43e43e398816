"""Verifying the history's hash chains: each row's hash covers its content and the previous row's hash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.models import Case, CaseHistory
from api.services import chain_hash, history_payload


@dataclass(frozen=True)
class Break:
    case_number: str
    seq: int
    reason: str


def verify(session: Session, batch: int = 1000) -> Iterator[Break]:
    """Every place where a case's history is not an unbroken chain (tampered, missing or reordered rows)."""
    last_id = 0
    while True:
        cases = list(session.execute(sa.select(Case.id, Case.number, Case.version, Case.history_hash)
                                     .where(Case.id > last_id)
                                     .order_by(Case.id).limit(batch)))
        if not cases:
            return
        for case_id, number, version, head in cases:
            yield from _verify_case(session, case_id, number, version, head)
        last_id = cases[-1][0]
        session.expunge_all()


def _verify_case(session: Session, case_id: int, number: str, version: int, head: str | None) -> Iterator[Break]:
    previous: str | None = None
    expected_seq = 1
    for row in session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case_id)
                               .order_by(CaseHistory.seq)):
        if row.seq != expected_seq:
            yield Break(number, expected_seq, f"history row {expected_seq} is missing")
        if row.prev_hash != previous:
            yield Break(number, row.seq, "does not point at the previous row's hash")
        if row.hash != chain_hash(previous, history_payload(row)):
            yield Break(number, row.seq, "its content does not match its hash (altered)")
        previous, expected_seq = row.hash, row.seq + 1
    if expected_seq - 1 != version:
        yield Break(number, expected_seq,
                    f"the case is at version {version} but its history ends at {expected_seq - 1}")
    if head is not None and head != previous:
        yield Break(number, expected_seq - 1, "the case's record of its last history row does not match it")
