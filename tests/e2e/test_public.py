"""The worker's pages on a phone (390×844): report → 查询码 → status → reopen, a claim look-up; no page scrolls
sideways; screenshots of the public pages and of a rendered receipt for the README."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.api.test_medical import COUNTER, claim, submit
from tests.conftest import Api
from tests.e2e.conftest import OUTPUT, screenshot, sign_in

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def phone(chromium: Any, fresh: Flask, live_server: str) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, locale="zh-CN", base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def no_sideways_scrolling(page: Any) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide on a {width[1]} px screen"


def test_a_worker_reports_a_problem_follows_it_and_reopens_it_on_a_phone(phone: Any, fresh: Flask) -> None:
    page = phone
    page.goto("/login")
    page.click("text=职工反映问题 / 查询办理进度")
    no_sideways_scrolling(page)
    screenshot(page, "public-index")
    page.click("a.choice[href='/public/report']")
    page.wait_for_load_state()   # the deferred script listens for typing only once the page has loaded
    page.locator("#employer").press_sequentially("东海鞋业")
    page.wait_for_function("() => document.querySelectorAll('#employer-names option').length > 0")
    assert page.locator("#employer-names option").first.get_attribute("value") == "温岭市东海鞋业有限公司"
    page.fill("#employer", "温岭市东海鞋业有限公司")
    page.select_option("#category", "overtime_pay")
    page.fill("#description", "车间连续三个月加班，未按规定支付加班费")
    page.fill("#contact", "13900001111")
    page.check("#anonymous")
    no_sideways_scrolling(page)
    screenshot(page, "public-report")
    page.click("button[type=submit]")

    number = page.locator("#report-number").inner_text()
    secret = page.locator("#report-secret").inner_text()
    assert number == "FY-2026-000001" and len(secret) >= 10
    assert page.locator(".qr svg").is_visible()
    no_sideways_scrolling(page)
    screenshot(page, "public-report-done")

    page.click("#status-link")   # what the QR code opens: both filled in
    # the 查询码 rides in the fragment and public.js fills it in once the page has loaded: wait for it
    expect(page.locator("#number")).to_have_value(number)
    expect(page.locator("#code")).to_have_value(secret)
    page.click("form.lookup button[type=submit]")
    result = page.locator("#report-result")
    assert "已反映" in result.inner_text() and "温岭市东海鞋业有限公司工会" in result.inner_text()
    assert "2026年12月1日前" in result.inner_text()

    api = Api(fresh.test_client())
    (case,) = api.get("/cases?definition=worker_report", "ent_clerk").get_json()["items"]
    for event, data in [("acknowledge", {}), ("start_handling", {}),
                        ("resolve", {"feedback": "企业已补发三个月加班费共计 12,600 元"})]:
        assert api.fire(case["id"], event, "ent_clerk", data).status_code == 200

    page.goto(f"/public/report/status?number={number}")
    page.fill("#code", secret)
    page.click("form.lookup button[type=submit]")
    assert "已办结" in page.locator(".state").inner_text()
    assert "企业已补发三个月加班费" in page.locator("#report-result").inner_text()
    no_sideways_scrolling(page)
    screenshot(page, "public-report-status")
    page.fill("#reason", "只补发了一个月，还差两个月")
    page.click("text=要求重新办理 >> nth=-1")
    assert "已要求重新办理" in page.locator(".success").inner_text()
    assert page.locator(".state").inner_text() == "处理中"
    assert api.get(f"/cases/{case['id']}", "ent_clerk").get_json()["state"] == "handling"

    page.goto(f"/public/report/status?number={number}")
    page.fill("#code", "wrong-code")
    page.click("form.lookup button[type=submit]")
    assert page.locator("#lookup-error").inner_text() == "未找到，请核对编号和查询码"


def test_a_claimant_follows_a_claim_on_a_phone(phone: Any, fresh: Flask) -> None:
    api = Api(fresh.test_client())
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    page = phone
    page.goto("/public/claim/status")
    page.fill("#number", receipt["number"])
    page.fill("#id_last6", "201237")
    page.click("form.lookup button[type=submit]")
    text = page.locator("#claim-result").inner_text()
    assert "待补正" in text and "张*" in text and "2026年12月24日" in text and "出院小结" in text
    assert "张三" not in page.content() and "331081199805201237" not in page.content()
    no_sideways_scrolling(page)
    screenshot(page, "public-claim-status")


def test_the_receipt_is_rendered_for_the_readme(browser_page: Any, fresh: Flask) -> None:
    api = Api(fresh.test_client())
    receipt = submit(api, claim(documents=["id_card", "invoice"])).get_json()
    page = browser_page
    sign_in(page, COUNTER)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        pdf = page.request.get(f"/cases/{receipt['id']}/documents/receipt.pdf")
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        OUTPUT.mkdir(exist_ok=True)
        (OUTPUT / "receipt.pdf").write_bytes(pdf.body())
        subprocess.run([pdftoppm, "-png", "-r", "80", "-singlefile", str(OUTPUT / "receipt.pdf"),
                        str(OUTPUT / "receipt")], check=True)
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / "receipt.png").write_bytes((OUTPUT / "receipt.png").read_bytes())
    else:   # no poppler here: the same template as the PDF, on screen
        page.goto(f"/cases/{receipt['id']}/documents/receipt")
        document = page.locator("#document-receipt")
        assert receipt["number"] in document.inner_text() and "城北街道总工会" in document.inner_text()
        OUTPUT.mkdir(exist_ok=True)
        document.screenshot(path=str(OUTPUT / "receipt.png"))
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / "receipt.png").write_bytes((OUTPUT / "receipt.png").read_bytes())
    page.goto(f"/cases/{receipt['id']}")
    assert page.locator("a[data-pdf=receipt]").is_visible() and page.locator("a[data-pdf=notice]").is_visible()
