"""axe-core (from npm, injected by Playwright) on every page of the clerk's UI finds no serious or critical
violation of WCAG 2 A/AA: contrast of 4.5:1, labelled fields, errors linked to their fields."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api, mediation_data
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ROSTER = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会,联系人,联系电话\n"
          "91331081865797549P,温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否,陈建国,0576-86123456\n"
          "91331081000000000X,坏代码有限公司,城东街道,机电,30,2010-01-01,否,,\n").encode()
PAGES = {"city_admin": ["/worklist", "/cases/{case}", "/new/mediation_case", "/dashboard", "/roster", "/employers",
                        "/employers?list=candidates", "/admin", "/admin/calendar?year=2027", "/admin/definitions",
                        "/admin/definitions/mediation_case/migrate", "/notifications", "/account/password",
                        "/cases/{case}/documents/receipt"],
         "counter_chengbei": ["/counter"], "chengdong_mediator": ["/cases/{case}"],
         "chengdong_clerk": ["/new/union_term", "/new/worker_report"]}


@pytest.fixture
def axe_page(chromium: Any, fresh: Flask, live_server: str) -> Iterator[Any]:
    if not AXE.exists():
        if os.environ.get("GONGHUI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GONGHUI_REQUIRE_BROWSER=1 but axe-core is not installed at {AXE} (make test installs it)")
        pytest.skip(f"needs axe-core at {AXE} (npm install --prefix .venv/axe axe-core)")
    # the pages forbid inline scripts (CSP); the check injects its script, so only this context bypasses it
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=live_server,
                                   bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
    return list(found)


def test_no_page_has_a_serious_accessibility_violation(axe_page: Any, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    faults: list[str] = []
    for username, paths in PAGES.items():
        axe_page.context.clear_cookies()
        sign_in(axe_page, username)
        for path in paths:
            axe_page.goto(path.format(case=case["id"]))
            faults += [f"{username} {path}: {fault}" for fault in violations(axe_page)]
    # a form with errors: the messages and their links to the fields
    axe_page.goto("/new/mediation_case")
    axe_page.click("button:has-text('登记')")
    faults += [f"errors: {fault}" for fault in violations(axe_page)]
    # an import's page, with its rejected rows (the page the roster upload ends on)
    axe_page.context.clear_cookies()
    sign_in(axe_page, "city_admin")
    axe_page.goto("/roster")
    axe_page.set_input_files("#roster-file", files=[{"name": "名单.csv", "mimeType": "text/csv", "buffer": ROSTER}])
    axe_page.click("button:has-text('导入')")
    axe_page.wait_for_selector("#roster-result")
    faults += [f"roster import: {fault}" for fault in violations(axe_page)]
    axe_page.context.clear_cookies()
    for path in ("/login", "/public/", "/public/report", "/public/report/status", "/public/claim/status"):
        axe_page.goto(path)
        faults += [f"{path}: {fault}" for fault in violations(axe_page)]
    assert not faults, "\n".join(faults)
