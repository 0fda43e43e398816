"""Verifying the audit trail: each history row's hash covers its content and the previous row's hash; each
case row is what its history, replayed through the engine, leads to; and every chain head recorded in the
signed checkpoints (``api.checkpoints``) is still in the database as recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from api import checkpoints, replay
from api.history import chain_hash, history_payload
from api.models import Case, CaseHistory, OrgUnit
from workflow.engine import Engine


@dataclass(frozen=True)
class Break:
    case_number: str
    seq: int
    reason: str


def verify(session: Session, batch: int = 1000, *, engine: Engine | None = None,
           seal: checkpoints.Seal | None = None, bound_effects: frozenset[str] | None = None) -> Iterator[Break]:
    """Every place where a case's history is not an unbroken chain (tampered, missing or reordered rows),
    where a case departs from its replayed history, and where a signed checkpoint is not matched.
    ``engine``, ``seal`` and the effects the lifecycles bind default to the application's (when called inside
    it)."""
    if has_app_context():
        from api.lifecycles import registry

        engine = engine or current_app.extensions.get("gonghui.engine")
        seal = seal or checkpoints.Seal.of(current_app)
        bound_effects = bound_effects if bound_effects is not None else registry().effect_names
    last_id = 0
    while True:
        cases = list(session.execute(
            sa.select(Case.id, Case.number, Case.version, Case.history_hash, Case.definition_key,
                      Case.definition_version, Case.state, Case.level, Case.data, OrgUnit.code)
            .join(OrgUnit, OrgUnit.id == Case.org_unit_id)
            .where(Case.id > last_id).order_by(Case.id).limit(batch)))
        if not cases:
            break
        for row in cases:
            yield from _verify_case(session, row, engine, bound_effects or frozenset())
        last_id = cases[-1][0]
        session.expunge_all()
    if seal is not None:
        for finding in checkpoints.check(session, seal):
            yield Break(finding.case_number, finding.seq, finding.reason)


def _verify_case(session: Session, case: Any, engine: Engine | None, bound_effects: frozenset[str]
                 ) -> Iterator[Break]:
    case_id, number, version, head = case[0], case[1], case[2], case[3]
    previous: str | None = None
    expected_seq = 1
    rows = list(session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case_id)
                                .order_by(CaseHistory.seq)))
    for row in rows:
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
    if engine is not None:
        stored = replay.StoredCase(case[4], case[5], case[6], case[7], case[9], version, case[8])
        for seq, reason in replay.differences(engine, stored, rows, bound_effects):
            if not reason.startswith("the case is at version"):   # reported above
                yield Break(number, seq, reason)
