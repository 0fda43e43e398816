"""The clerk's pages in a real browser: sign-in, a mediation case by mouse, errors in Chinese, the overdue
case first, the counter's one-time notice, scope."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api, mediation_data, shanghai
from tests.e2e.conftest import screenshot, sign_in
from tests.integration.test_deadlines import sweep

pytestmark = pytest.mark.browser


def test_a_clerk_signs_in_and_sees_the_worklist(browser_page: Any) -> None:
    sign_in(browser_page, "chengdong_clerk")
    assert browser_page.locator("h1").inner_text() == "我的待办"
    assert "chengdong_clerk" in browser_page.locator("header").inner_text()


def test_a_wrong_password_is_refused_in_chinese(browser_page: Any) -> None:
    browser_page.goto("/login")
    browser_page.fill("#username", "chengdong_clerk")
    browser_page.fill("#password", "wrong")
    browser_page.click("button[type=submit]")
    assert "用户名或密码错误" in browser_page.locator(".alert").inner_text()


def test_a_mediation_case_is_registered_accepted_agreed_and_closed_by_clicking(browser_page: Any) -> None:
    page = browser_page
    sign_in(page, "chengdong_clerk")
    page.click("text=新建劳动人事争议调解")
    page.fill("#f-applicants", "王小明,331081199805201237,13800000000\n李红,,13900000000")
    page.fill("#f-respondent\\.name", "温岭市东海鞋业有限公司")
    page.select_option("#f-dispute_type", "wages")
    page.fill("#f-claims", "支付拖欠的三个月工资")
    page.fill("#f-amount", "12000.50")
    page.select_option("#f-channel", "visit")
    page.click("button:has-text('登记')")
    page.wait_for_url("**/cases/*")
    assert "已登记" in page.locator("h1").inner_text()

    page.click("summary[data-event=accept]")
    page.click("form[action$='/events/accept'] button[type=submit]")   # the mediator is missing
    assert "此项为必填项" in page.locator("form[action$='/events/accept'] .error").inner_text()

    page.fill("#accept-mediator", "李调解")
    page.click("form[action$='/events/accept'] button[type=submit]")
    page.wait_for_selector("h1:has-text('调解中')")
    page.click("summary[data-event=agree]")
    page.fill("#agree-agreement\\.terms", "分两期支付")
    page.fill("#agree-agreement\\.amount", "8000.00")
    page.fill("#agree-agreement\\.perform_by", "2026-12-31")
    page.click("form[action$='/events/agree'] button[type=submit]")
    page.wait_for_selector("h1:has-text('已达成协议')")
    screenshot(page, "case")
    page.click("summary[data-event=fulfil]")
    page.click("form[action$='/events/fulfil'] button[type=submit]")
    page.wait_for_selector("h1:has-text('已结案')")
    timeline = page.locator(".timeline").inner_text()
    for step in ("登记", "受理", "达成协议", "履行完毕"):
        assert step in timeline
    assert page.locator(".diagram svg").count() == 1


def test_an_overdue_case_heads_the_worklist_after_a_sweep(browser_page: Any, fresh: Flask, api: Api,
                                                         clock: Any) -> None:
    overdue = api.open_case("ent_clerk", "mediation_case", mediation_data())
    for moment in (shanghai(2026, 11, 28), shanghai(2026, 12, 3), shanghai(2026, 12, 9)):
        sweep(fresh, moment)   # enterprise → street → city → 督办
    clock.set(shanghai(2026, 12, 9, 9))
    api.open_case("chengdong_mediator", "mediation_case", mediation_data(claims="另一件"))
    sign_in(browser_page, "city_admin")
    first = browser_page.locator("table.list tr[data-case]").first
    assert first.get_attribute("data-case") == str(overdue["id"])
    assert "overdue" in (first.get_attribute("class") or "")
    assert "超期" in first.inner_text()
    screenshot(browser_page, "worklist")


def test_a_counter_claim_with_a_missing_document_shows_the_notice(browser_page: Any) -> None:
    page = browser_page
    sign_in(page, "counter_chengbei")
    page.click("text=窗口受理")
    page.fill("#f-member\\.name", "张三")
    page.fill("#f-member\\.id_number", "331081199805201237")
    page.select_option("#f-claim_type", "inpatient")
    page.fill("#f-hospital", "温岭市第一人民医院")
    page.fill("#f-admitted_on", "2026-11-01")
    page.fill("#f-discharged_on", "2026-11-10")
    page.fill("#f-total_cost", "20000.00")
    page.fill("#f-insurance_paid", "12000.00")
    page.fill("#f-eligible_self_pay", "5000.00")
    page.fill("#f-invoices", "33100001,20000.00")
    for code in ("id_card", "bank_card", "invoice"):
        page.check(f"input[name=documents][value={code}]")
    page.fill("#f-bank_account", "6222021207001234567")
    page.click("button:has-text('受理')")
    page.wait_for_selector("#claim-number")
    notice = page.locator("#document-notice").inner_text()
    assert "一次性告知" in notice and "出院小结" in notice and "无需再到窗口" in notice
    assert "城北街道总工会" in notice and "2026年12月24日" in notice   # the issuing body, the deadline as a date
    assert page.locator("#claim-number").inner_text().startswith("YL-2026-")
    pdf = page.request.get(page.get_attribute("#pdf-notice", "href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    page.click("text=打开一次性告知书（可打印）")
    assert "沿此线撕下" in page.locator("#document-notice").inner_text()   # a page, not JSON


def test_a_clerk_of_another_street_gets_the_not_found_page(browser_page: Any, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    sign_in(browser_page, "daxi_clerk")
    response = browser_page.goto(f"/cases/{case['id']}")
    assert response.status == 404
    assert "找不到" in browser_page.locator("h1").inner_text()
