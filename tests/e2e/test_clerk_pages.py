"""The clerk's pages in a browser: errors beside their fields with the focus on the first, a form kept through
an expired session, the worklist and every page at phone width without sideways scrolling, the roster upload
of a 2,000-row file, the holiday month grid by clicking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bench.roster import write
from tests.conftest import Api, mediation_data, shanghai
from tests.e2e.conftest import screenshot, sign_in
from tests.integration.test_deadlines import sweep

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(chromium: Any, fresh: Flask, live_server: str) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", base_url=live_server,
                                   is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def sideways(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_a_wrong_id_number_is_shown_beside_its_line_and_focused(browser_page: Any) -> None:
    page = browser_page
    sign_in(page, "chengdong_clerk")
    page.goto("/new/mediation_case")
    page.fill("#f-applicants", "王小明,331081199805201230,13800000000")
    page.fill("#f-respondent\\.name", "温岭市东海鞋业有限公司")
    page.click("button:has-text('登记')")
    error = page.locator("#f-applicants-error")
    assert "第1行 身份证号：居民身份证号码无效（校验位不符）" in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "f-applicants"
    assert "f-applicants-error" in (page.get_attribute("#f-applicants", "aria-describedby") or "")
    assert "请更正以下内容后再提交" in page.locator("[role=alert]").first.inner_text()
    assert page.input_value("#f-applicants") == "王小明,331081199805201230,13800000000"   # nothing typed is lost


def test_an_expired_session_keeps_the_typed_event_data(browser_page: Any, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    page = browser_page
    sign_in(page, "chengdong_mediator")
    page.goto(f"/cases/{case['id']}")
    page.click("summary[data-event=accept]")
    page.fill("#accept-mediator", "李调解")
    page.context.clear_cookies()                 # the session expires while the clerk types
    page.click("form[action$='/events/accept'] button[type=submit]")
    assert "登录已过期" in page.locator(".notice").inner_text()
    page.fill("#username", "chengdong_mediator")
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    assert page.input_value("#accept-mediator") == "李调解"
    page.click("form[action$='/events/accept'] button[type=submit]")
    page.wait_for_selector("h1:has-text('调解中')")
    assert "已受理" in page.locator("[role=status]").inner_text()


def test_the_worklist_on_a_phone_keeps_the_deadline_and_nothing_scrolls_sideways(phone: Any, fresh: Flask,
                                                                                 api: Api, clock: Any) -> None:
    overdue = api.open_case("ent_clerk", "mediation_case", mediation_data())
    for moment in (shanghai(2026, 11, 28), shanghai(2026, 12, 3), shanghai(2026, 12, 9)):
        sweep(fresh, moment)   # enterprise → street → city → 督办
    clock.set(shanghai(2026, 12, 9, 9))
    api.open_case("chengdong_mediator", "mediation_case", mediation_data(claims="另一件"))
    sign_in(phone, "city_admin")
    row = phone.locator(f"tr[data-case='{overdue['id']}']")
    assert row.is_visible()
    cells = row.locator("td")
    assert "超期" in row.inner_text() and "前" in row.inner_text()
    visible = [cells.nth(index).is_visible() for index in range(cells.count())]
    assert visible[0] and visible[5] and visible[6]      # number, deadline, working days left
    screenshot(phone, "worklist-phone")
    for path in ("/worklist", f"/cases/{overdue['id']}", "/new/mediation_case", "/dashboard", "/employers",
                 "/roster", "/admin", "/admin/calendar"):
        phone.goto(path)
        assert sideways(phone) <= 0, path


def test_a_city_clerk_uploads_a_2000_row_roster(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    sign_in(page, "city_admin")
    page.click("text=名单导入")
    page.set_input_files("#roster-file", str(write(2000, tmp_path / "名单.csv")))
    page.click("button:has-text('导入')")
    page.wait_for_selector("#roster-result", timeout=120000)
    assert page.locator("#r-rows").inner_text() == "2000"
    assert int(page.locator("#r-opened").inner_text()) > 100
    page.click("text=查看应建会单位")
    first = page.locator("#employers tr").nth(1)
    assert "-2026-" in first.inner_text()


def test_the_holiday_grid_is_marked_by_clicking(browser_page: Any, fresh: Flask) -> None:
    page = browser_page
    sign_in(page, "city_admin")
    page.goto("/admin/calendar?year=2027")
    day = page.locator("td[data-day='2027-01-01']")
    day.locator(".number").click()
    assert "holiday" in (day.get_attribute("class") or "")
    page.locator("td[data-day='2027-02-14'] .number").click()
    page.locator("td[data-day='2027-02-14'] .number").click()
    assert "workday" in (page.get_attribute("td[data-day='2027-02-14']", "class") or "")
    page.click("button:has-text('载入 2027 年放假安排')")
    assert "2027 年放假安排已载入：1 天休、1 天调休上班" in page.locator("[role=status]").inner_text()
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        working_days.unload()
