"""The web pages without a browser: administration, the dashboard's exports, CSRF, the counter's resubmission."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.ui_support import visible_text
from tests.conftest import Api, mediation_data


def signed_in(fresh: Flask, username: str) -> tuple[FlaskClient, str]:
    client = fresh.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"csrf_token": csrf, "username": username, "password": "demo"})
    assert response.status_code == 302
    page = client.get("/worklist").get_data(as_text=True)   # signing in issues a fresh CSRF token
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_form_without_the_csrf_token_is_refused(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "city_admin")
    assert client.post("/admin/users", data={"username": "x"}).status_code == 400


def test_an_administrator_creates_a_user_and_manages_tokens(fresh: Flask, api: Api) -> None:
    client, csrf = signed_in(fresh, "city_admin")
    client.post("/admin/users", data={"csrf_token": csrf, "username": "songmen_clerk", "org": "songmen",
                                      "roles": ["clerk"], "password": "songmen-window-7"})
    assert "用户已创建" in client.get("/admin").get_data(as_text=True)
    assert api.client.post("/api/v1/auth/token", json={"username": "songmen_clerk",
                                                        "password": "songmen-window-7"}).status_code == 200
    client.post("/admin/users", data={"csrf_token": csrf, "username": "bad name!", "org": "nowhere",
                                      "roles": [], "password": "x"})
    page = client.get("/admin").get_data(as_text=True)
    assert "未知的组织" in page and "密码至少 12 个字符" in page
    client.post("/admin/tokens", data={"csrf_token": csrf, "username": "counter_chengbei", "label": "窗口 9"})
    token = re.search(r'id="issued-token">([^<]+)<', client.get("/admin").get_data(as_text=True))
    assert token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 200
    token_id = re.search(r'窗口 9</td>.*?/admin/tokens/(\d+)/revoke', client.get("/admin").get_data(as_text=True),
                         re.DOTALL).group(1)  # type: ignore[union-attr]
    client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert api.client.get("/api/v1/worklist", headers=headers).status_code == 401


def test_faults_on_the_administration_pages_are_named_in_chinese(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "city_admin")
    client.post("/admin/users", data={"csrf_token": csrf, "username": "nobody_new", "org": "",
                                      "roles": ["clerk"], "password": "songmen-window-7"})
    assert "单位：请选择单位" in visible_text(client.get("/admin").get_data(as_text=True))
    client.post("/admin/users/change", data={"csrf_token": csrf, "username": "nobody", "org": "songmen"})
    text = visible_text(client.get("/admin").get_data(as_text=True))
    assert "用户名：没有用户 nobody" in text and "username" not in text
    page = client.post("/admin/definitions/mediation_case/migrate", data={
        "csrf_token": csrf, "from_version": "1", "to_version": "1", "action": "preview"}).get_data(as_text=True)
    assert "新版本：只能迁移到更新的版本" in visible_text(page) and "to_version" not in visible_text(page)


def test_an_administrator_marks_a_holiday_schedule_on_the_month_grid(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "city_admin")
    page = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "放假安排 · 2027 年" in page and "尚未载入" in page
    assert page.count('<select name="d-2027-') == 365
    form = {"csrf_token": csrf, "year": "2027", "d-2027-01-01": "holiday", "d-2027-02-08": "holiday",
            "d-2027-02-14": "workday", "d-2027-03-01": ""}
    client.post("/admin/calendar", data=form)
    page = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "2027 年放假安排已载入：2 天休、1 天调休上班" in page
    assert re.search(r'data-day="2027-02-14">.*?value="workday" selected', page, re.S)
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        assert not working_days.is_workday(date(2027, 2, 8)) and working_days.is_workday(date(2027, 2, 14))
        working_days.unload()
    client.post("/admin/calendar", data={"csrf_token": csrf, "year": "2027", "d-2027-02-14": "workday"})
    assert "请至少标出一天法定节假日" in client.get("/admin/calendar?year=2027").get_data(as_text=True)
    # a year of the built-in official schedule shows its days
    page = client.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert re.search(r'data-day="2026-10-01">.*?value="holiday" selected', page, re.S)
    assert "在月历上标注放假安排" in client.get("/admin").get_data(as_text=True)


def test_non_administrators_get_403_pages(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "chengdong_clerk")
    assert client.get("/admin").status_code == 403
    assert client.get("/counter").status_code == 403


def test_the_dashboard_shows_and_exports_each_report(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    client, _ = signed_in(fresh, "city_admin")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "调处结案率" in page and "劳动人事争议调解" in page and "职工医疗互助报销" in page
    assert re.search(r'id="report-mediation_case".*?<td>城东街道总工会</td>\s*<td>1<meter', page, re.S)
    exported = client.get("/dashboard/mediation_case.csv?period=year&year=2026").get_data(as_text=True)
    lines = exported.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("单位,来访登记,受理,涉及金额（元）")
    assert "城东街道总工会,1,1,12000.50,0,0,0.0%," in exported
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(client.get("/dashboard/mediation_case.xlsx").data)).active
    assert sheet.title == "劳动人事争议调解" and sheet["A1"].value == "劳动人事争议调解统计（2026年，温岭市总工会）"
    enterprise, _ = signed_in(fresh, "ent_clerk")
    assert enterprise.get("/dashboard").status_code == 403


@pytest.mark.parametrize("field", ["member.name", "hospital"])
def test_the_counter_form_shows_errors_beside_the_fields(fresh: Flask, field: str) -> None:
    client, csrf = signed_in(fresh, "counter_chengbei")
    page = client.post("/counter", data={"csrf_token": csrf, "submission": "s1"}).get_data(as_text=True)
    assert re.search(rf'data-field="{re.escape(field)}">.*?此项为必填项', page, re.S)


def claim_form(csrf: str, submission: str) -> dict[str, Any]:
    return {"csrf_token": csrf, "submission": submission, "member.name": "张三",
            "member.id_number": "331081199805201237", "claim_type": "inpatient", "hospital": "温岭市第一人民医院",
            "admitted_on": "2026-11-01", "discharged_on": "2026-11-10", "total_cost": "20000.00",
            "insurance_paid": "12000.00", "eligible_self_pay": "5000.00", "invoices": "33100001,20000.00",
            "documents": ["id_card"], "bank_account": "6222021207001234567"}


def test_a_counter_form_sent_twice_creates_one_claim(fresh: Flask, api: Api) -> None:
    client, csrf = signed_in(fresh, "counter_chengbei")
    first = client.post("/counter", data=claim_form(csrf, "once"))
    again = client.post("/counter", data=claim_form(csrf, "once"))
    assert first.status_code == again.status_code == 302 and first.location == again.location
    receipt = client.get(first.location).get_data(as_text=True)
    assert "一次性告知" in receipt and "3310**********1237" in receipt
    assert api.get("/cases?definition=medical_aid_claim", "city_admin").get_json()["total"] == 1


def test_a_filtered_worklist_finds_the_cases_beyond_the_first_page_of_the_whole(fresh: Flask, api: Api) -> None:
    """The filters are part of the worklist's query: 200 earlier cases of another kind, state or unit do not
    hide a matching one (the page shows the first ``WORKLIST_LIMIT`` = 200)."""
    import sqlalchemy as sa

    from api.auth import Principal
    from api.cases import OpenRequest, open_case
    from api.extensions import db
    from api.models import User
    from api.present import engine

    assert fresh.config["WORKLIST_LIMIT"] == 200
    with fresh.app_context():
        clerk = Principal.of(db.session.scalar(sa.select(User).where(User.username == "chengdong_clerk")))
        for number in range(200):   # due in 3 working days, at the top of every worklist in scope
            open_case(db.session, engine(), clerk, OpenRequest(
                "mediation_case", None, mediation_data(claims=f"第{number}件")), fresh.config["CLOCK"]())
        db.session.commit()
    elsewhere = api.open_case("daxi_clerk", "mediation_case", mediation_data(claims="大溪的一件"))
    report = api.open_case("chengdong_clerk", "worker_report", {
        "employer": "温岭市东海鞋业有限公司", "category": "overtime_pay", "description": "加班费未支付"})
    client, _ = signed_in(fresh, "city_clerk")
    everything = client.get("/worklist").get_data(as_text=True)
    assert everything.count(" data-case=") == 200
    assert elsewhere["number"] not in everything and report["number"] not in everything
    for query, found, hidden in [("unit=daxi", elsewhere, report), ("definition=worker_report", report, elsewhere),
                                 ("state=reported", report, elsewhere),
                                 ("definition=mediation_case&unit=daxi", elsewhere, report)]:
        page = client.get(f"/worklist?{query}").get_data(as_text=True)
        assert found["number"] in page and hidden["number"] not in page, query
    assert client.get("/worklist?unit=nowhere").get_data(as_text=True).count(" data-case=") == 0
