"""Union terms (基层工会换届): from the founding through a full term with the frozen clock, the election report's
faults, the plan approved by the street, one open term per union, the union's record and the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from api.sweep import Fired, sweep_due
from tests.conftest import Api, FrozenClock, shanghai

STREET = "chengdong_clerk"
FOUNDING = [("notify", {"notice_date": "2021-06-02"}),
            ("start_preparation", {"leader": "林建国", "prep_group": ["林建国", "陈小红", "王志强"]}),
            ("open_registration", {}), ("call_election", {"members_registered": 98}),
            ("report_election", {"chair": "陈小红", "committee": ["陈小红", "王志强", "李娜"],
                                 "elected_on": "2021-06-15", "term_years": 3})]


def sweep(app: Flask, at: datetime) -> list[Fired]:
    from api.extensions import db

    with app.app_context():
        return sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], at)


def add_city_clerk(app: Flask, clock: FrozenClock) -> None:
    """The city clerk of the demo data (wenling: clerk, mediator)."""
    from api import demo
    from api.extensions import db
    from api.models import OrgUnit

    with app.app_context():
        city = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "wenling"))
        demo.upsert_user(db.session, "city_clerk", city, ["clerk", "mediator"], "demo", clock())
        db.session.commit()


def found_union(api: Api, clock: FrozenClock) -> dict[str, Any]:
    """A union founded in June 2021 (elected on 15 June, 3-year term), approved by the street."""
    clock.set(shanghai(2021, 6, 1, 9))
    formation = api.open_case(STREET, "union_formation", {"kind": "single", "enterprise": {
        "uscc": "91331081865797549P", "name": "温岭市川创机电有限公司", "insured_staff": 126,
        "founded_on": "2004-06-26"}})
    clock.set(shanghai(2021, 6, 18, 9))
    for event, data in FOUNDING:
        assert api.fire(formation["id"], event, STREET, data).status_code == 200, event
    approved = api.fire(formation["id"], "approve", STREET, {"approval_no": "温东工〔2021〕7号"}).get_json()
    assert approved["state"] == "established"
    return approved


def term_cases(api: Api, as_: str = "city_admin") -> list[dict[str, Any]]:
    return api.get("/cases?definition=union_term&per_page=200", as_).get_json()["items"]


def test_a_union_goes_from_its_founding_through_a_full_term_to_its_re_election(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    add_city_clerk(fresh, clock)
    formation = found_union(api, clock)
    union = formation["data"]["union_unit"]
    # the approval opened the first term: owned by the street, from the election day, 3 years as reported
    (term,) = term_cases(api)
    assert (term["state"], term["org_unit"], term["number"][:8]) == ("in_term", "chengdong", "HJ-2021-")
    assert {key: term["data"][key] for key in ("union_unit", "chair", "committee", "term_start", "term_years",
                                               "previous_case")} == {
        "union_unit": union, "chair": "陈小红", "committee": ["陈小红", "王志强", "李娜"],
        "term_start": "2021-06-15", "term_years": 3, "previous_case": formation["number"]}
    # 2024-06-15 is a Saturday: the term's last day is Monday 17 June (民法典 art. 203); the reminder is six
    # months before the end, on 15 December 2023, and the case is due at its end
    assert (term["data"]["term_end"], term["data"]["reminder_on"]) == ("2024-06-17", "2023-12-15")
    assert (term["due_at"], term["provisional"]) == ("2023-12-16T00:00:00+08:00", False)
    record = api.get(f"/org-units/{union}/term", STREET).get_json()
    assert (record["chair"], record["committee"], record["term_start"], record["term_end"], record["status"]) == (
        "陈小红", ["陈小红", "王志强", "李娜"], "2021-06-15", "2024-06-17", "in_term")

    # the reminder: nothing a minute before, the case falls due at term end − 6 months (the system, in history)
    assert sweep(fresh, shanghai(2023, 12, 15, 23, 59)) == []
    assert [item.result for item in sweep(fresh, shanghai(2023, 12, 16))] == ["fired fall_due"]
    due = api.get(f"/cases/{term['id']}", STREET).get_json()
    assert (due["state"], due["state_label"], due["due_at"]) == ("due", "应换届", "2024-06-18T00:00:00+08:00")
    assert api.get(f"/cases/{term['id']}/history", STREET).get_json()[-1]["actor"] == "system"
    assert api.get(f"/org-units/{union}/term", STREET).get_json()["status"] == "due"

    # nobody acts: the term ends without an election → 超期未换届, then the street's 30 days run out → the city
    assert sweep(fresh, shanghai(2024, 6, 17, 23, 59)) == []
    assert [item.result for item in sweep(fresh, shanghai(2024, 6, 18))] == ["fired lapse"]
    overdue = api.get(f"/cases/{term['id']}", STREET).get_json()
    assert (overdue["state"], overdue["state_label"], overdue["due_at"]) == (
        "overdue", "超期未换届", "2024-07-19T00:00:00+08:00")
    assert [item.result for item in sweep(fresh, shanghai(2024, 7, 19))] == ["escalated to wenling"]
    at_city = api.get(f"/cases/{term['id']}", "city_clerk").get_json()
    assert (at_city["level"], at_city["org_unit"], at_city["state"]) == ("city", "wenling", "overdue")
    # 30 days from 19 July end on Sunday 18 August, moved to Monday 19 August; then the city supervises (督办)
    assert at_city["due_at"] == "2024-08-20T00:00:00+08:00"
    held = api.get(f"/cases/{term['id']}", STREET).get_json()   # out of the street's hands: read-only now
    assert held["org_unit"] == "wenling" and held["allowed_events"] == []
    assert [item.result for item in sweep(fresh, shanghai(2024, 8, 20))] == ["supervised: overdue at city level (督办)"]
    assert api.get(f"/cases/{term['id']}", "city_clerk").get_json()["overdue"] is True

    # the city clerk works it: the election held late is reported and approved; the next term opens
    clock.set(shanghai(2024, 8, 26, 10))
    assert "report_election" in api.get(f"/cases/{term['id']}", "city_clerk").get_json()["allowed_events"]
    elected = api.fire(term["id"], "report_election", "city_clerk", {
        "chair": "王志强", "committee": ["王志强", "李娜", "赵敏", "陈小红"], "elected_on": "2024-08-22"})
    assert elected.status_code == 200, elected.get_json()
    assert elected.get_json()["data"]["chair"] == "陈小红"   # the term's committee stays until the approval
    closed = api.fire(term["id"], "approve_election", "city_clerk", {"approval_no": "温工〔2024〕31号"}).get_json()
    assert (closed["state"], closed["state_label"], closed["closed"]) == ("re_elected", "已换届", True)
    following = [case for case in term_cases(api) if case["id"] != term["id"]]
    assert len(following) == 1 and closed["data"]["next_case"] == following[0]["number"]
    nxt = following[0]
    assert (nxt["state"], nxt["org_unit"], nxt["level"]) == ("in_term", "chengdong", "street")
    assert {key: nxt["data"][key] for key in ("chair", "term_start", "term_years", "previous_case", "source")} == {
        "chair": "王志强", "term_start": "2024-08-22", "term_years": 3, "previous_case": term["number"],
        "source": "re_election"}
    # 2027 has no official schedule yet: the reminder (22 February 2027) is provisional
    assert (nxt["data"]["reminder_on"], nxt["due_at"], nxt["provisional"]) == (
        "2027-02-22", "2027-02-23T00:00:00+08:00", True)
    record = api.get(f"/org-units/{union}/term", STREET).get_json()
    assert (record["chair"], record["term_start"], record["case"]["number"], record["status"]) == (
        "王志强", "2024-08-22", nxt["number"], "in_term")
    report = api.get("/reports/union_term", "city_clerk").get_json()
    assert (report["re_elected"], report["unions_in_term"], report["unions_due"], report["unions_overdue"]) == (
        1, 1, 0, 0)
    assert report["per_street"]["chengdong"]["re_elected"] == 1


ELECTION = {"chair": "王志强", "committee": ["王志强", "李娜", "赵敏"], "elected_on": "2026-11-20"}


def open_term(api: Api, union: str = "cd-e001", term_start: str = "2022-03-01", **extra: Any) -> dict[str, Any]:
    return api.open_case(STREET, "union_term", {"union_unit": union, "chair": "陈建国",
                                                "committee": ["陈建国", "王丽", "李明"], "term_start": term_start,
                                                **extra})


def walk_to(api: Api, case_id: int, *steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for event, data in steps:
        response = api.fire(case_id, event, STREET, data)
        assert response.status_code == 200, (event, response.get_json())
        body = response.get_json()
    return body


PLAN = ("report_plan", {"planned_on": "2026-12-20", "plan": "召开会员大会，差额选举委员会"})


def test_an_election_report_names_every_fault_at_once(api: Api) -> None:
    case = open_term(api)
    walk_to(api, case["id"], PLAN, ("approve_plan", {}))
    response = api.fire(case["id"], "report_election", STREET, {
        "committee": ["王志强", "李娜"], "elected_on": "2026-12-01", "term_years": 4})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    errors = response.get_json()["errors"]
    assert set(errors) == {"data.chair", "data.committee", "data.elected_on", "data.term_years"}
    assert errors["data.committee"] == ["委员会至少 3 人，报送 2 人"]
    assert errors["data.elected_on"] == ["日期不能晚于今天"] and errors["data.term_years"] == ["任期须为 3 或 5 年"]
    assert api.get(f"/cases/{case['id']}", STREET).get_json()["state"] == "preparing"   # nothing changed


def test_the_union_reports_its_plan_the_street_approves_it_and_the_result(api: Api) -> None:
    case = open_term(api, term_start="2021-12-01", term_years=5)
    assert (case["data"]["term_end"], case["data"]["reminder_on"]) == ("2026-12-01", "2026-06-01")
    assert case["due_at"] == "2026-06-02T00:00:00+08:00"   # already past: the sweep moves it to 应换届
    plan = walk_to(api, case["id"], PLAN)
    assert (plan["state"], plan["state_label"]) == ("plan_submitted", "换届方案待批复")
    assert plan["due_at"] == "2026-12-16T00:00:00+08:00"   # 15 working days: to 15 December at 24:00
    walk_to(api, case["id"], ("approve_plan", {}))
    elected = walk_to(api, case["id"], ("report_election", ELECTION))
    assert (elected["state"], elected["data"]["election"]["term_years"]) == ("elected", 5)   # the union's rules
    returned = walk_to(api, case["id"], ("return_for_correction", {"reason": "委员名单与选举记录不一致"}))
    assert returned["state"] == "preparing"
    walk_to(api, case["id"], ("report_election", {**ELECTION, "term_years": 3}))
    assert api.fire(case["id"], "approve_election", "ent_clerk", {"approval_no": "x"}).status_code == 404
    closed = walk_to(api, case["id"], ("approve_election", {"approval_no": "温东工〔2026〕12号"}))
    assert closed["state"] == "re_elected"
    record = api.get("/org-units/cd-e001/term", "ent_clerk").get_json()   # the union sees its own record
    assert (record["chair"], record["term_years"], record["term_start"], record["term_end"]) == (
        "王志强", 3, "2026-11-20", "2029-11-20")


def test_a_union_has_one_open_term_case(api: Api) -> None:
    first = open_term(api)
    again = api.post("/cases", STREET, {"definition": "union_term", "data": {
        "union_unit": "cd-e001", "chair": "陈建国", "term_start": "2022-03-01"}})
    assert again.status_code == 409 and first["number"] in again.get_json()["detail"]


@pytest.mark.parametrize(("data", "field"), [
    ({"union_unit": "chengdong"}, "data.union_unit"),       # a street is not a union
    ({"union_unit": "dx-e001"}, "data.union_unit"),         # another street's union
    ({"term_start": "2027-01-01"}, "data.term_start"),
    ({"term_years": 4}, "data.term_years"),
])
def test_a_term_opened_by_hand_is_checked(api: Api, data: dict[str, Any], field: str) -> None:
    body = {"union_unit": "cd-e001", "chair": "陈建国", "term_start": "2022-03-01", **data}
    response = api.post("/cases", STREET, {"definition": "union_term", "data": body})
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()


def test_the_union_record_is_seen_only_within_scope(api: Api) -> None:
    open_term(api, term_start="2024-03-01")
    assert api.get("/org-units/cd-e001/term", "daxi_clerk").status_code == 404
    assert api.get("/org-units/cd-e002/term", STREET).status_code == 404   # no term on record
    assert api.get("/org-units/nowhere/term", "city_admin").status_code == 404
    employers = api.get("/enterprises?street=chengdong", STREET).get_json()["items"]
    shoes = next(item for item in employers if item["union_unit"] == "cd-e001")
    assert (shoes["term_end"], shoes["term_status"]) == ("2029-03-01", "in_term")


def test_the_report_and_the_statistics_page_count_due_and_overdue_unions_per_street(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    open_term(api, "cd-e001", "2021-05-10", term_years=5)   # ended 2026-05-11: overdue
    open_term(api, "cd-e002", "2021-12-20", term_years=5)   # ends 2026-12-21: due
    api.open_case("daxi_clerk", "union_term", {"union_unit": "dx-e001", "chair": "郑志刚", "term_start": "2025-01-02",
                                               "term_years": 3})
    sweep(fresh, clock())
    states = sorted((case["data"]["union_unit"], case["state"]) for case in term_cases(api))
    assert states == [("cd-e001", "overdue"), ("cd-e002", "due"), ("dx-e001", "in_term")]
    report = api.get("/reports/union_term", "city_admin").get_json()
    assert (report["unions_in_term"], report["unions_due"], report["unions_overdue"], report["re_elected"]) == (
        1, 1, 1, 0)
    assert report["per_street"] == {
        "chengdong": {"name": "城东街道总工会", "in_term": 0, "due": 1, "overdue": 1, "re_elected": 0},
        "daxi": {"name": "大溪镇总工会", "in_term": 1, "due": 0, "overdue": 0, "re_elected": 0}}
    street = api.get("/reports/union_term", STREET).get_json()
    assert set(street["per_street"]) == {"chengdong"}
    from tests.api.test_ui_pages import signed_in

    client, _ = signed_in(fresh, "city_admin")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "基层工会换届" in page and "超期未换届" in page and "今年已换届" in page and "大溪镇总工会" in page


def test_seed_demo_lets_the_city_see_due_and_overdue_unions(fresh: Flask, api: Api) -> None:
    from api import demo
    from api.extensions import db

    with fresh.app_context():
        demo.seed_cases(db.session, fresh.config["CLOCK"]())
        demo.seed_cases(db.session, fresh.config["CLOCK"]())   # safe to run twice
        db.session.commit()
    states = sorted(case["state"] for case in term_cases(api))
    assert states == ["due", "due", "in_term", "overdue"]
    report = api.get("/reports/union_term", "city_admin").get_json()
    assert (report["unions_due"], report["unions_overdue"]) == (2, 1)


YEAR_2027 = {"year": 2027, "holidays": ["2027-01-01", "2027-02-06..2027-02-13", "2027-10-01..2027-10-07"],
             "workdays": ["2027-02-14"]}


def test_the_end_of_a_term_is_counted_again_on_the_schedule_loaded_since(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from api import calendar_store
    from api.extensions import db

    with fresh.app_context():   # the process's calendar as the (empty) table says: no year left by other tests
        calendar_store.refresh(db.session, fresh.extensions["gonghui.engine"].calendar)
    # a 3-year term from 11 February 2024: Thursday 11 February 2027 while 2027 has no schedule
    case = open_term(api, term_start="2024-02-11", term_years=3)
    assert (case["data"]["term_end"], case["data"]["reminder_on"]) == ("2027-02-11", "2026-08-11")
    try:
        assert api.post("/admin/calendar", "city_admin", YEAR_2027).status_code == 201
        sweep(fresh, clock())   # the reminder has passed: due, with the end on the schedule as loaded now
        due = api.get(f"/cases/{case['id']}", STREET).get_json()
        # 6–13 February 2027 are the Spring Festival holiday: the last day is the make-up Sunday 14 February
        assert (due["state"], due["data"]["term_end"], due["due_at"], due["provisional"]) == (
            "due", "2027-02-14", "2027-02-15T00:00:00+08:00", False)
        assert api.get("/org-units/cd-e001/term", STREET).get_json()["term_end"] == "2027-02-14"
        reminder = api.get(f"/cases/{case['id']}/history", STREET).get_json()[-1]
        assert (reminder["event"], reminder["actor"], reminder["data"]) == ("fall_due", "system",
                                                                            {"term_end": "2027-02-14"})
        # a month before the end the case is due soon
        clock.set(shanghai(2027, 1, 20, 9))
        assert api.get(f"/cases/{case['id']}", STREET).get_json()["due_soon"] is True
    finally:
        with fresh.app_context():
            working_days = fresh.extensions["gonghui.engine"].calendar

            working_days.unload()


def test_the_case_page_shows_the_term_in_chinese(fresh: Flask, api: Api) -> None:
    from tests.api.test_ui_pages import signed_in

    case = open_term(api, term_start="2024-03-01")
    client, _ = signed_in(fresh, STREET)
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    for words in ("基层工会换届", "任期内", "本届任期开始", "本届任期届满", "2029-03-01", "换届提醒日", "报送换届方案"):
        assert words in page, words
