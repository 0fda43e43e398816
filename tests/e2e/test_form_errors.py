"""Every form of every lifecycle in Chromium, driven by the definitions and the lifecycles' schemas: the form of a
new case (the counter's for what a window opens) and every event's form on the case page. For each field one bad
value is typed (the values ``tests/api/test_ui_errors.py`` knows per kind of field, a line of a list among them)
and the form sent; the page must show the field's Chinese message in the element its ``aria-describedby`` names,
put the focus on the first field in error and hold everything that was typed. A form sent empty shows a message
beside every required field.

A value the control cannot hold is given as a page a clerk may meet would hold it: a date as a browser without a
date picker types it (a text box), a choice as a page opened before the choice was withdrawn offers it.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.api.test_ui_errors import (
    FormUnderTest,
    add_every_role_users,
    definition_keys,
    forms_under_test,
    open_for_forms,
    put,
)
from tests.api.test_ui_words import ALLOWED, ASCII_WORD
from tests.conftest import Api
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser
NOT_TYPED = ("csrf_token", "version", "submission", "definition")

# The form's values as it sends them ({name: [values]}), and as the server sent the page back (the controls'
# defaults), with the choices each control offers (a withdrawn choice cannot be shown again).
READ_FORM = """([form, skip]) => {
  const sent = {}, shown = {}, offered = {};
  const add = (map, name, value) => { (map[name] = map[name] || []).push(value.replace(/\\r\\n/g, '\\n')); };
  for (const [name, value] of new FormData(form)) { if (!skip.includes(name)) add(sent, name, String(value)); }
  for (const element of form.elements) {
    const name = element.name;
    if (!name || skip.includes(name)) continue;
    if (element.type === 'checkbox') {
      (offered[name] = offered[name] || []).push(element.value);
      if (element.defaultChecked) add(shown, name, element.value);
    } else if (element.tagName === 'SELECT') {
      offered[name] = [...element.options].map((option) => option.value);
      const chosen = [...element.options].find((option) => option.defaultSelected) || element.options[0];
      if (chosen) add(shown, name, chosen.value);
    } else if (element.tagName === 'TEXTAREA' || element.tagName === 'INPUT') {
      add(shown, name, element.defaultValue);
    }
  }
  return {sent, shown, offered};
}"""
# Beside each of ``names``: whether the control is marked invalid and linked to its message, the message's text;
# where the focus is; and the form as the server sent it back.
ANSWER = """([form, prefix, names, skip]) => {
  const fields = {};
  for (const name of names) {
    const control = document.getElementById(prefix + '-' + name);
    const message = document.getElementById(prefix + '-' + name + '-error');
    fields[name] = {
      invalid: !!control && control.getAttribute('aria-invalid') === 'true'
        && (control.getAttribute('aria-describedby') || '').split(' ').includes(prefix + '-' + name + '-error'),
      text: message && message.checkVisibility() ? message.innerText : ''};
  }
  const first = document.querySelector('[aria-invalid=true]');
  const active = document.activeElement;
  return {fields, first: first && first.id, active: active && (active.id || active.name),
          focused: !!(first && active && (first === active || first.contains(active))),
          form: (READ_FORM)([form, skip])};
}""".replace("(READ_FORM)", f"({READ_FORM})")


def form_of(page: Any, form: FormUnderTest) -> Any:
    return page.locator(f'form[action="{form.url}"]' if form.event else "main form[method=post]").first


def as_sent(spec: Any, value: Any) -> list[str]:
    """What the form sends for the field holding ``value`` (a value of ``tests.api.ui_support.form_values``)."""
    if spec.kind == "checkbox":
        return ["on"] if value else []
    if spec.kind == "checkboxes":
        return list(value or [])
    return ["" if value is None else str(value).replace("\r\n", "\n")]


def type_value(page: Any, box: Any, prefix: str, spec: Any, value: Any) -> None:
    """Type ``value`` into the field as a clerk would; a value the control cannot hold, as explained above."""
    element = page.locator(f'[id="{prefix}-{spec.name}"]')
    if spec.kind == "checkbox":
        element.set_checked(bool(value))
    elif spec.kind == "checkboxes":
        wanted = list(value or [])
        boxes = box.locator(f'input[type=checkbox][name="{spec.name}"]')
        offered = boxes.evaluate_all("(inputs) => inputs.map((input) => input.value)")
        spare = [index for index, code in enumerate(offered) if code not in wanted]
        for code in wanted:
            if code not in offered:   # a choice withdrawn since the page was opened
                index = spare.pop()
                boxes.nth(index).evaluate("(input, code) => { input.value = code; }", code)
                offered[index] = code
        for index, code in enumerate(offered):
            boxes.nth(index).set_checked(code in wanted)
    elif spec.kind == "select":
        value = value or ""
        if value not in element.locator("option").evaluate_all("(options) => options.map((o) => o.value)"):
            element.evaluate("(select, code) => select.add(new Option(code, code))", value)
        element.select_option(value)
    elif spec.kind == "date" and value and not _is_a_date(value):
        element.evaluate("(input) => { input.type = 'text'; }")   # a browser without a date picker
        element.fill(value)
    else:
        element.fill("" if value is None else str(value))


def _is_a_date(value: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def submit(page: Any, form: FormUnderTest, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Type ``values`` into the fields that do not hold them yet and send the form: the answer's status and
    what was sent (or, when the browser's own checks stopped it, what they said)."""
    prefix = form.event or "f"
    box = form_of(page, form)
    holding = page.evaluate(READ_FORM, [box.element_handle(), list(NOT_TYPED)])["sent"]
    for spec in form.described:
        if holding.get(spec.name, []) != as_sent(spec, values.get(spec.name)):
            type_value(page, box, prefix, spec, values.get(spec.name))
    before = page.evaluate(READ_FORM, [box.element_handle(), list(NOT_TYPED)])
    # the browser's own checks would stop the form with a bubble no page can link to its field
    refused = box.evaluate("""(form) => form.noValidate ? null : [...form.elements]
        .filter((element) => element.willValidate && !element.checkValidity())
        .map((element) => element.id + ': ' + element.validationMessage)""")
    if refused:
        return -1, {"refused by the browser": refused}
    with page.expect_navigation() as navigation:
        box.locator("button[type=submit]").click()
    response = navigation.value
    return (response.status if response else 0), before["sent"]


