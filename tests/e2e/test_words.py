"""The word crawl in Chromium: every demo user signs in and visits every page reachable from the navigation and
the case pages, on a desktop (1366×768) and on a phone (390×844); what the browser renders (``innerText`` with
every 办理 panel opened, and the ``title``, ``placeholder``, ``aria-label`` and ``alt`` people read) holds no
ASCII word outside the allow-list ``tests/api/test_ui_words.py`` uses, and no page scrolls sideways at 390 px.
The sign-in page and the worker's pages linked from it are crawled without an account."""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask

from tests.api.test_ui_words import DEMO_USERS, NOT_CRAWLED, allowed_on, crawl_start, english_in, lived_in
from tests.conftest import Api
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser
DESKTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
FILES = (".pdf", ".csv", ".xlsx")   # downloads: their words are checked by the documents' and exports' tests
SAME_PAGE_WITH_OTHER_VALUES = 3     # /admin/calendar?year=… : a few years tell what every year shows
# What a person reads on the page, how wide it is, and where its links lead.
READ = """() => {
  document.querySelectorAll('details').forEach((panel) => { panel.open = true; });
  const shown = [...document.querySelectorAll('[title], [placeholder], [aria-label], img[alt]')].flatMap(
    (element) => ['title', 'placeholder', 'aria-label', 'alt'].map((name) => element.getAttribute(name) || ''));
  return {text: [document.title, document.body.innerText, ...shown].join('\\n'),
          sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          links: [...document.querySelectorAll('a[href^="/"]')].map((link) => link.getAttribute('href'))};
}"""


def shape(path: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(path)
    return parts.path, tuple(sorted(name for name, _ in parse_qsl(parts.query)))


def crawl(page: Any, start: list[str], typed: set[str], who: str) -> tuple[int, list[str]]:
    """Visit every page reachable from ``start``, at both widths: the number visited and the faults."""
    queue, seen, shapes, faults = deque(start), set(), {}, []
    while queue:
        path = queue.popleft().split("#", 1)[0]
        if path in seen or any(path.startswith(prefix) for prefix in NOT_CRAWLED) or path.endswith(FILES):
            continue
        seen.add(path)
        if shapes.setdefault(shape(path), 0) >= SAME_PAGE_WITH_OTHER_VALUES:
            continue
        shapes[shape(path)] += 1
        page.set_viewport_size(DESKTOP)
        response = page.goto(path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        desktop = page.evaluate(READ)
        page.set_viewport_size(PHONE)
        phone = page.evaluate(READ)
        allowed = allowed_on(path, typed)
        words = sorted(set(english_in(desktop["text"], allowed)) | set(english_in(phone["text"], allowed)))
        faults += [f"{who} {path}: {word}" for word in words]
        if phone["sideways"] > 0:
            faults.append(f"{who} {path}: {phone['sideways']} px wider than a 390 px phone")
        queue.extend(desktop["links"])
    return len(seen), faults


def test_every_page_as_every_demo_user_reads_in_chinese_on_a_desktop_and_a_phone(chromium: Any, fresh: Flask,
                                                                                  live_server: str,
                                                                                  api: Api) -> None:
    lived_in(fresh, api)
    start, typed = crawl_start(fresh)
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", base_url=live_server)
    crawled, faults = 0, []
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        visited, found = crawl(page, ["/login", "/public/"], set(), "(no account)")
        crawled, faults = crawled + visited, faults + found
        for username in DEMO_USERS:   # one context: each user signs in where the last signed out
            context.clear_cookies()
            page.set_viewport_size(DESKTOP)
            sign_in(page, username)
            visited, found = crawl(page, start, typed, username)
            crawled, faults = crawled + visited, faults + found
    finally:
        context.close()
    assert not faults, "\n".join(faults)
    assert crawled > 100
