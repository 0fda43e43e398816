"""Every number a federation may change is read from the definition: an app started on a copy of
``definitions/`` with each of those numbers changed behaves differently, where the shipped files' app (``api``)
keeps the shipped behaviour.

Changed in the copy: the claim window (180 → 30 days), the supplement period the one-time notice states (30 → 10
days), the scheme parameters a member is given by default (deductible 1000.00 → 500.00, ratio 50 % → 60 %, annual
cap 30000.00 → 2500.00), the re-examination period a refusal states (15 → 20 days), the reopen window of a
resolved worker report (15 → 5 days), the screening of the roster (25 → 100 insured staff, 1 → 3 years in
operation) and the union's term (default 5 → 3 years, reminder 6 → 12 months before the end, committee of 3 → 5,
term lengths 3 or 5 → 3, 4 or 5; the formation's election report alike).
"""

from __future__ import annotations

import io
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.api.ui_support import signed_in
from tests.conftest import Api, FrozenClock, shanghai

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
CHANGES = {
    "medical_aid_claim.v1.yaml": [
        ("  claim_window_days: 180 ", "  claim_window_days: 30 "),
        ("      period: {days: 30}\n      warn_before: {days: 5}\n      on_timeout: lapse",
         "      period: {days: 10}\n      warn_before: {days: 5}\n      on_timeout: lapse"),
        ('    deductible: "1000.00"', '    deductible: "500.00"'),
        ('    ratio: "0.50"', '    ratio: "0.60"'),
        ('    annual_cap: "30000.00"', '    annual_cap: "2500.00"'),
        ("  reexamination_days: 15 ", "  reexamination_days: 20 "),
    ],
    "worker_report.v1.yaml": [
        ("      period: {days: 15}\n      on_timeout: close", "      period: {days: 5}\n      on_timeout: close"),
    ],
    "union_formation.v1.yaml": [
        ("  threshold_staff: 25", "  threshold_staff: 100"),
        ("  min_years_in_operation: 1", "  min_years_in_operation: 3"),
        ("  allowed_term_years: [3, 5]", "  allowed_term_years: [3, 4, 5]"),
    ],
    "union_term.v1.yaml": [
        ("  default_term_years: 5", "  default_term_years: 3"),
        ("  allowed_term_years: [3, 5]", "  allowed_term_years: [3, 4, 5]"),
        ("  reminder_months_before_end: 6", "  reminder_months_before_end: 12"),
        ("  min_committee: 3", "  min_committee: 5"),
    ],
}
COUNTER, STREET, REVIEWER = "counter_chengbei", "chengdong_clerk", "chengbei_reviewer"
INTAKE = "/api/v1/intake/worker-reports"


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app of its own (its own SQLite file) on the changed copy, with the demo data."""
    from flask_migrate import upgrade

    from api import create_app, demo
    from api.extensions import db

    folder = tmp_path_factory.mktemp("definitions")
    for path in DEFINITIONS.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    for name, replacements in CHANGES.items():
        text = (folder / name).read_text(encoding="utf-8")
        for old, new in replacements:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (folder / name).write_text(text, encoding="utf-8")
    place = tmp_path_factory.mktemp("changed")
    clock = FrozenClock(shanghai(2026, 11, 24, 10, 0))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{place / 'db.sqlite3'}",
                      "DEFINITIONS_DIR": str(folder), "CLOCK": clock, "PASSWORD_METHOD": "pbkdf2:sha256:1000",
                      "SECRET_KEY": secrets.token_hex(32), "AUDIT_KEY_FILE": str(place / "audit.key"),
                      "AUDIT_CHECKPOINTS": str(place / "checkpoints.jsonl"), "INSTANCE_PATH": str(place)})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="heads")
        demo.seed(db.session, clock())
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def other(changed: Flask) -> Api:
    """The changed app over its demo data only, its clock back at the start (as ``api`` is)."""
    from api import demo
    from api.extensions import db
    from tests.conftest import _empty_all_tables

    changed.config["CLOCK"].set(shanghai(2026, 11, 24, 10, 0))
    _empty_all_tables(changed)
    with changed.app_context():
        demo.seed(db.session, changed.config["CLOCK"]())
        db.session.commit()
    return Api(changed.test_client())


def claim(**overrides: Any) -> dict[str, Any]:
    return {"member": {"name": "张三", "id_number": "331081199805201237"}, "claim_type": "inpatient",
            "hospital": "温岭市第一人民医院", "admitted_on": "2026-10-01", "discharged_on": "2026-10-10",
            "total_cost": "20000.00", "insurance_paid": "12000.00", "eligible_self_pay": "5000.00",
            "invoices": [{"number": f"P{secrets.token_hex(4)}", "amount": "20000.00"}],
            "documents": ["id_card", "invoice"], "bank_account": "6222021207001234567", **overrides}


def submit(api: Api, data: dict[str, Any]) -> Any:
    return api.post("/counters/claims", COUNTER, data, headers={"Idempotency-Key": secrets.token_hex(8)})


def test_the_claim_window_the_notice_period_and_the_default_scheme_parameters(api: Api, other: Api) -> None:
    # discharged 45 days ago: within the shipped 180 days, past the changed 30
    shipped = submit(api, claim())
    assert shipped.status_code == 201, shipped.get_json()
    refused = submit(other, claim())
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["data.discharged_on"] == ["规则：须在出院后 30 天内申请，已超过申请期限"]
    # discharged 20 days ago: accepted by both; the notice states each definition's period and its last day
    changed = submit(other, claim(admitted_on="2026-11-01", discharged_on="2026-11-04"))
    assert changed.status_code == 201, changed.get_json()
    assert "请在 10 日内（即 2026年12月4日前）" in changed.get_json()["notice"]
    assert "请在 30 日内（即 2026年12月24日前）" in shipped.get_json()["notice"]
    # the demo members were given each definition's default parameters: (5000 − 500) × 60 % = 2700.00, capped
    assert (shipped.get_json()["data"]["amount_computed"], changed.get_json()["data"]["amount_computed"]) == (
        "2000.00", "2500.00")
    # a refusal states each definition's re-examination period
    for client, receipt, days in ((api, shipped.get_json(), 15), (other, changed.get_json(), 20)):
        if receipt["state"] == "awaiting_documents":
            client.fire(receipt["id"], "supplement", COUNTER, {"documents": [
                "bank_card", "itemized_bill", "insurance_settlement", "discharge_summary"]})
        client.fire(receipt["id"], "start_review", REVIEWER)
        assert client.fire(receipt["id"], "reject", REVIEWER, {"reason": "发票与费用明细不符"}).status_code == 200
        page, _ = signed_in(client.client.application, REVIEWER)
        text = page.get(f"/cases/{receipt['id']}/documents/decision").get_data(as_text=True)
        assert f"可自收到本通知之日起 {days} 日内" in text


def resolved_report(api: Api) -> tuple[str, dict[str, str]]:
    receipt = api.client.post(INTAKE, json={"employer": "温岭市东海鞋业有限公司", "category": "overtime_pay",
                                            "description": "加班费未足额支付"}).get_json()
    case = next(item for item in api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
                if item["number"] == receipt["number"])
    for event, data in [("acknowledge", {}), ("start_handling", {}), ("resolve", {"feedback": "已协调补发"})]:
        assert api.fire(case["id"], event, "ent_clerk", data).status_code == 200
    return receipt["number"], {"X-Report-Secret": receipt["secret"]}


def test_the_reopen_window_is_the_resolved_deadline_of_each_definition(api: Api, other: Api) -> None:
    # resolved on Tuesday 24 November; 5 days end on Sunday the 29th, moved to Monday the 30th
    reports = {name: resolved_report(client) for name, client in (("shipped", api), ("changed", other))}
    for client in (api, other):
        client.client.application.config["CLOCK"].set(shanghai(2026, 12, 1, 9))
    seen = {name: client.client.get(f"{INTAKE}/{reports[name][0]}", headers=reports[name][1]).get_json()
            for name, client in (("shipped", api), ("changed", other))}
    assert (seen["shipped"]["can_reopen"], seen["shipped"]["reopen_until"]) == (True, "2026-12-09")
    assert (seen["changed"]["can_reopen"], seen["changed"]["reopen_until"]) == (False, None)
    late = other.client.post(f"{INTAKE}/{reports['changed'][0]}/reopen", json={"reason": "还有问题"},
                             headers=reports["changed"][1])
    assert late.status_code == 422 and "2026年11月30日" in str(late.get_json()["errors"])
    assert api.client.post(f"{INTAKE}/{reports['shipped'][0]}/reopen", json={"reason": "还有问题"},
                           headers=reports["shipped"][1]).status_code == 200


ROSTER = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
          "91331081865797549P,温岭市川创机电有限公司,城东街道,泵与电机,80,2004-06-26,否,,\n"
          "91331081030824625M,温岭市远北电器有限公司,城东街道,餐饮,150,2024-06-01,否,,\n"
          "913310816252760159,温岭市联远电器有限公司,城东街道,水产加工,300,2020-10-16,否,,\n")


def test_the_roster_is_screened_with_the_threshold_and_the_years_in_operation_of_the_definition(
        api: Api, other: Api) -> None:
    def imported(client: Api) -> dict[str, Any]:
        response = client.client.post("/api/v1/enterprises/import", headers=client.headers("city_admin"),
                                      data={"file": (io.BytesIO(ROSTER.encode("utf-8-sig")), "roster.csv")},
                                      content_type="multipart/form-data")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    shipped, changed = imported(api), imported(other)
    # 25 staff and a year: all three must form a union; 100 staff and three years: only the third
    assert (shipped["cases_opened"], shipped["joint_union_candidates"]) == (3, 0)
    assert (changed["cases_opened"], changed["candidates"]) == (1, ["91331081865797549P"])
    page, _ = signed_in(other.client.application, STREET)
    assert "参保 100 人及以上" in page.get("/employers").get_data(as_text=True)


def test_the_terms_lengths_reminder_and_committee_of_the_definition(api: Api, other: Api) -> None:
    term = {"union_unit": "cd-e001", "chair": "陈建国", "committee": ["陈建国", "王丽", "李明"],
            "term_start": "2024-03-01"}
    shipped = api.open_case(STREET, "union_term", term)["data"]
    changed = other.open_case(STREET, "union_term", term)["data"]
    assert (shipped["term_years"], shipped["term_end"], shipped["reminder_on"]) == (5, "2029-03-01", "2028-09-01")
    assert (changed["term_years"], changed["term_end"], changed["reminder_on"]) == (3, "2027-03-01", "2026-03-01")
    four = {**term, "union_unit": "cd-e002", "term_years": 4}
    assert api.post("/cases", STREET, {"definition": "union_term", "data": four}).get_json()["errors"] == {
        "data.term_years": ["任期须为 3 或 5 年"]}
    assert other.post("/cases", STREET, {"definition": "union_term", "data": four}).status_code == 201
    case = next(item for item in other.get("/cases?definition=union_term", STREET).get_json()["items"]
                if item["data"]["union_unit"] == "cd-e001")
    for event, data in [("report_plan", {"planned_on": "2026-12-20", "plan": "召开会员大会"}), ("approve_plan", {})]:
        assert other.fire(case["id"], event, STREET, data).status_code == 200
    four_members = {"chair": "王志强", "committee": ["王志强", "李娜", "赵敏", "孙伟"], "elected_on": "2026-11-20"}
    refused = other.fire(case["id"], "report_election", STREET, four_members)
    assert refused.get_json()["errors"] == {"data.committee": ["委员会至少 5 人，报送 4 人"]}


def test_the_formation_election_report_takes_the_term_lengths_of_the_definition(api: Api, other: Api) -> None:
    from tests.api.test_union_formation import STEPS

    def elected(client: Api) -> Any:
        client.client.post("/api/v1/enterprises/import", headers=client.headers("city_admin"),
                           data={"file": (io.BytesIO(ROSTER.encode("utf-8-sig")), "roster.csv")},
                           content_type="multipart/form-data")
        case = next(item for item in client.get("/cases?definition=union_formation", STREET).get_json()["items"]
                    if item["data"]["enterprise"]["uscc"] == "913310816252760159")
        for event, data in STEPS[:-1]:
            assert client.fire(case["id"], event, STREET, data).status_code == 200, event
        event, data = STEPS[-1]
        return client.fire(case["id"], event, STREET, {**data, "term_years": 4})

    assert elected(api).get_json()["errors"] == {"data.term_years": ["任期须为 3 或 5 年"]}
    assert elected(other).status_code == 200
