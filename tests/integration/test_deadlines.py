"""Deadlines and escalation with the frozen clock: timers, the sweep, the calendar of later years."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api.extensions import db
from api.models import Timer
from api.sweep import Fired, sweep_due
from tests.conftest import Api, FrozenClock, mediation_data, shanghai

ENT = "ent_clerk"


def sweep(app: Flask, at: datetime) -> list[Fired]:
    with app.app_context():
        return sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], at)


def test_an_unaccepted_case_escalates_to_the_street_after_three_working_days_then_to_the_city(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert (case["level"], case["org_unit"], case["due_at"]) == ("enterprise", "cd-e001",
                                                                 "2026-11-28T00:00:00+08:00")
    assert sweep(fresh, shanghai(2026, 11, 27, 23, 59)) == []  # a minute before the deadline: nothing
    assert api.get(f"/cases/{case['id']}", "city_admin").get_json()["level"] == "enterprise"

    fired = sweep(fresh, shanghai(2026, 11, 28, 0, 0))
    assert [item.result for item in fired] == ["escalated to chengdong"]
    clock.set(shanghai(2026, 11, 28, 9, 0))
    after = api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()
    assert (after["level"], after["org_unit"], after["state"]) == ("street", "chengdong", "registered")
    assert after["due_at"] == "2026-12-03T00:00:00+08:00"  # Mon, Tue, Wed after the Saturday of escalation
    history = api.get(f"/cases/{case['id']}/history", "chengdong_mediator").get_json()
    step = history[-1]
    assert (step["event"], step["actor"], step["level_from"], step["level_to"]) == (
        "escalate", "system", "enterprise", "street")
    assert step["data"]["rule"] == "mediation_case.registered.deadline"
    held_before = api.get(f"/cases/{case['id']}", ENT)   # no longer the enterprise's case: read-only for it
    assert held_before.status_code == 200 and held_before.get_json()["allowed_events"] == []

    assert [item.result for item in sweep(fresh, shanghai(2026, 12, 3, 0, 0)) if item.action == "escalate"] == [
        "escalated to wenling"]
    assert sweep(fresh, shanghai(2026, 12, 8, 12)) == []
    fired = sweep(fresh, shanghai(2026, 12, 9, 0, 0))  # Fri 12-04, Mon 12-07, Tue 12-08 at the city
    assert [item.result for item in fired if item.action == "escalate"] == ["supervised: overdue at city level (督办)"]
    clock.set(shanghai(2026, 12, 9, 9, 0))
    city = api.get(f"/cases/{case['id']}", "city_admin").get_json()
    assert (city["level"], city["overdue"], city["escalations"]) == ("city", True, 2)
    worklist = api.get("/worklist", "city_admin").get_json()
    assert worklist[0]["id"] == case["id"]
    assert api.get("/cases?overdue=true", "city_admin").get_json()["total"] == 1
    history = api.get(f"/cases/{case['id']}/history", "city_admin").get_json()
    assert [h["event"] for h in history] == ["open", "escalate", "escalate", "supervise"]
    assert [h["seq"] for h in history] == [1, 2, 3, 4] and city["version"] == 4


def test_a_case_accepted_in_time_does_not_escalate(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    clock.set(shanghai(2026, 11, 26, 15, 0))
    accepted = api.fire(case["id"], "accept", ENT, {"mediator": "李调解"}).get_json()
    # mediating: 15 days from the application (2026-11-24) → 2026-12-09 at 24:00
    assert accepted["due_at"] == "2026-12-10T00:00:00+08:00"
    assert sweep(fresh, shanghai(2026, 12, 1, 0, 0)) == []
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["level"] == "enterprise"


def test_a_clerk_can_escalate_by_hand_with_a_reason_and_the_deadline_restarts(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    clock.set(shanghai(2026, 11, 25, 10, 0))
    assert api.fire(case["id"], "escalate", ENT, {}).status_code == 422  # the reason is required
    escalated = api.fire(case["id"], "escalate", ENT, {"reason": "涉及多名职工，需街道联合调解"})
    assert escalated.status_code == 200
    body = api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()
    assert (body["level"], body["due_at"]) == ("street", "2026-12-01T00:00:00+08:00")  # Thu, Fri, Mon after 11-25
    with fresh.app_context():
        pending = db.session.scalars(sa.select(Timer).where(Timer.case_id == case["id"],
                                                            Timer.status == "pending")).all()
        assert [(timer.kind, timer.state, timer.action) for timer in pending] == [
            ("deadline", "registered", "escalate")]


def test_after_downtime_the_next_sweep_fires_everything_overdue_in_due_order(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    first = api.open_case(ENT, "mediation_case", mediation_data())
    clock.set(shanghai(2026, 11, 25, 10))
    second = api.open_case(ENT, "mediation_case", mediation_data())
    fired = sweep(fresh, shanghai(2026, 12, 31, 0, 0))  # the scheduler was down for a month
    assert [(item.case_id, item.action) for item in fired] == [(first["id"], "escalate"), (second["id"], "escalate")]
    assert [item.due_at for item in fired] == sorted(item.due_at for item in fired)
    clock.set(shanghai(2026, 12, 31, 9))
    for case in (first, second):
        body = api.get(f"/cases/{case['id']}", "city_admin").get_json()
        # escalated once, its new deadline counted from the moment of escalation
        assert (body["level"], body["escalations"], body["due_at"]) == ("street", 1, "2027-01-07T00:00:00+08:00")
    assert sweep(fresh, shanghai(2026, 12, 31, 0, 0)) == []  # nothing fires twice


def test_a_timer_whose_case_left_the_state_does_nothing(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    with fresh.app_context():
        timer_id = db.session.scalar(sa.select(Timer.id).where(Timer.case_id == case["id"], Timer.kind == "deadline"))
        api.fire(case["id"], "reject", ENT, {"reason": "不属于受理范围"})
        db.session.execute(sa.update(Timer).where(Timer.id == timer_id).values(status="pending"))
        db.session.commit()
    fired = sweep(fresh, shanghai(2026, 11, 30))
    assert [item.result for item in fired if item.timer_id == timer_id] == ["stale: the case has left the state"]
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["version"] == 2


def test_lists_show_overdue_cases_and_sort_by_due_time(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    late = api.open_case(ENT, "mediation_case", mediation_data())
    clock.set(shanghai(2026, 11, 26, 9))
    early_accepted = api.open_case(ENT, "mediation_case", mediation_data())
    api.fire(early_accepted["id"], "accept", ENT, {"mediator": "李"})
    clock.set(shanghai(2026, 11, 28, 9))  # the first case's 3 working days are over, not yet swept
    overdue = api.get("/cases?overdue=true", ENT).get_json()
    assert [c["id"] for c in overdue["items"]] == [late["id"]] and overdue["items"][0]["overdue"]
    assert [c["id"] for c in api.get("/cases?sort=due_at", ENT).get_json()["items"]] == [late["id"],
                                                                                          early_accepted["id"]]
    assert api.get("/worklist", ENT).get_json()[0]["id"] == late["id"]


def test_due_soon_is_set_between_the_warning_and_the_deadline(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["due_soon"] is False
    clock.set(shanghai(2026, 11, 27, 9))  # the last working day before the deadline
    assert api.get(f"/cases/{case['id']}", ENT).get_json()["due_soon"] is True


YEAR_2027 = {"year": 2027, "holidays": ["2027-01-01", "2027-01-04"], "workdays": [], "source": "国办发明电〔2026〕"}


def test_a_deadline_into_2027_is_provisional_until_the_year_is_loaded(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    clock.set(shanghai(2026, 12, 30, 10))
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert case["provisional"] is True and case["due_at"] == "2027-01-06T00:00:00+08:00"
    assert api.post("/admin/calendar", "chengdong_clerk", YEAR_2027).status_code == 403
    loaded = api.post("/admin/calendar", "city_admin", YEAR_2027)
    assert loaded.status_code == 201 and loaded.get_json()["recounted"] == 1
    after = api.get(f"/cases/{case['id']}", ENT).get_json()
    # with 2027-01-04 a (fictional) holiday the third working day moves to 01-06
    assert after["provisional"] is False and after["due_at"] == "2027-01-07T00:00:00+08:00"
    assert after["version"] == 1  # a recount is not a change of the case
    assert [y["year"] for y in api.get("/admin/calendar", "city_admin").get_json()] == [2027]
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        working_days.unload()


def test_a_malformed_calendar_is_refused_naming_every_fault_and_changes_nothing(api: Api) -> None:
    response = api.post("/admin/calendar", "city_admin",
                        {"year": 2027, "holidays": ["2027-01-01", "2027-02-30", "2026-05-01"], "workdays": []})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "holidays.1" in errors and "dates" in errors
    assert api.get("/admin/calendar", "city_admin").get_json() == []


def test_the_cli_loads_a_calendar_file_and_refuses_a_bad_one(fresh: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.commands.deadlines import calendar

    runner = fresh.test_cli_runner()
    bad = tmp_path / "2027.yaml"
    bad.write_text("year: 2027\nholidays:\n  - 2027-01-01\n  - 2027-02-31\n", encoding="utf-8")
    result = runner.invoke(calendar, ["load", str(bad)])
    assert result.exit_code == 1 and "line 4" in result.output
    good = tmp_path / "2027.csv"
    good.write_text("date,kind\n2027-01-01,休\n2027-02-14,班\n", encoding="utf-8")
    result = runner.invoke(calendar, ["load", str(good)])
    assert result.exit_code == 0 and "2027: 1 holidays, 1 make-up workdays" in result.output
    shown = runner.invoke(calendar, ["show", "2026-10"])
    assert "10班" in shown.output and "[ 1休]" in shown.output
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        working_days.unload()


def test_gonghui_sweep_at_prints_what_fired(fresh: Flask, api: Api) -> None:
    from api.commands.deadlines import sweep as sweep_command

    case = api.open_case(ENT, "mediation_case", mediation_data())
    result = fresh.test_cli_runner().invoke(sweep_command, ["--at", "2026-11-28T00:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert f"{case['number']}  escalate" in result.output and "escalated to chengdong" in result.output
    assert "1 timer(s) fired" in result.output


def test_a_year_loaded_by_another_process_reaches_the_api_within_a_minute(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from api.models import CalendarYear

    with fresh.app_context():   # as if `gonghui calendar load` ran in another process
        db.session.add(CalendarYear(year=2027, holidays=["2027-01-01", "2027-01-04"], workdays=[], source="test",
                                    loaded_by="cli", loaded_at=clock()))
        db.session.commit()
    clock.set(shanghai(2026, 12, 30, 10))
    case = api.open_case(ENT, "mediation_case", mediation_data())
    assert case["provisional"] is False and case["due_at"] == "2027-01-07T00:00:00+08:00"
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        working_days.unload()


def _state_of_cases(app: Flask) -> list[tuple]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(sa.text(
            "SELECT c.number, c.state, c.level, c.org_path, c.version, c.escalations, c.overdue, c.due_at, "
            "(SELECT count(*) FROM timers t WHERE t.case_id = c.id AND t.status = 'pending'), "
            "(SELECT count(*) FROM timers t WHERE t.case_id = c.id AND t.status = 'fired') "
            "FROM cases c ORDER BY c.number"))]


def test_a_batch_written_set_wise_is_the_same_as_one_by_one_and_chains_its_history(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from api.audit import verify

    for hour in range(6):
        clock.set(shanghai(2026, 11, 24, 9 + hour))
        api.open_case(ENT, "mediation_case", mediation_data())
    with fresh.app_context():
        fired = [item for at in (shanghai(2026, 11, 28, 0, 0), shanghai(2026, 12, 3, 0, 0))
                 for item in sweep_due(lambda: Session(db.engine), fresh.extensions["gonghui.engine"], at, batch=4)]
        assert list(verify(db.session)) == []
    # escalated to the street (batches of 4 and 2), then to the city: each timer fired once, in due order
    assert len(fired) == 12 and len({item.timer_id for item in fired}) == 12
    rows = _state_of_cases(fresh)
    assert {(row[2], row[4], row[5], row[8], row[9]) for row in rows} == {("city", 3, 2, 1, 2)}
    with fresh.app_context():
        heads = db.session.execute(sa.text(
            "SELECT c.history_hash = (SELECT h.hash FROM case_history h WHERE h.case_id = c.id "
            "ORDER BY h.seq DESC LIMIT 1) FROM cases c")).scalars().all()
    assert heads == [True] * 6


def test_a_batch_that_meets_a_changed_case_is_fired_one_by_one(
        fresh: Flask, api: Api, clock: FrozenClock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from api import sweep as sweep_module
    from api.audit import verify
    from api.models import Case
    from api.writers import SetWriter

    cases = [api.open_case(ENT, "mediation_case", mediation_data()) for _ in range(3)]
    real = sweep_module.fire_timer
    attempts: list[bool] = []

    def meddling(session, engine, timer, at, writer):  # type: ignore[no-untyped-def]
        setwise = isinstance(writer, SetWriter)
        attempts.append(setwise)
        result = real(session, engine, timer, at, writer)
        if setwise and timer.case_id == cases[1]["id"]:
            # another writer moves the case on while the batch is being worked out
            session.execute(sa.update(Case.__table__).where(Case.__table__.c.id == timer.case_id)
                            .values(version=Case.__table__.c.version + 1))
        return result

    monkeypatch.setattr(sweep_module, "fire_timer", meddling)
    fired = sweep(fresh, shanghai(2026, 11, 28, 0, 0))
    assert attempts == [True, True, True, False, False, False]  # tried set-wise, then one by one
    assert sorted(item.case_id for item in fired) == sorted(case["id"] for case in cases)
    assert {item.result for item in fired} == {"escalated to chengdong"}
    with fresh.app_context():
        assert list(verify(db.session)) == []
    assert {row[1:6] for row in _state_of_cases(fresh)} == {
        ("registered", "street", "wenling/chengdong/", 2, 1)}
    assert sweep(fresh, shanghai(2026, 11, 28, 0, 0)) == []
