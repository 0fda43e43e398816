"""The HTTP baseline: only the database writes of a fired event, done with the ORM as the issue describes them
(one update of the case with its version check + one history insert), with no engine, authentication,
validation, timers or idempotency. Run under gunicorn by bench/http.py, with the same workers and threads."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from flask import Flask, Response
from sqlalchemy.orm import noload
from sqlalchemy.orm.exc import StaleDataError

from api.extensions import db
from api.models import Case, CaseHistory

app = Flask(__name__)
app.config.update(SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"], SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 8})
db.init_app(app)


@app.post("/api/v1/cases/<int:case_id>/events/<event>")
def fire(case_id: int, event: str) -> Response:
    now = datetime.now(UTC)
    case = db.session.get(Case, case_id, options=[noload(Case.org_unit)])
    if case is None:
        return Response('{"status": 404}', status=404, mimetype="application/json")
    case.updated_at = now
    try:
        db.session.flush()   # UPDATE … WHERE id = ? AND version = ?: the version check
    except StaleDataError:
        db.session.rollback()
        return Response('{"status": 409}', status=409, mimetype="application/json")
    db.session.add(CaseHistory(case_id=case.id, seq=case.version, event=event, from_state=case.state,
                               to_state=case.state, level_from=case.level, level_to=case.level, org_from=None,
                               org_to="baseline", actor="baseline", at=now, data={}, comment=None, prev_hash=None,
                               hash=""))
    version = case.version
    db.session.commit()   # (reading case.version after it would load the case again)
    return Response(json.dumps({"id": case_id, "version": version}), mimetype="application/json")
