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
PAGES = {"city_admin": ["/worklist", "/cases/{case}", "/new/mediation_case", "/dashboard", "/roster", "/employers",
                        "/admin", "/admin/calendar?year=2027"],
         "counter_chengbei": ["/counter"], "chengdong_mediator": ["/cases/{case}"]}


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
    axe_page.goto("/login")
    assert not faults, "\n".join(faults)
