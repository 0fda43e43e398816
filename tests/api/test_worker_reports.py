"""Worker reports: public intake without an account, routing, anonymity, deadlines, reopening, the report."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.models import Timer
from api.models_medical import AccessRecord
from tests.conftest import Api, FrozenClock, shanghai
from tests.integration.test_deadlines import sweep

INTAKE = "/api/v1/intake/worker-reports"


def report(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"employer": "温岭市东海鞋业有限公司", "category": "overtime_pay",
                            "description": "车间连续三个月加班未按规定支付加班费", "contact": "13900001111",
                            "anonymous": False}
    data.update(overrides)
    return data


def file(api: Api, address: str = "10.0.0.1", **overrides: Any) -> Any:
    return api.client.post(INTAKE, json=report(**overrides), environ_base={"REMOTE_ADDR": address})


def status(api: Api, number: str, secret: str) -> Any:
    return api.client.get(f"{INTAKE}/{number}", headers={"X-Report-Secret": secret})


def test_a_report_made_without_an_account_is_handled_and_answered(fresh: Flask, api: Api) -> None:
    response = file(api)
    assert response.status_code == 201
    receipt = response.get_json()
    assert receipt["number"] == "FY-2026-000001" and len(receipt["secret"]) >= 10
    assert status(api, receipt["number"], receipt["secret"]).get_json()["state"] == "reported"
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    assert (case["org_unit"], case["level"]) == ("cd-e001", "enterprise")  # the employer's own union
    assert case["due_at"] == "2026-12-02T00:00:00+08:00"  # 5 working days to accept or decline
    for event, data in [("acknowledge", {}), ("start_handling", {}),
                        ("serve_opinion", {"opinion": "请于15个工作日内补发加班费并书面答复"}),
                        ("resolve", {"feedback": "企业已补发三个月加班费共计12,600元"})]:
        fired = api.fire(case["id"], event, "ent_clerk", data)
        assert fired.status_code == 200, fired.get_json()
    seen = status(api, receipt["number"], receipt["secret"]).get_json()
    assert (seen["state_label"], seen["can_reopen"]) == ("已办结", True)
    assert seen["feedback"] == "企业已补发三个月加班费共计12,600元"
    assert api.fire(case["id"], "close", "ent_clerk").get_json()["state"] == "closed"


def test_a_wrong_secret_or_number_gets_the_same_404(api: Api) -> None:
    receipt = file(api).get_json()
    wrong = status(api, receipt["number"], "guess")
    unknown = status(api, "FY-2026-999999", receipt["secret"])
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]


def test_an_unacknowledged_report_escalates_to_the_street(fresh: Flask, api: Api) -> None:
    receipt = file(api).get_json()
    fired = sweep(fresh, shanghai(2026, 12, 2, 0, 0))
    assert [item.result for item in fired if item.action == "escalate"] == ["escalated to chengdong"]
    assert status(api, receipt["number"], receipt["secret"]).get_json()["state"] == "reported"
    (case,) = api.get("/cases?definition=worker_report", "chengdong_clerk").get_json()["items"]
    assert case["level"] == "street"


def test_wage_arrears_open_at_the_street_with_one_working_day_and_are_flagged(fresh: Flask, api: Api) -> None:
    file(api, category="wage_arrears", description="老板拖欠两个月工资")
    (case,) = api.get("/cases?definition=worker_report", "chengdong_clerk").get_json()["items"]
    assert (case["org_unit"], case["early_warning"]) == ("chengdong", True)
    assert case["due_at"] == "2026-11-26T00:00:00+08:00"  # one working day
    assert [c["id"] for c in api.get("/worklist", "chengdong_clerk").get_json()] == [case["id"]]
    assert [c["id"] for c in api.get("/worklist", "city_admin").get_json()] == [case["id"]]
    assert api.get("/worklist", "daxi_clerk").get_json() == []
    warnings = api.get("/reports/worker_report", "city_admin").get_json()["open_wage_arrears_warnings"]
    assert warnings == {"chengdong": 1}


def test_an_unknown_employer_goes_to_the_named_street_or_the_city(api: Api) -> None:
    file(api, employer="某某电子厂（无营业执照）", street="大溪镇")
    file(api, "10.0.0.2", employer="不知名作坊")
    assert api.get("/cases?definition=worker_report", "daxi_clerk").get_json()["items"][0]["data"]["employer"] == \
        "某某电子厂（无营业执照）"
    units = sorted(c["org_unit"] for c in api.get("/cases?definition=worker_report", "city_admin").get_json()["items"])
    assert units == ["daxi", "wenling"]


def test_an_employer_named_by_its_credit_code_is_found(api: Api) -> None:
    file(api, employer="91331081091141705K")
    (case,) = api.get("/cases?definition=worker_report", "daxi_clerk").get_json()["items"]
    assert case["data"]["employer"] == "温岭市大溪机电有限公司" and case["org_unit"] == "dx-e001"


def test_the_reporter_may_reopen_within_fifteen_days_but_not_after(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    receipt = file(api).get_json()
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "已协调补发"})]:
        api.fire(case["id"], event, "ent_clerk", data)
    headers = {"X-Report-Secret": receipt["secret"]}
    clock.set(shanghai(2026, 12, 5, 10))
    reopened = api.client.post(f"{INTAKE}/{receipt['number']}/reopen", json={"reason": "只补发了一个月"},
                               headers=headers)
    assert reopened.status_code == 200 and reopened.get_json()["state"] == "handling"
    history = api.get(f"/cases/{case['id']}/history", "ent_clerk").get_json()
    assert (history[-1]["event"], history[-1]["actor"]) == ("reopen", "reporter")
    api.fire(case["id"], "resolve", "ent_clerk", {"feedback": "已全部补发"})
    # resolved on 5 December: 15 days end on Sunday the 20th, which moves to Monday the 21st (Civil Code)
    clock.set(shanghai(2026, 12, 22, 10))
    late = api.client.post(f"{INTAKE}/{receipt['number']}/reopen", json={"reason": "还有问题"}, headers=headers)
    assert late.status_code == 422 and "2026年12月21日" in str(late.get_json()["errors"])


def test_the_status_page_and_the_reopen_agree_on_the_window_a_rest_day_extends(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    """The window is the resolved state's deadline, counted as the deadline is: the last of 15 days falls on a
    Sunday, so the reporter may still reopen on the Monday — the page says so, and the reopen is accepted."""
    receipt = file(api).get_json()
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    clock.set(shanghai(2026, 12, 5, 10))
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "已协调补发"})]:
        api.fire(case["id"], event, "ent_clerk", data)
    headers = {"X-Report-Secret": receipt["secret"]}
    clock.set(shanghai(2026, 12, 21, 20))   # 16 days and 10 hours after the resolution, on Monday
    seen = api.client.get(f"{INTAKE}/{receipt['number']}", headers=headers).get_json()
    assert (seen["can_reopen"], seen["reopen_until"]) == (True, "2026-12-21")
    reopened = api.client.post(f"{INTAKE}/{receipt['number']}/reopen", json={"reason": "只补发了一个月"},
                               headers=headers)
    assert reopened.status_code == 200 and reopened.get_json()["state"] == "handling"
    api.fire(case["id"], "resolve", "ent_clerk", {"feedback": "已全部补发"})   # resolved again on the 21st
    clock.set(shanghai(2027, 1, 6, 9))      # 15 days end on 5 January 2027 (a working day)
    seen = api.client.get(f"{INTAKE}/{receipt['number']}", headers=headers).get_json()
    assert (seen["can_reopen"], seen["reopen_until"]) == (False, None)
    refused = api.client.post(f"{INTAKE}/{receipt['number']}/reopen", json={"reason": "还有问题"}, headers=headers)
    assert refused.status_code == 422


def test_a_resolved_report_closes_itself_after_fifteen_days(fresh: Flask, api: Api) -> None:
    file(api)
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "已处理"})]:
        api.fire(case["id"], event, "ent_clerk", data)
    sweep(fresh, shanghai(2026, 12, 10, 0, 0))
    assert api.get(f"/cases/{case['id']}", "ent_clerk").get_json()["state"] == "closed"


def test_an_anonymous_contact_is_seen_only_by_the_unit_handling_the_report(fresh: Flask, api: Api) -> None:
    file(api, anonymous=True, contact="13700002222", category="safety", description="车间消防通道被堵")
    (owned,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    assert owned["org_unit"] == "cd-e001" and owned["data"]["contact"] == "13700002222"
    history = api.get(f"/cases/{owned['id']}/history", "ent_clerk").get_json()
    assert history[0]["data"]["contact"] == "13700002222"
    for above in ("chengdong_clerk", "chengdong_mediator", "city_admin"):   # by level: no
        listed = api.get("/cases?definition=worker_report", above).get_json()
        seen = api.get(f"/cases/{owned['id']}", above).get_json()
        rows = api.get(f"/cases/{owned['id']}/history", above).get_json()
        assert "13700002222" not in str([listed, seen, rows]), above
        assert seen["data"]["contact"] == rows[0]["data"]["contact"] == "（匿名，仅承办单位可见）"
    with fresh.app_context():
        records = db.session.execute(sa.select(AccessRecord.username, AccessRecord.fields, AccessRecord.via)
                                     .order_by(AccessRecord.id)).all()
    assert [(name, fields) for name, fields, _ in records] == [("ent_clerk", "contact"), ("ent_clerk", "contact")]
    assert records[1].via == f"GET /api/v1/cases/{owned['id']}/history"


def test_a_named_reporters_contact_is_for_the_clerks_in_scope_masked_for_the_others(api: Api) -> None:
    file(api, anonymous=False, contact="13700003333")
    case = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"][0]
    assert api.get(f"/cases/{case['id']}", "chengdong_clerk").get_json()["data"]["contact"] == "13700003333"
    assert api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()["data"]["contact"] == "137****3333"


def test_the_intake_is_rate_limited_per_client(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    for _ in range(5):
        assert file(api, "10.9.9.9").status_code == 201
    refused = file(api, "10.9.9.9")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert file(api, "10.9.9.8").status_code == 201  # another client is not affected
    clock.advance(minutes=11)
    assert file(api, "10.9.9.9").status_code == 201


def test_bad_reports_are_refused(api: Api) -> None:
    empty = file(api, description="")
    assert empty.status_code == 422 and "description" in empty.get_json()["errors"]
    huge = file(api, description="长" * 5001)
    assert huge.status_code == 422 and "description" in huge.get_json()["errors"]
    odd = file(api, category="ufo", anonymous="perhaps")
    assert odd.status_code == 422 and {"category", "anonymous"} <= set(odd.get_json()["errors"])


def test_declining_needs_a_written_reason_and_only_street_clerks_refer(api: Api) -> None:
    file(api)
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    assert api.fire(case["id"], "decline", "ent_clerk", {}).status_code == 422
    api.fire(case["id"], "acknowledge", "ent_clerk")
    api.fire(case["id"], "start_handling", "ent_clerk")
    assert api.fire(case["id"], "refer", "ent_clerk", {"offices": ["labour"]}).status_code == 403
    referred = api.fire(case["id"], "refer", "chengdong_clerk", {"offices": ["labour", "safety"]})
    assert referred.status_code == 200 and referred.get_json()["state"] == "joint_intervention"


def test_an_operator_types_a_report_in(api: Api) -> None:
    case = api.open_case("chengdong_clerk", "worker_report", report(channel="phone"))
    assert case["org_unit"] == "cd-e001" and case["data"]["channel"] == "phone"


def test_the_report_figures(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    file(api)
    file(api, "10.0.0.2", category="wage_arrears", description="拖欠工资")
    cases = {c["category"] if "category" in c else c["data"]["category"]: c
             for c in api.get("/cases?definition=worker_report", "city_admin").get_json()["items"]}
    overtime = cases["overtime_pay"]
    clock.set(shanghai(2026, 11, 26, 10))
    api.fire(overtime["id"], "acknowledge", "ent_clerk")
    api.fire(overtime["id"], "start_handling", "ent_clerk")
    clock.set(shanghai(2026, 11, 30, 10))
    api.fire(overtime["id"], "resolve", "ent_clerk", {"feedback": "已补发"})
    api.fire(overtime["id"], "reopen", "ent_clerk", {"reason": "反映人不满意"})
    figures = api.get("/reports/worker_report", "city_admin").get_json()
    assert figures["by_category"] == {"overtime_pay": 1, "wage_arrears": 1}
    assert figures["by_employer"] == {"温岭市东海鞋业有限公司": 2}
    assert figures["avg_working_days_to_acknowledge"] == 2.0  # Tue → Thu
    assert figures["avg_working_days_to_resolve"] == 4.0     # Tue → the next Mon
    assert (figures["reopened"], figures["reopen_rate"]) == (1, 1.0)
    with fresh.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timer)) > 0
