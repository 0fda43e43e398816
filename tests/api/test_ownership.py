"""Every case lands on someone's desk: the city works what reaches it, supervision (交办, 提级办理, 催办) from above,
units that held a case keep seeing it read-only, and everyone who can act on a case is told."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api.extensions import db
from api.sweep import Fired, sweep_due
from tests.conftest import Api, FrozenClock, mediation_data, shanghai


def sweep(app: Flask, at: datetime, **options: Any) -> list[Fired]:
    with app.app_context():
        return sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], at, **options)


def notices(api: Api, user: str, *, unread: bool = False) -> list[dict[str, Any]]:
    response = api.get(f"/notifications{'?unread=true' if unread else ''}", user)
    assert response.status_code == 200, response.get_json()
    return list(response.get_json()["items"])


def kinds(api: Api, user: str, case_id: int) -> list[str]:
    return sorted(item["kind"] for item in notices(api, user) if item["case"] == case_id)


def escalated_to_the_city(fresh: Flask, api: Api, clock: FrozenClock) -> dict[str, Any]:
    """A mediation case registered by the enterprise union, escalated by the sweep to 城东街道, then to the city."""
    case = api.open_case("ent_clerk", "mediation_case", mediation_data())
    assert [item.result for item in sweep(fresh, shanghai(2026, 11, 28, 0, 0))] == ["escalated to chengdong"]
    assert [item.result for item in sweep(fresh, shanghai(2026, 12, 3, 0, 0))] == ["escalated to wenling"]
    clock.set(shanghai(2026, 12, 3, 9, 0))
    return dict(case)


def test_a_case_escalated_to_the_top_is_accepted_by_the_city_clerk_and_everyone_on_the_way_is_told(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = escalated_to_the_city(fresh, api, clock)
    assert kinds(api, "ent_clerk", case["id"]) == ["arrived"]
    assert kinds(api, "chengdong_clerk", case["id"]) == ["escalated"]
    assert kinds(api, "chengdong_mediator", case["id"]) == ["escalated"]
    assert kinds(api, "city_clerk", case["id"]) == ["escalated"]
    assert kinds(api, "daxi_clerk", case["id"]) == []
    (notice,) = [item for item in notices(api, "city_clerk", unread=True) if item["case"] == case["id"]]
    assert set(notice) >= {"id", "kind", "case", "number", "title", "at", "read"}
    assert notice["number"] == case["number"] and notice["read"] is False
    assert "温岭市总工会" in notice["title"] and "上报" in notice["title"]

    worklist = api.get("/worklist", "city_clerk").get_json()
    (mine,) = [item for item in worklist if item["id"] == case["id"]]
    assert "accept" in mine["allowed_events"] and mine["org_unit"] == "wenling"
    accepted = api.fire(case["id"], "accept", "city_clerk", {"mediator": "市总调解员"})
    assert accepted.status_code == 200, accepted.get_json()
    assert (accepted.get_json()["state"], accepted.get_json()["level"]) == ("mediating", "city")


def test_units_that_held_a_case_keep_seeing_it_read_only_with_masking(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = escalated_to_the_city(fresh, api, clock)
    for user in ("ent_clerk", "chengdong_clerk"):
        shown = api.get(f"/cases/{case['id']}", user)
        assert shown.status_code == 200
        assert shown.get_json()["allowed_events"] == [] and shown.get_json()["org_unit"] == "wenling"
        assert api.get(f"/cases/{case['id']}/history", user).status_code == 200
        involved = api.get("/cases?involved=true", user).get_json()
        assert [item["id"] for item in involved["items"]] == [case["id"]]
        assert involved["items"][0]["allowed_events"] == []
        assert [item["id"] for item in api.get("/cases", user).get_json()["items"]] == []
    # the street's clerk holds no role that sees ID numbers: still masked on a case it only once held
    applicant = api.get(f"/cases/{case['id']}", "chengdong_clerk").get_json()["data"]["applicants"][0]
    assert applicant["id_number"] != "331081199805201237" and applicant["id_number"].endswith("1237")
    refused = api.fire(case["id"], "accept", "ent_clerk", {"mediator": "李调解"})
    assert refused.status_code == 403 and "只能查看" in refused.get_json()["detail"]
    # a unit that never held it still gets 404
    assert api.get(f"/cases/{case['id']}", "daxi_clerk").status_code == 404
    assert api.get("/cases?involved=true", "daxi_clerk").get_json()["items"] == []


def test_the_city_admin_assigns_an_overdue_case_back_to_the_street_with_an_instruction(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    case = escalated_to_the_city(fresh, api, clock)
    due = api.get(f"/cases/{case['id']}", "city_admin").get_json()["due_at"]
    assert due == "2026-12-09T00:00:00+08:00"   # the city's 3 working days from Thursday's escalation
    fired = sweep(fresh, shanghai(2026, 12, 9, 0, 0))
    assert [item.result for item in fired] == ["supervised: overdue at city level (督办)"]
    clock.set(shanghai(2026, 12, 9, 9, 0))
    assert "overdue" in kinds(api, "city_admin", case["id"])
    assert "overdue" in kinds(api, "city_clerk", case["id"])
    (top,) = [item for item in api.get("/worklist", "city_admin").get_json() if item["id"] == case["id"]]
    assert top["overdue"] is True
    assert {"assign", "urge"} <= set(top["allowed_events"]) and "take_over" not in top["allowed_events"]

    response = api.fire(case["id"], "assign", "city_admin",
                        {"org_unit": "chengdong", "instruction": "请城东街道三日内受理并反馈结果"})
    assert response.status_code == 200, response.get_json()
    moved = response.get_json()
    assert (moved["org_unit"], moved["level"], moved["state"], moved["overdue"]) == (
        "chengdong", "street", "registered", False)
    assert moved["due_at"] == "2026-12-15T00:00:00+08:00"   # the street's 3 working days, from the assignment
    step = api.get(f"/cases/{case['id']}/history", "city_admin").get_json()[-1]
    assert (step["event"], step["org_from"], step["org_to"], step["actor"]) == (
        "assign", "wenling", "chengdong", "city_admin")
    assert step["data"]["instruction"] == "请城东街道三日内受理并反馈结果"
    (told,) = [item for item in notices(api, "chengdong_clerk") if item["kind"] == "assigned"]
    assert "交办" in told["title"] and "三日内受理" in told["title"]
    assert "assign" not in api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()["data"]
    accepted = api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    assert accepted.status_code == 200


def test_an_assignment_may_set_its_own_number_of_working_days(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    response = api.fire(case["id"], "assign", "city_admin", {"org_unit": "cd-e001", "instruction": "请企业工会调处",
                                                              "due_in_working_days": 5})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["org_unit"] == "cd-e001"
    assert response.get_json()["due_at"] == "2026-12-02T00:00:00+08:00"   # Wed..Fri, Mon, Tue after 11-24


@pytest.mark.parametrize(("user", "data", "named"), [
    ("chengdong_clerk", {"org_unit": "dx-e001", "instruction": "x"}, "dx-e001"),        # outside its scope
    ("city_admin", {"org_unit": "nowhere", "instruction": "x"}, "nowhere"),              # no such unit
    ("city_admin", {"org_unit": "wenling", "instruction": "x"}, "wenling"),              # not below the caller
])
def test_assigning_outside_the_scope_is_422_naming_the_unit(api: Api, user: str, data: dict[str, Any],
                                                            named: str) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    response = api.fire(case["id"], "assign", user, data)
    assert response.status_code == 422, response.get_json()
    assert named in response.get_json()["errors"]["data.org_unit"][0]
    assert api.get(f"/cases/{case['id']}", "city_admin").get_json()["version"] == 1


def test_assigning_to_a_unit_at_a_level_that_cannot_own_the_case_is_422_naming_it(api: Api) -> None:
    formation = {"kind": "single", "enterprise": {"uscc": "91331081865797549P", "name": "温岭市川创机电有限公司"}}
    response = api.post("/cases", "city_admin", {"definition": "union_formation", "org_unit": "wenling",
                                                 "data": formation})
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    refused = api.fire(case["id"], "assign", "city_admin", {"org_unit": "cd-e001", "instruction": "请组建"})
    assert refused.status_code == 422
    assert "cd-e001" in refused.get_json()["errors"]["data.org_unit"][0]
    missing = api.fire(case["id"], "assign", "city_admin", {"org_unit": "chengdong"})
    assert missing.status_code == 422 and "data.instruction" in missing.get_json()["errors"]


def test_the_city_takes_a_case_over_from_the_street(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    assert "take_over" not in api.get(f"/cases/{case['id']}", "chengdong_clerk").get_json()["allowed_events"]
    refused = api.fire(case["id"], "take_over", "chengdong_clerk", {"reason": "自己提级"})
    assert refused.status_code == 403
    assert "take_over" in api.get(f"/cases/{case['id']}", "city_admin").get_json()["allowed_events"]
    response = api.fire(case["id"], "take_over", "city_clerk", {"reason": "涉及人数多，市总直接办理"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["org_unit"], response.get_json()["level"]) == ("wenling", "city")
    assert kinds(api, "city_clerk", case["id"]) == ["taken_over"]
    assert api.get(f"/cases/{case['id']}", "chengdong_clerk").get_json()["allowed_events"] == []
    again = api.fire(case["id"], "take_over", "city_admin", {"reason": "再提一次"})
    assert again.status_code == 403   # it is the city's own case now


def test_urging_leaves_state_and_owner_and_tells_the_owners(api: Api) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    response = api.fire(case["id"], "urge", "city_admin", {"note": "请尽快受理"})
    assert response.status_code == 200, response.get_json()
    urged = response.get_json()
    assert (urged["state"], urged["org_unit"], urged["version"]) == ("registered", "chengdong", 2)
    assert "note" not in urged["data"]
    step = api.get(f"/cases/{case['id']}/history", "city_admin").get_json()[-1]
    assert (step["event"], step["data"]) == ("urge", {"note": "请尽快受理"})
    for user in ("chengdong_clerk", "chengdong_mediator"):
        (told,) = [item for item in notices(api, user) if item["kind"] == "urged"]
        assert "催办" in told["title"] and "请尽快受理" in told["title"]
    assert api.fire(case["id"], "urge", "chengdong_mediator", {"note": "x"}).status_code == 403
    assert api.fire(case["id"], "urge", "city_admin", {}).status_code == 422


def test_urging_a_closed_case_is_409(api: Api) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    closed = api.fire(case["id"], "withdraw", "chengdong_clerk", {"reason": "申请人撤回"})
    assert closed.status_code == 200
    response = api.fire(case["id"], "urge", "city_admin", {"note": "请尽快"})
    assert response.status_code == 409


def test_a_user_reads_only_its_own_notifications(api: Api) -> None:
    case = api.open_case("chengdong_clerk", "mediation_case", mediation_data())
    (notice,) = notices(api, "chengdong_mediator", unread=True)
    assert (notice["kind"], notice["case"], notice["read"]) == ("arrived", case["id"], False)
    assert api.post(f"/notifications/{notice['id']}/read", "daxi_clerk").status_code == 404
    assert api.post("/notifications/2147483647/read", "chengdong_mediator").status_code == 404
    read = api.post(f"/notifications/{notice['id']}/read", "chengdong_mediator")
    assert read.status_code == 200 and read.get_json()["read"] is True
    page = api.get("/notifications?unread=true", "chengdong_mediator").get_json()
    assert (page["items"], page["total"], page["page"], page["per_page"]) == ([], 0, 1, 50)
    everything = api.get("/notifications", "chengdong_mediator").get_json()
    assert [item["read"] for item in everything["items"]] == [True]


def test_the_pages_show_the_unread_count_the_notices_and_a_read_only_case(fresh: Flask, api: Api) -> None:
    from tests.api.test_ui_pages import signed_in

    case = api.open_case("ent_clerk", "mediation_case", mediation_data())
    assert api.fire(case["id"], "take_over", "chengdong_clerk", {"reason": "街道直接调处"}).status_code == 200
    client, csrf = signed_in(fresh, "chengdong_mediator")
    worklist = client.get("/worklist").get_data(as_text=True)
    assert re.search(r'通知 <span class="badge red" title="未读通知">1</span>', worklist)
    page = client.get("/notifications").get_data(as_text=True)
    assert "提级办理" in page and case["number"] in page and "未读 <b>1</b> 条" in page
    notice_id = re.search(r'data-notice="(\d+)"', page).group(1)  # type: ignore[union-attr]
    opened = client.post(f"/notifications/{notice_id}/read", data={"csrf_token": csrf})
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/cases/{case['id']}")
    assert "未读 <b>0</b> 条" in client.get("/notifications").get_data(as_text=True)
    assert 'title="未读通知"' not in client.get("/worklist").get_data(as_text=True)
    other, other_csrf = signed_in(fresh, "daxi_clerk")
    assert other.post(f"/notifications/{notice_id}/read", data={"csrf_token": other_csrf}).status_code == 404

    enterprise, _ = signed_in(fresh, "ent_clerk")
    held = enterprise.get(f"/cases/{case['id']}")
    assert held.status_code == 200
    text = held.get_data(as_text=True)
    assert "本单位曾承办此案件" in text and "只能查看" in text and 'data-event="accept"' not in text
    assert "提级办理" in text   # the step in its history


def test_the_city_administrator_sees_the_supervision_forms_on_an_overdue_case(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from tests.api.test_ui_pages import signed_in

    case = escalated_to_the_city(fresh, api, clock)
    sweep(fresh, shanghai(2026, 12, 9, 0, 0))
    clock.set(shanghai(2026, 12, 9, 9, 0))
    client, csrf = signed_in(fresh, "city_admin")
    assert "超期（督办）" in client.get("/worklist").get_data(as_text=True)
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'data-event="assign"' in page and 'data-event="urge"' in page and "交办要求" in page
    sent = client.post(f"/cases/{case['id']}/events/assign", data={
        "csrf_token": csrf, "version": str(api.get(f"/cases/{case['id']}", "city_admin").get_json()["version"]),
        "org_unit": "chengdong", "instruction": "请城东街道受理"})
    assert sent.status_code == 302
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "交办要求：请城东街道受理" in page and "城东街道" in page


def test_a_report_reopened_by_its_reporter_is_back_on_the_unions_desk(fresh: Flask, api: Api,
                                                                       clock: FrozenClock) -> None:
    filed = api.client.post("/api/v1/intake/worker-reports", environ_base={"REMOTE_ADDR": "10.0.0.9"}, json={
        "employer": "温岭市东海鞋业有限公司", "category": "overtime_pay", "description": "加班费未按规定支付",
        "contact": "13900001111", "anonymous": False}).get_json()
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    assert kinds(api, "ent_clerk", case["id"]) == ["arrived"]
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "已协调补发"})]:
        assert api.fire(case["id"], event, "ent_clerk", data).status_code == 200
    assert kinds(api, "ent_clerk", case["id"]) == ["arrived"]   # its own steps tell nobody
    clock.set(shanghai(2026, 12, 5, 10))
    reopened = api.client.post(f"/api/v1/intake/worker-reports/{filed['number']}/reopen",
                               json={"reason": "只补发了一个月"}, headers={"X-Report-Secret": filed["secret"]})
    assert reopened.status_code == 200
    assert kinds(api, "ent_clerk", case["id"]) == ["arrived", "arrived"]
    latest = notices(api, "ent_clerk")[0]
    assert "处理中" in latest["title"] and "东海鞋业" in latest["title"]
