"""Helpers for the tests of the web pages: signing in, reading a page's visible text by field and by form."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def signed_in(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": csrf, "username": username, "password": "demo"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, csrf_of(client.get("/worklist").get_data(as_text=True))


class PageText(HTMLParser):
    """The text a person reads: outside <script>/<style>, with the text of each form field (``data-field``)
    by its form's action, each field's error text, and the words shown in attributes people read."""

    SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "value")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, bool]] = []   # (tag, field name, is the error box)
        self.action: str | None = None
        self.skip = 0
        self.text: list[str] = []
        self.fields: dict[tuple[str | None, str], list[str]] = {}
        self.errors: dict[tuple[str | None, str], list[str]] = {}
        self.ids: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.ids[attributes["id"]] = {"tag": tag, **attributes}
        if tag == "form":
            self.action = attributes.get("action")
        if tag in ("script", "style"):
            self.skip += 1
        for name in self.SHOWN_ATTRIBUTES:
            if attributes.get(name) and not (name == "value" and attributes.get("type") in (
                    "hidden", "checkbox", "radio", "password")) and not (name == "value" and tag == "option"):
                self.text.append(attributes[name])
        if tag in VOID:
            return
        field = attributes.get("data-field")
        self.stack.append((tag, field, "error" in attributes.get("class", "").split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1
        if tag == "form":
            self.action = None
        while self.stack:
            top = self.stack.pop()
            if top[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.text.append(data)
        fields = [field for _, field, _ in self.stack if field]
        if fields:
            key = (self.action, fields[-1])
            self.fields.setdefault(key, []).append(data)
            if any(is_error for _, _, is_error in self.stack):
                self.errors.setdefault(key, []).append(data)


def read(page: str) -> PageText:
    parser = PageText()
    parser.feed(page)
    parser.close()
    return parser


def error_text(page: str, field: str, action: str | None = None) -> str:
    parsed = read(page)
    return " ".join(" ".join(parts) for (form, name), parts in parsed.errors.items()
                    if name == field and (action is None or form == action))


def visible_text(page: str) -> str:
    return " ".join(read(page).text)


def form_values(described: list[Any], data: dict[str, Any]) -> dict[str, Any]:
    """Good JSON data as the web form sends it (the reverse of ``api.forms.parse``)."""
    values: dict[str, Any] = {}
    for spec in described:
        value: Any = data
        for part in spec.name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if spec.kind == "checkbox":
            if value:
                values[spec.name] = "on"
        elif spec.kind == "checkboxes":
            values[spec.name] = list(value)
        elif spec.kind == "lines":
            values[spec.name] = "\n".join(value)
        elif spec.kind == "records":
            values[spec.name] = "\n".join(",".join(str(item.get(column, "")) for column in spec.columns)
                                          for item in value)
        else:
            values[spec.name] = str(value)
    return values
