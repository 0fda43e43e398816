"""Escalations per second with their notices and webhook messages written, against the same sweep without
them, measured in the same run on PostgreSQL.

The figure: a webhook subscribed to ``case.escalated`` is registered and the demo users of the street
(城东街道) are active, so each escalation of an enterprise's case to the street writes one notice per user there
who can act on it and one outbox row. The baseline: no webhook, and the street's users made inactive after the
cases are opened, so the sweep does the same escalations and writes neither (``ownership.notify`` finds nobody,
``webhooks.enqueue`` no webhook). Runs alternate between the two, each on a fresh database."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bench.pg import prepared_app, scratch_database
from bench.sweep import OPENED_AT, _dispose, one_sweeper, open_cases


def _prepare(app: Any, count: int, *, with_notices: bool) -> None:
    from api import webhooks
    from api.auth import Principal
    from api.extensions import db
    from api.models import OrgUnit, User

    open_cases(app, count)
    with app.app_context():
        street = db.session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == "chengdong"))
        if with_notices:
            admin = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
            webhooks.register(db.session, admin, "http://127.0.0.1:9/hook", ["case.escalated"], "bench-secret",
                              OPENED_AT, frozenset({"127.0.0.1"}))
        else:
            db.session.execute(sa.update(User).where(User.org_unit_id == street).values(active=False))
        db.session.commit()


def _written(app: Any, since: datetime) -> tuple[int, int]:
    from api.extensions import db
    from api.models_ownership import Notification, WebhookOutbox

    with app.app_context():
        notices = db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                                    .where(Notification.kind == "escalated")) or 0
        outbox = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookOutbox)
                                   .where(WebhookOutbox.type == "case.escalated")) or 0
        return notices, outbox


def run(count: int, *, repeats: int = 3) -> dict[str, Any]:
    """The sweep of ``count`` due escalations with and without notices and outbox rows (median of ``repeats``)."""
    rates: dict[bool, list[float]] = {True: [], False: []}
    written: dict[bool, tuple[int, int]] = {}
    for _ in range(repeats):
        for with_notices in (False, True):
            with scratch_database() as url:
                app = prepared_app(url)
                _prepare(app, count, with_notices=with_notices)
                fired, seconds = one_sweeper(app)
                assert fired == count, (fired, count)
                rates[with_notices].append(fired / seconds)
                written[with_notices] = _written(app, OPENED_AT)
                _dispose(app)
    notices, outbox = written[True]
    assert outbox == count and notices >= count, written   # the figure wrote what it claims to
    assert written[False] == (0, 0), written               # and the baseline nothing of it
    return {"timers": count, "repeats": repeats,
            "with_notices": {"per_s": round(statistics.median(rates[True]), 1),
                             "runs": [round(r, 1) for r in rates[True]], "notices": notices, "outbox_rows": outbox},
            "without": {"per_s": round(statistics.median(rates[False]), 1),
                        "runs": [round(r, 1) for r in rates[False]]}}