def check_answer(page: Any, form: FormUnderTest, expected: dict[str, str], sent: dict[str, Any],
                 status: int) -> list[str]:
    """The faults of the page answering a bad form: beside each field of ``expected`` its words (or, for "",
    any message), linked to the field, in Chinese; the focus on the first field in error; what was typed."""
    where = f"{form.page} {form.event or '新建'}"
    if status != 422:
        return [f"{where} {sorted(expected)}: answered {status}, not 422 {sent if status < 0 else ''}"]
    prefix = form.event or "f"
    box = form_of(page, form)
    answer = page.evaluate(ANSWER, [box.element_handle(), prefix, list(expected), list(NOT_TYPED)])
    faults: list[str] = []
    for field, words in expected.items():
        shown = answer["fields"][field]
        if not shown["invalid"]:
            faults.append(f"{where} {field}: not marked invalid or not linked to its message by aria-describedby")
        if words not in shown["text"] or not shown["text"].strip():
            faults.append(f"{where} {field}: expected {words!r} beside the field, shown {shown['text']!r}")
        english = sorted({word for word in ASCII_WORD.findall(shown["text"]) if word not in ALLOWED})
        if english:
            faults.append(f"{where} {field}: English in the message {shown['text']!r}: {english}")
    if not answer["focused"]:
        faults.append(f"{where} {sorted(expected)}: the focus is on {answer['active']!r}, not on the first field in "
                      f"error {answer['first']!r}")
    after = answer["form"]
    for name, values in sent.items():
        offered = after["offered"].get(name)
        expected_back = [value for value in values if offered is None or value in offered]
        back = after["shown"].get(name, [])
        if back != expected_back and not (back == [""] and not expected_back):   # a list's 请选择
            faults.append(f"{where} {sorted(expected)}: {name} typed {values!r}, shown back {back!r}")
    return faults


def open_form(page: Any, form: FormUnderTest) -> str | None:
    """The form on its page (an event's opened); why not, when it is not there."""
    page.goto(form.page)
    if form.event:
        summary = page.locator(f"summary[data-event={form.event}]")
        if not summary.count():
            return f"{form.page}: no form for {form.event} in state {form.state}"
        summary.click()
    return None


@pytest.mark.parametrize("key", definition_keys())
def test_every_field_of_every_form_shows_its_error_beside_it_in_chromium(chromium: Any, fresh: Flask,
                                                                         live_server: str, api: Api,
                                                                         key: str) -> None:
    add_every_role_users(fresh)
    case = open_for_forms(api, key)
    pages: dict[str, Any] = {}
    faults: list[str] = []
    checked = 0
    try:
        for form in forms_under_test(fresh, key, case["id"]):
            if form.user not in pages:   # one signed-in page per user for all the forms it fills in
                context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                               base_url=live_server)
                pages[form.user] = context.new_page()
                pages[form.user].set_default_timeout(15000)
                sign_in(pages[form.user], form.user)
            page = pages[form.user]
            if form.state is not None:
                put(fresh, case["id"], form.state, form.unit)
            # one bad value per field; then the form sent empty: every required field says what it needs
            required = {spec.name: "" for spec in form.described if spec.required and spec.kind != "checkbox"}
            submissions = [(values, {field: words}) for field, values, words in form.bad]
            submissions += [({}, required)] if required else []
            shown = False   # whether the page holds the form (after a refusal it does, as it was sent)
            for values, expected in submissions:
                if not shown:
                    missing = open_form(page, form)
                    if missing:
                        faults.append(missing)
                        break
                status, sent = submit(page, form, values)
                checked += 1
                faults += check_answer(page, form, expected, sent, status)
                shown = status == 422
                if status not in (-1, 422) and form.state is not None:
                    put(fresh, case["id"], form.state, form.unit)
    finally:
        for page in pages.values():
            page.context.close()
    assert not faults, "\n".join(faults)
    assert checked >= 8
