"""Browser tests: Debian's Chromium driven by Playwright against the app served on 127.0.0.1.

They skip with the reason when /usr/bin/chromium is missing, except where GONGHUI_REQUIRE_BROWSER=1 (CI),
where a missing browser fails them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--lang=zh-CN"]
# the browser's own words (a file field's button, a date field's placeholder) in Chinese: Debian's chromium-l10n
# has them; headless Chromium takes its language from LANGUAGE (LANG stays: it decides how file names are read)
LANGUAGE = {"LANGUAGE": "zh_CN:zh"}
OUTPUT = Path(__file__).resolve().parents[2] / "test-results"
CAPTURE_ATTEMPTS = 3


def _need_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("GONGHUI_REQUIRE_BROWSER") == "1":
        pytest.fail("GONGHUI_REQUIRE_BROWSER=1 but Debian's chromium is not installed at /usr/bin/chromium")
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium fonts-wqy-microhei)")


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, env={**os.environ, **LANGUAGE})
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any, fresh: Flask, live_server: str) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url("**/worklist")


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """The page (whole, or what the window shows) under test-results/ and docs/screenshots/ for the README."""
    from playwright.sync_api import Error as BrowserError

    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    for attempt in range(1, CAPTURE_ATTEMPTS + 1):
        try:
            page.screenshot(path=str(path), full_page=full_page)
            break
        except BrowserError as error:
            # on a busy machine Chromium now and then refuses one capture ("Unable to capture screenshot") and takes
            # the same picture when asked again; anything else, or a third refusal, fails the test
            if "Unable to capture screenshot" not in str(error) or attempt == CAPTURE_ATTEMPTS:
                raise
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / f"{name}.png").write_bytes(path.read_bytes())
    return path
