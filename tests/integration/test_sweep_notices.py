"""The sweep's notices: due soon and overdue once per case and deadline — by the set-wise batch and by the
one-by-one path alike, never again by a second sweeper — and escalation notices and webhook messages written in
the sweep's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api import sweep as sweep_module
from api.extensions import db
from api.models_ownership import Notification, WebhookOutbox
from api.sweep import Fired, sweep_due
from tests.conftest import Api, FrozenClock, mediation_data, shanghai


def sweep(app: Flask, at: datetime, setwise: bool = True) -> list[Fired]:
    with app.app_context():
        return sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], at, setwise=setwise)


def notices_of(app: Flask, kind: str) -> list[tuple[str, int, datetime | None]]:
    from api.models import User

    with app.app_context():
        return sorted((username, case_id, deadline) for username, case_id, deadline in db.session.execute(
            sa.select(User.username, Notification.case_id, Notification.deadline)
            .join(User, User.id == Notification.user_id).where(Notification.kind == kind)))


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the set-wise batches written (to know which path the sweep took)."""
    written: list[int] = []
    original = sweep_module._fire_setwise

    def spy(session: Session, engine: Any, timers: list[Any], at: datetime) -> list[Fired]:
        done = original(session, engine, timers, at)
        if done:   # [] when the batch had nothing to do set-wise, or fell back to one by one
            written.append(len(done))
        return done

    monkeypatch.setattr(sweep_module, "_fire_setwise", spy)
    return written


@pytest.mark.parametrize("setwise", [True, False], ids=["set-wise", "one-by-one"])
def test_due_soon_is_told_once_per_case_and_deadline(fresh: Flask, api: Api, setwise: bool) -> None:
    case = api.open_case("ent_clerk", "mediation_case", mediation_data())
    assert case["due_at"] == "2026-11-28T00:00:00+08:00"   # warned one working day before: 11-27 00:00
    sweep(fresh, shanghai(2026, 11, 26, 23, 0), setwise)
    assert notices_of(fresh, "due_soon") == []
    sweep(fresh, shanghai(2026, 11, 27, 8, 0), setwise)
    sweep(fresh, shanghai(2026, 11, 27, 9, 0), setwise)   # a second sweep, or a second sweeper: nothing more
    told = notices_of(fresh, "due_soon")
    assert [(user, case_id) for user, case_id, _ in told] == [("ent_clerk", case["id"])]
    assert told[0][2] is not None
    page = api.get("/notifications?unread=true", "ent_clerk").get_json()
    assert sorted(item["kind"] for item in page["items"]) == ["arrived", "due_soon"]
    assert "即将到期" in next(item["title"] for item in page["items"] if item["kind"] == "due_soon")


@pytest.mark.parametrize("setwise", [True, False], ids=["set-wise", "one-by-one"])
def test_escalations_and_overdue_at_the_top_are_told_by_either_path(
        fresh: Flask, api: Api, clock: FrozenClock, batches: list[int], setwise: bool) -> None:
    hook = api.post("/admin/webhooks", "city_admin", {"url": "https://hooks.example.org/x", "secret": "s" * 32,
                                                      "events": ["case.escalated", "case.overdue"]})
    assert hook.status_code == 201
    cases = [api.open_case("ent_clerk", "mediation_case", mediation_data()) for _ in range(3)]
    ids = sorted(case["id"] for case in cases)
    assert len(sweep(fresh, shanghai(2026, 11, 28), setwise)) == 3
    assert len(sweep(fresh, shanghai(2026, 12, 3), setwise)) == 3
    assert len(sweep(fresh, shanghai(2026, 12, 9), setwise)) == 3      # overdue at the city: 督办
    assert sweep(fresh, shanghai(2026, 12, 10), setwise) == []
    assert batches == ([3, 3, 3] if setwise else [])
    escalated = notices_of(fresh, "escalated")
    assert sorted({user for user, _, _ in escalated}) == ["chengdong_clerk", "chengdong_mediator", "city_clerk"]
    assert len(escalated) == 9   # two at the street and one at the city, for each case
    overdue = notices_of(fresh, "overdue")
    assert [(user, case_id) for user, case_id, _ in overdue] == sorted(
        (user, case_id) for user in ("city_admin", "city_clerk") for case_id in ids)
    with fresh.app_context():
        types = sorted(db.session.scalars(sa.select(WebhookOutbox.type)))
    assert types == ["case.escalated"] * 6 + ["case.overdue"] * 3


def test_a_second_sweeper_over_the_same_deadline_adds_no_overdue_notice(fresh: Flask, api: Api) -> None:
    from api import ownership

    case = api.open_case("city_clerk", "mediation_case", mediation_data())
    sweep(fresh, shanghai(2026, 11, 28))
    first = notices_of(fresh, "overdue")
    assert [(user, case_id) for user, case_id, _ in first] == [("city_admin", case["id"]), ("city_clerk", case["id"])]
    with fresh.app_context():   # the same notice written again (a racing sweeper): the unique constraint holds
        from api.models import Case
        from api.writers import RowWriter

        engine = fresh.extensions["gonghui.engine"]
        stored = db.session.get(Case, case["id"])
        definition = engine.catalog.get(stored.definition_key, stored.definition_version)
        writer = RowWriter(db.session)
        ownership.notify(writer, definition, stored, "overdue", shanghai(2026, 11, 28, 0, 1),
                         deadline=stored.due_at)
        writer.write()
        db.session.commit()
    assert notices_of(fresh, "overdue") == first
