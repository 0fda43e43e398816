"""Medical mutual-aid claims at the "最多跑一次" counter: check, submit once, supplement, review, pay."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.models_medical import AccessRecord
from tests.conftest import Api, FrozenClock, shanghai
from tests.integration.test_deadlines import sweep
from workflow.rules.medical_aid_claim import SchemeYear, compute_amount

COUNTER = "counter_chengbei"
ALL_DOCUMENTS = ["id_card", "bank_card", "invoice", "itemized_bill", "insurance_settlement", "discharge_summary"]


def claim(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "member": {"name": "张三", "id_number": "331081199805201237"}, "employer": "温岭市东海鞋业有限公司",
        "claim_type": "inpatient", "hospital": "温岭市第一人民医院", "admitted_on": "2026-11-01",
        "discharged_on": "2026-11-10", "total_cost": "20000.00", "insurance_paid": "12000.00",
        "eligible_self_pay": "5000.00", "invoices": [{"number": "33100001", "amount": "20000.00"}],
        "documents": list(ALL_DOCUMENTS), "bank_account": "6222021207001234567",
    }
    data.update(overrides)
    return data


def submit(api: Api, data: dict[str, Any], key: str = "window-1") -> Any:
    return api.post("/counters/claims", COUNTER, data, headers={"Idempotency-Key": key})


def test_a_complete_claim_goes_from_the_counter_to_payment(api: Api, clock: FrozenClock) -> None:
    checked = api.post("/counters/claims/check", COUNTER, claim()).get_json()
    assert checked == {"complete": True, "missing": [], "notice": "材料齐全，已受理。"}
    response = submit(api, claim())
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["state"] == "accepted" and receipt["number"] == "YL-2026-000001"
    assert receipt["org_unit"] == "chengbei" and receipt["data"]["amount_computed"] == "2000.00"
    assert receipt["due_at"] == "2026-12-02T00:00:00+08:00"  # 5 working days from Tue 2026-11-24
    case_id = receipt["id"]
    assert api.fire(case_id, "start_review", "chengbei_reviewer").status_code == 200
    assert api.fire(case_id, "approve", "chengbei_reviewer").status_code == 403  # the city approves
    approved = api.fire(case_id, "approve", "city_admin")
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["data"]["approved_amount"] == "2000.00"
    assert "起付线 1000.00" in body["data"]["amount_explanation"]
    paid = api.fire(case_id, "pay", "city_admin", {"payment_ref": "ZF20261130001", "paid_on": "2026-11-30"})
    assert paid.get_json()["state"] == "paid" and paid.get_json()["closed"]
    status = api.client.get(f"/api/v1/counters/claims/{receipt['number']}?id_last6=201237").get_json()
    assert (status["state_label"], status["amount_approved"], status["member"]) == ("已拨付", "2000.00", "张*")


def test_an_incomplete_claim_gets_one_notice_then_is_supplemented_without_another_visit(
        fresh: Flask, api: Api) -> None:
    data = claim(documents=["id_card", "invoice"])
    checked = api.post("/counters/claims/check", COUNTER, data).get_json()
    assert not checked["complete"]
    assert [item["code"] for item in checked["missing"]] == ["bank_card", "itemized_bill", "insurance_settlement",
                                                             "discharge_summary"]
    assert "银行卡" in checked["notice"] and "无需再到窗口" in checked["notice"]
    receipt = submit(api, data).get_json()
    assert receipt["state"] == "awaiting_documents" and len(receipt["missing"]) == 4
    assert receipt["due_at"] == "2026-12-25T00:00:00+08:00"  # 30 days to supplement
    page = api.client.get(receipt["notice_url"], headers=api.headers(COUNTER))
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert "一次性告知书" in html and receipt["number"] in html and "出院小结" in html
    assert "documents.css" in html and "<style" not in html and "onclick" not in html  # print CSS, strict CSP
    assert "2026年12月24日" in html and "城北街道总工会" in html  # the deadline as a date, the issuing body
    partial = api.fire(receipt["id"], "supplement", COUNTER, {"documents": ["bank_card", "itemized_bill"]})
    assert partial.status_code == 200 and partial.get_json()["state"] == "awaiting_documents"
    status = api.client.get(f"/api/v1/counters/claims/{receipt['number']}?id_last6=201237").get_json()
    assert [item["code"] for item in status["missing"]] == ["insurance_settlement", "discharge_summary"]
    complete = api.fire(receipt["id"], "supplement", "ent_clerk", {"documents": ["insurance_settlement",
                                                                                "discharge_summary"]})
    assert complete.status_code == 404  # the enterprise union of another street cannot see a chengbei claim
    complete = api.fire(receipt["id"], "supplement", COUNTER, {"documents": ["insurance_settlement",
                                                                            "discharge_summary"]})
    assert complete.get_json()["state"] == "accepted"


def test_a_claim_never_supplemented_lapses_after_30_days(fresh: Flask, api: Api) -> None:
    receipt = submit(api, claim(documents=["id_card"])).get_json()
    fired = sweep(fresh, shanghai(2026, 12, 25, 0, 0))
    assert [item.result for item in fired if item.action == "lapse"] == ["fired lapse"]
    body = api.get(f"/cases/{receipt['id']}", COUNTER).get_json()
    assert body["state"] == "lapsed" and body["closed"]


def test_an_unreviewed_claim_escalates_to_the_city(fresh: Flask, api: Api) -> None:
    receipt = submit(api, claim()).get_json()
    fired = sweep(fresh, shanghai(2026, 12, 2, 0, 0))
    assert [item.result for item in fired if item.action == "escalate"] == ["escalated to wenling"]
    body = api.get(f"/cases/{receipt['id']}", "city_admin").get_json()
    assert (body["level"], body["state"]) == ("city", "accepted")
    assert "start_review" in body["allowed_events"]


def test_waiting_for_documents_pauses_the_review_clock(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    receipt = submit(api, claim()).get_json()
    assert receipt["due_at"] == "2026-12-02T00:00:00+08:00"
    clock.set(shanghai(2026, 11, 25, 0, 0))  # one day of the promise used
    asked = api.fire(receipt["id"], "request_documents", "chengbei_reviewer",
                     {"documents_required": ["discharge_summary"], "reason": "出院小结不清晰"}).get_json()
    assert asked["state"] == "awaiting_documents"
    clock.set(shanghai(2026, 11, 30, 0, 0))  # five days later the applicant supplements
    back = api.fire(receipt["id"], "supplement", COUNTER, {"documents": ["discharge_summary"]}).get_json()
    assert back["state"] == "accepted"
    assert back["due_at"] == "2026-12-07T00:00:00+08:00"  # the 7 days that were left, from the return


@pytest.mark.parametrize(("eligible", "already", "expected"), [
    ("800.00", "0", "0.00"),               # below the deductible
    ("5000.00", "0", "2000.00"),           # (5000 − 1000) × 50 %
    ("1001.01", "0", "0.51"),              # 0.505 rounds half up
    ("70000.00", "0", "30000.00"),         # the annual cap
    ("20000.00", "25000.00", "5000.00"),   # what remains of the cap after an earlier claim
    ("20000.00", "30000.00", "0.00"),      # cap used up
])
def test_the_amount_rules(eligible: str, already: str, expected: str) -> None:
    scheme = SchemeYear(2026, Decimal("1000.00"), Decimal("0.50"), Decimal("30000.00"))
    amount = compute_amount(Decimal(eligible), scheme, Decimal(already))
    assert f"{amount.value:.2f}" == expected


def test_the_annual_cap_is_shared_by_the_claims_of_a_year(fresh: Flask, api: Api) -> None:
    first = submit(api, claim(eligible_self_pay="50000.00", total_cost="60000.00"), "k1").get_json()
    second = submit(api, claim(eligible_self_pay="31000.00", total_cost="40000.00",
                               invoices=[{"number": "33100002", "amount": "40000.00"}]), "k2").get_json()
    for case in (first, second):
        api.fire(case["id"], "start_review", "chengbei_reviewer")
    assert api.fire(first["id"], "approve", "city_admin").get_json()["data"]["approved_amount"] == "24500.00"
    assert api.fire(second["id"], "approve", "city_admin").get_json()["data"]["approved_amount"] == "5500.00"


def test_a_reviewer_adjusts_the_amount_only_with_a_reason(fresh: Flask, api: Api) -> None:
    case = submit(api, claim()).get_json()
    api.fire(case["id"], "start_review", "chengbei_reviewer")
    refused = api.fire(case["id"], "approve", "city_admin", {"amount": "1500.00"})
    assert refused.status_code == 422 and "data.reason" in refused.get_json()["errors"]
    adjusted = api.fire(case["id"], "approve", "city_admin", {"amount": "1500.00", "reason": "部分药品不属报销范围"})
    assert adjusted.get_json()["data"]["approved_amount"] == "1500.00"
    history = api.get(f"/cases/{case['id']}/history", "city_admin").get_json()
    assert history[-1]["data"]["reason"] == "部分药品不属报销范围"


def test_an_invoice_is_reimbursed_once_across_claims(api: Api) -> None:
    first = submit(api, claim(), "k1").get_json()
    again = submit(api, claim(invoices=[{"number": "33100001", "amount": "100.00"}]), "k2")
    assert again.status_code == 422
    assert any(first["number"] in message for message in again.get_json()["errors"]["data.invoices"])


def test_members_without_a_scheme_year_or_late_claims_are_refused_naming_the_rule(
        api: Api, clock: FrozenClock) -> None:
    unknown = submit(api, claim(member={"name": "王五", "id_number": "110101200001019998"}), "k1")
    assert unknown.status_code == 422 and "规则" in unknown.get_json()["errors"]["data.member"][0]
    clock.set(shanghai(2027, 6, 1, 10))
    late = submit(api, claim(), "k2")
    assert late.status_code == 422 and "180 天" in late.get_json()["errors"]["data.discharged_on"][0]


@pytest.mark.parametrize(("change", "field"), [
    ({"member": {"name": "张三", "id_number": "331081199805201230"}}, "member.id_number"),
    ({"discharged_on": "2026-10-01"}, "discharged_on"),
    ({"total_cost": "-1.00"}, "total_cost"),
    ({"total_cost": 20000.0}, "total_cost"),
    ({"eligible_self_pay": "25000.00"}, "eligible_self_pay"),
    ({"claim_type": "cosmetic"}, "claim_type"),
    ({"invoices": [{"number": "1", "amount": "1.00"}, {"number": "1", "amount": "2.00"}]}, "invoices"),
    ({"bank_account": "12ab"}, "bank_account"),
])
def test_bad_claims_are_refused_and_nothing_is_stored(api: Api, change: dict[str, Any], field: str) -> None:
    response = submit(api, claim(**change))
    assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()
    assert api.get("/cases", "city_admin").get_json()["total"] == 0


def test_dates_in_the_future_are_refused(api: Api) -> None:
    response = submit(api, claim(admitted_on="2026-11-20", discharged_on="2026-12-20"))
    assert response.status_code == 422 and "data.discharged_on" in response.get_json()["errors"]


def test_the_idempotency_key_is_required_and_a_retry_returns_the_same_claim(api: Api) -> None:
    missing = api.post("/counters/claims", COUNTER, claim())
    assert missing.status_code == 428 and missing.content_type == "application/problem+json"
    first, again = submit(api, claim(), "same"), submit(api, claim(), "same")
    assert first.status_code == again.status_code == 201 and first.get_json()["id"] == again.get_json()["id"]
    other = submit(api, claim(hospital="温岭市中医院"), "same")
    assert other.status_code == 422
    assert api.get("/cases", "city_admin").get_json()["total"] == 1


def test_only_counters_submit(api: Api) -> None:
    assert api.post("/counters/claims", "chengdong_clerk", claim(), headers={"Idempotency-Key": "x"}).status_code == 403


def test_personal_data_is_masked_except_for_the_reviewer_and_access_is_recorded(fresh: Flask, api: Api) -> None:
    case = submit(api, claim()).get_json()
    assert case["data"]["member"]["id_number"] == "3310**********1237"
    assert case["data"]["bank_account"] == "6222***********4567"
    seen = api.get(f"/cases/{case['id']}", "chengbei_reviewer").get_json()
    assert seen["data"]["member"]["id_number"] == "331081199805201237"
    with fresh.app_context():
        records = db.session.scalars(sa.select(AccessRecord)).all()
        assert [(r.case_id, r.username) for r in records] == [(case["id"], "chengbei_reviewer")]


def test_the_applicants_lookup_needs_the_last_six_characters_of_the_id_number(api: Api) -> None:
    case = submit(api, claim()).get_json()
    assert api.client.get(f"/api/v1/counters/claims/{case['number']}?id_last6=209999").status_code == 404
    assert api.client.get("/api/v1/counters/claims/YL-2026-999999?id_last6=201237").status_code == 404
    assert api.client.get(f"/api/v1/counters/claims/{case['number']}?id_last6=1237").status_code == 422
    assert api.client.get(f"/api/v1/counters/claims/{case['number']}?id_last4=1237").status_code == 422
    body = api.client.get(f"/api/v1/counters/claims/{case['number']}?id_last6=201237").get_json()
    assert body["number"] == case["number"] and "331081" not in str(body) and "201237" not in str(body)


def test_the_report_counts_claims_amounts_and_the_first_visit_rate(fresh: Flask, api: Api) -> None:
    paid = submit(api, claim(), "k1").get_json()
    submit(api, claim(documents=["id_card"], invoices=[{"number": "9", "amount": "1.00"}]), "k2")
    api.fire(paid["id"], "start_review", "chengbei_reviewer")
    api.fire(paid["id"], "approve", "city_admin")
    api.fire(paid["id"], "pay", "city_admin", {"payment_ref": "ZF1", "paid_on": "2026-11-24"})
    report = api.get("/reports/medical_aid_claim", "city_admin").get_json()
    assert report["total"] == 2 and report["by_state"] == {"paid": 1, "awaiting_documents": 1}
    assert (report["amount_claimed"], report["amount_approved"], report["amount_paid"]) == (
        "10000.00", "2000.00", "2000.00")
    assert report["first_visit_rate"] == 0.5 and report["by_type"]["inpatient"] == 2
    assert report["per_counter"][COUNTER]["claims"] == 2 and report["per_unit"] == {"chengbei": 2}
    assert report["avg_working_days_to_payment"] == 0


@pytest.mark.postgres
def test_two_identical_submissions_at_the_same_instant_create_one_claim(fresh: Flask, api: Api) -> None:
    token = api.token(COUNTER)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        client = fresh.test_client()
        barrier.wait()
        response = client.post("/api/v1/counters/claims", json=claim(),
                               headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201, 201]
    assert api.get("/cases", "city_admin").get_json()["total"] == 1


def test_members_are_imported_from_csv_and_bad_rows_are_named(fresh: Flask, api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.commands.medical import import_members

    path = tmp_path / "members.csv"
    path.write_text("\ufeff姓名,身份证号,工作单位代码,年度,已缴费,起付线,报销比例,年度封顶,申请期限天数\n"
                    "王五,110101200001019998,cd-e002,2026,是,800.00,0.60,20000.00,180\n"
                    "赵六,110101200001019990,cd-e002,2026,是,800.00,0.60,20000.00,180\n", encoding="utf-8")
    result = fresh.test_cli_runner().invoke(import_members, [str(path)])
    assert "1 scheme year(s) imported, 1 row(s) rejected" in result.output
    assert "line 3: rejected: 身份证号无效" in result.output
    response = submit(api, claim(member={"name": "王五", "id_number": "110101200001019998"}))
    assert response.get_json()["data"]["amount_computed"] == "2520.00"  # (5000 − 800) × 60 %
