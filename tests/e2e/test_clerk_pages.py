"""The clerk's pages in a browser: errors beside their fields with the focus on the first, a form kept through
an expired session, the worklist and every page at phone width without sideways scrolling, the roster upload
of a 2,000-row file with its progress bar, the holiday month grid by clicking, the 统计 page's Excel export
opened and summed."""

from __future__ import annotations

import threading
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


def focused(page: Any, element_id: str) -> bool:
    """Whether the element takes the focus: the page's script moves it once the page has loaded, which may be after
    the server's message is already there to read (waited for, up to five seconds)."""
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id,
                           timeout=5000)
    return bool(page.evaluate("document.activeElement.id") == element_id)


def test_a_wrong_id_number_is_shown_beside_its_line_and_focused(browser_page: Any) -> None:
    page = browser_page
    sign_in(page, "chengdong_clerk")
    page.goto("/new/mediation_case")
    page.fill("#f-applicants", "王小明,331081199805201230,13800000000")
    page.fill("#f-respondent\\.name", "温岭市东海鞋业有限公司")
    page.click("button:has-text('登记')")
    error = page.locator("#f-applicants-error")
    assert "第1行 身份证号：居民身份证号码无效（校验位不符）" in error.inner_text()
    assert focused(page, "f-applicants")
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
                 "/roster", "/admin", "/admin/calendar", "/admin/definitions", "/notifications", "/account/password",
                 f"/cases/{overdue['id']}/documents/receipt"):
        phone.goto(path)
        assert sideways(phone) <= 0, path


def test_a_city_clerk_uploads_a_2000_row_roster_and_watches_its_progress(browser_page: Any, fresh: Flask,
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server (a thread of this process) holds the import when 1,000 rows are read, until the page's bar
    has shown it: the bar is the job's progress, polled while the upload's request runs."""
    from api import roster_jobs

    monkeypatch.setitem(fresh.config, "ROSTER_PROGRESS_EVERY", 250)
    reached, proceed = threading.Event(), threading.Event()
    record = roster_jobs.JobProgress.__call__

    def held(self: Any, progress: Any) -> None:
        record(self, progress)
        if progress.read == 1000:
            reached.set()
            proceed.wait(60)

    monkeypatch.setattr(roster_jobs.JobProgress, "__call__", held)
    page = browser_page
    sign_in(page, "city_admin")
    page.click("text=名单导入")
    roster = write(2000, tmp_path / "名单.csv")
    with roster.open("a", encoding="utf-8") as handle:   # and three rows the import rejects
        handle.write("91331081000000000X,坏代码有限公司,城东街道,机电,30,2010-01-01,否,,\n"
                     "91331081865797549P,缺人数有限公司,城东街道,机电,,2010-01-01,否,,\n"
                     "91331081030824625M,外地有限公司,火星镇,机电,30,2010-01-01,否,,\n")
    page.set_input_files("#roster-file", str(roster))
    page.click("button:has-text('导入')")
    try:
        page.wait_for_selector("#roster-progress-text:has-text('已读取 1,000 / 2,003 行')", timeout=60000)
        assert reached.is_set()
        assert page.evaluate("[document.getElementById('roster-bar').value, document.getElementById('roster-bar').max]"
                             ) == [1000, 2003]
        assert "接受 1,000 行，未导入 0 行" in page.locator("#roster-progress-text").inner_text()
        screenshot(page, "roster-progress")
    finally:
        proceed.set()
    page.wait_for_selector("#roster-result", timeout=120000)
    assert "/roster/imports/" in page.url
    assert page.locator("#r-rows").inner_text() == "2003" and page.locator("#r-rejected").inner_text() == "3"
    assert int(page.locator("#r-opened").inner_text()) > 100
    assert "未知的镇街“火星镇”" in page.locator("#rejected").inner_text()
    screenshot(page, "roster")
    page.click("text=查看应建会单位")
    first = page.locator("#employers tr").nth(1)
    assert "-2026-" in first.inner_text()
    screenshot(page, "employers", full_page=False)


def test_a_roster_that_cannot_be_read_is_refused_beside_the_form(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    sign_in(page, "chengdong_clerk")
    page.goto("/roster")
    wrong = tmp_path / "名单.csv"
    wrong.write_text("名称,电话\n甲,1\n", encoding="utf-8")
    page.set_input_files("#roster-file", str(wrong))
    page.click("button:has-text('导入')")
    page.wait_for_selector("#roster-problem")
    assert "缺少表头" in page.locator("#roster-problem").inner_text()
    assert focused(page, "roster-problem")
    page.set_input_files("#roster-file", str(write(3, tmp_path / "好名单.csv")))   # and the form works again
    page.click("button:has-text('导入')")
    page.wait_for_selector("#roster-result")


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
    page.goto("/admin/calendar?year=2027")
    screenshot(page, "calendar")
    with fresh.app_context():
        working_days = fresh.extensions["gonghui.engine"].calendar

        working_days.unload()


def test_the_statistics_excel_export_is_downloaded_and_sums_like_the_report(browser_page: Any, api: Api,
                                                                             tmp_path: Path) -> None:
    from openpyxl import load_workbook

    for claims, amount in (("一", "1000.00"), ("二", "2000.00")):
        api.open_case("chengdong_mediator", "mediation_case", mediation_data(claims=claims, amount=amount))
    api.open_case("daxi_clerk", "mediation_case", mediation_data(amount="500.50"))
    page = browser_page
    sign_in(page, "city_admin")
    page.click("text=统计")
    page.select_option("#p-kind", "year")
    page.click("button:has-text('查看')")
    screenshot(page, "dashboard", full_page=False)
    with page.expect_download() as download:
        page.click("text=导出全部（Excel）")
    path = tmp_path / "统计.xlsx"
    download.value.save_as(str(path))
    sheet = load_workbook(path)["劳动人事争议调解"]
    header = [cell.value for cell in sheet[2]]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=3)]
    streets, total = rows[:-1], rows[-1]
    visitors, money = header.index("来访登记"), header.index("涉及金额（元）")
    assert sum(row[visitors] for row in streets) == total[visitors] == 3
    assert float(sum(row[money] for row in streets)) == pytest.approx(3500.50) == float(total[money])
    reported = api.get("/reports/mediation_case?from=2026-01-01&to=2026-12-31", "city_admin").get_json()
    assert total[visitors] == reported["visitors"] and f"{total[money]:.2f}" == reported["amount_involved"]
