"""The floor, shown beside the baseline: the same two writes as ``baseline_app`` in hand-written SQL on a bare
connection (no ORM, no session), with no engine, authentication, validation or idempotency."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response

engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=8)
app = Flask(__name__)

SELECT = sa.text("SELECT version, state, level FROM cases WHERE id = :id")
UPDATE = sa.text("UPDATE cases SET version = version + 1, updated_at = :now WHERE id = :id AND version = :version")
INSERT = sa.text("INSERT INTO case_history (case_id, seq, event, from_state, to_state, level_from, level_to, "
                 "org_from, org_to, actor, at, data, comment, prev_hash, hash) VALUES (:id, :seq, :event, :state, "
                 ":state, :level, :level, 'chengdong', 'chengdong', 'baseline', :now, '{}', NULL, NULL, '')")


@app.post("/api/v1/cases/<int:case_id>/events/<event>")
def fire(case_id: int, event: str) -> Response:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        row = connection.execute(SELECT, {"id": case_id}).one()
        updated = connection.execute(UPDATE, {"id": case_id, "version": row.version, "now": now}).rowcount
        if not updated:
            return Response('{"status": 409}', status=409, mimetype="application/json")
        connection.execute(INSERT, {"id": case_id, "seq": row.version + 1, "event": event, "state": row.state,
                                    "level": row.level, "now": now})
    return Response(json.dumps({"id": case_id, "version": row.version + 1}), mimetype="application/json")
