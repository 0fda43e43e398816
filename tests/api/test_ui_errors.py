"""Every fault a clerk makes is shown beside its field, in Chinese, naming the line of a list; faults no field
owns at the top; an expired session or a case someone else moved keeps what was typed."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from marshmallow import ValidationError, fields, validate

from tests.api.test_medical import claim
from tests.api.ui_support import csrf_of, error_text, form_values, signed_in, visible_text
from tests.conftest import Api, mediation_data

USCC_A, USCC_B, USCC_C = "91331081865797549P", "91331081030824625M", "91331081181590838Q"
OPEN_DATA: dict[str, Any] = {
    "mediation_case": mediation_data(applicants=[
        {"name": "王小明", "id_number": "331081199805201237", "phone": "13800000000"}]),
    "medical_aid_claim": claim(),
    "union_formation": {"kind": "joint", "enterprise": {"uscc": USCC_A, "name": "温岭市川创机电有限公司",
                                                        "insured_staff": 30, "founded_on": "2004-06-26",
                                                        "street": "城东街道"},
                        "members": [USCC_B, USCC_C], "source": "manual"},
    "worker_report": {"employer": "温岭市东海鞋业有限公司", "employer_uscc": "91331081158813992N",
                      "street": "城东街道", "category": "safety", "description": "车间消防通道被堵",
                      "contact": "13900001111", "channel": "operator"},
    "union_term": {"union_unit": "cd-e001", "uscc": "91331081158813992N", "name": "温岭市东海鞋业有限公司工会",
                   "chair": "陈建国", "committee": ["陈建国", "王志强"], "term_start": "2022-03-01", "term_years": 5,
                   "source": "manual"},
}
SAMPLE = {"uscc": USCC_A, "id_number": "331081199805201237", "phone": "13800000000",
          "bank_account": "6222021207001234567", "members": [USCC_B, USCC_C], "employer_uscc": USCC_A}
EVERY_ROLE = ["admin", "clerk", "mediator", "reviewer", "counter"]
DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


def good_value(spec: Any) -> Any:
    last = spec.name.rsplit(".", 1)[-1]
    if last in SAMPLE:
        return SAMPLE[last]
    return {"money": "100.00", "number": 5, "date": "2026-11-20", "select": spec.choices[0][0] if spec.choices else "",
            "checkboxes": [spec.choices[0][0]] if spec.choices else [], "lines": ["张三"], "checkbox": True,
            }.get(spec.kind, "测试内容")


def good_data(described: list[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in described:
        target = data
        *outer, last = spec.name.split(".")
        for part in outer:
            target = target.setdefault(part, {})
        target[last] = good_value(spec)
    return data


def schema_field(schema: Any, dotted: str) -> fields.Field:
    found: Any = None
    for part in dotted.split("."):
        found = schema.fields[part]
        if isinstance(found, fields.Nested):
            schema = found.schema
    return found


def refusal(field: fields.Field, value: Any) -> str | None:
    try:
        field.deserialize(value)
    except ValidationError as error:
        messages = error.messages
        while isinstance(messages, dict | list):
            messages = next(iter(messages.values())) if isinstance(messages, dict) else messages[0]
        return str(messages)
    return None


def bad_scalar(field: fields.Field, kind: str) -> tuple[str, str] | None:
    """A value the field refuses, and the message it gives."""
    candidates = [{"money": "abc", "number": "1.5", "date": "2026-02-30", "select": "bogus",
                   "checkboxes": "bogus"}.get(kind, "无效")]
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max:
            candidates.insert(0, "字" * (validator.max + 1))
    for candidate in candidates:
        message = refusal(field, candidate)
        if message is not None:
            return candidate, message
    return None


def bad_cases(schema: Any, described: list[Any], good: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(field, the form with one bad value in that field, the words expected beside it) for each field."""
    from api.ui.errors import worded

    base = form_values(described, good)
    cases: list[tuple[str, dict[str, Any], str]] = []
    for spec in described:
        if spec.kind == "checkbox":
            continue   # a tick box cannot hold a bad value
        field = schema_field(schema, spec.name)
        if spec.kind == "records":
            cases.extend(_bad_records(spec, field.inner.schema, dict(base), good))  # type: ignore[attr-defined]
        elif spec.kind in ("lines", "checkboxes"):
            cases.append(_bad_line(spec, field.inner, dict(base)))  # type: ignore[attr-defined]
        else:
            found = bad_scalar(field, spec.kind)
            if found is None:
                assert spec.required, f"{spec.name}: no value is refused and it is optional"
                form = dict(base)
                form.pop(spec.name, None)
                cases.append((spec.name, form, "此项为必填项"))
            else:
                cases.append((spec.name, {**base, spec.name: found[0]}, worded(found[1], spec)))
    return cases


def _bad_records(spec: Any, inner: Any, form: dict[str, Any],
                 good: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """A second line with one bad column, for each column; and one without each value the records require."""
    from api.ui.errors import worded

    first = good_value_of_record(good, spec)
    good_line = ",".join(str(first.get(name, "")) for name in spec.columns)

    def line_with(column: str, value: str) -> str:
        return ",".join(value if name == column else str(first.get(name, "")) for name in spec.columns)

    cases = []
    for column in spec.columns:
        found = bad_scalar(inner.fields[column], "text")
        if found is not None:
            cases.append((spec.name, {**form, spec.name: f"{good_line}\n{line_with(column, found[0])}"},
                          f"第2行 {spec.column_label[column]}：{worded(found[1], None)}"))
    for column in spec.columns:   # a line without a value its records require (an invoice's amount)
        if inner.fields[column].required:
            cases.append((spec.name, {**form, spec.name: f"{good_line}\n{line_with(column, '')}"},
                          f"第2行 {spec.column_label[column]}：此项为必填项"))
    return cases


def _bad_line(spec: Any, inner: Any, form: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """A list of lines (or of ticked choices) whose second item is refused."""
    from api.ui.errors import worded

    found = bad_scalar(inner, spec.kind)
    assert found is not None, spec.name
    if spec.kind == "lines":
        form[spec.name] = f"{good_value(spec)[0]}\n{found[0]}"
        return spec.name, form, f"第2行：{worded(found[1], spec)}"
    form[spec.name] = [spec.choices[0][0], found[0]]
    return spec.name, form, f"第2项：{worded(found[1], spec)}"


def good_value_of_record(good: dict[str, Any], spec: Any) -> dict[str, Any]:
    value: Any = good
    for part in spec.name.split("."):
        value = value[part]
    return value[0]


def put(app: Flask, case_id: int, state: str, unit_code: str) -> None:
    import sqlalchemy as sa

    from api.extensions import db
    from api.models import Case, OrgUnit

    with app.app_context():
        case = db.session.get(Case, case_id)
        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == unit_code))
        case.state, case.org_unit_id, case.org_path = state, unit.id, unit.path
        case.level, case.closed = unit.level, False
        db.session.commit()


@dataclass
class FormUnderTest:
    """One form of a lifecycle as a clerk meets it, and one bad submission per field of it."""

    definition: str
    event: str | None          # None: the form of a new case
    url: str                   # where the form posts
    page: str                  # where the form is shown
    user: str                  # who may fill it in
    state: str | None          # the state the case is put in for the event's form
    unit: str                  # the unit holding the case then
    described: list[Any]
    bad: list[tuple[str, dict[str, Any], str]]   # (field, the form's values, the words expected beside it)


def definition_keys() -> list[str]:
    """Every lifecycle the definitions describe: a new one is tested without editing the tests."""
    return sorted({path.name.split(".")[0] for path in DEFINITIONS.glob("*.yaml")})


def add_every_role_users(app: Flask) -> None:
    """``all_city`` and ``all_street`` (城东), holding every role: every form of every state is theirs."""
    import sqlalchemy as sa

    from api import demo
    from api.extensions import db
    from api.models import OrgUnit

    with app.app_context():
        units = {unit.code: unit for unit in db.session.scalars(sa.select(OrgUnit))}
        for username, unit in (("all_city", "wenling"), ("all_street", "chengdong")):
            demo.upsert_user(db.session, username, units[unit], EVERY_ROLE, "demo", app.config["CLOCK"](), "全能")
        db.session.commit()


def forms_under_test(app: Flask, key: str, case_id: int) -> list[FormUnderTest]:
    """The form of a new case (the counter's for what a window opens) and every event's form with fields, each
    with one bad value per field; the event's forms on ``case_id``, fired by a user holding its roles."""
    from api import forms
    from api.lifecycles import registry

    assert key in OPEN_DATA, f"{key}: tell OPEN_DATA what a good opening of this lifecycle is"
    with app.app_context():
        definition = app.extensions["gonghui.engine"].catalog.get(key)
        lifecycle = registry()[key]
        at_counter = any(role.partition("@")[0] == "counter" for role in definition.open_roles)
        opening = forms.form_for(key, None)
        found = [FormUnderTest(key, None, "/counter" if at_counter else f"/new/{key}",
                               "/counter" if at_counter else f"/new/{key}",
                               "counter_chengbei" if at_counter else "all_street", None, "chengdong", opening,
                               bad_cases(lifecycle.schema_for(None), opening, OPEN_DATA[key]))]
        for name, event in definition.events.items():
            described = forms.form_for(key, name)
            if not described:
                continue
            at_city = any(role.endswith("@city") for role in event.roles)
            # supervision (交办, 提级办理, 催办) is fired from a unit above the one that holds the case
            user = "all_city" if at_city or event.supervises else "all_street"
            url = f"/cases/{case_id}/events/{name}"
            found.append(FormUnderTest(key, name, url, f"/cases/{case_id}", user, sorted(event.sources)[0],
                                       "wenling" if at_city else "chengdong", described,
                                       bad_cases(lifecycle.schema_for(name), described, good_data(described))))
    return found


def open_for_forms(api: Api, key: str) -> dict[str, Any]:
    opener = {"medical_aid_claim": "counter_chengbei"}.get(key, "chengdong_clerk")
    return api.open_case(opener, key, OPEN_DATA[key])


@pytest.mark.parametrize("key", definition_keys())
def test_one_bad_value_per_field_of_every_form_is_shown_beside_its_field(fresh: Flask, api: Api, key: str) -> None:
    add_every_role_users(fresh)
    case = open_for_forms(api, key)
    clients: dict[str, Any] = {}
    faults: list[str] = []
    checked = 0
    for form in forms_under_test(fresh, key, case["id"]):
        if form.state is not None:
            put(fresh, case["id"], form.state, form.unit)
        if form.user not in clients:
            clients[form.user] = signed_in(fresh, form.user)[0]
        client = clients[form.user]
        csrf = csrf_of(client.get("/worklist").get_data(as_text=True))
        for name, values, expected in form.bad:
            response = client.post(form.url, data={**values, "csrf_token": csrf})
            page = response.get_data(as_text=True)
            shown = error_text(page, name, form.url if form.event else None)
            checked += 1
            if response.status_code != 422 or expected not in shown:
                faults.append(f"{form.url} {name}: {response.status_code}, expected {expected!r}, shown {shown!r}")
    assert not faults, "\n".join(faults)
    assert checked >= 8


def test_a_wrong_id_number_in_the_first_applicant_line_is_named_by_its_line(fresh: Flask) -> None:
    client, csrf = signed_in(fresh, "chengdong_clerk")
    page = client.post("/new/mediation_case", data={
        "csrf_token": csrf, "applicants": "王小明,331081199805201230,13800000000", "respondent.name": "东海鞋业",
        "dispute_type": "wages", "claims": "工资", "amount": "100", "channel": "visit"}).get_data(as_text=True)
    assert "第1行 身份证号：居民身份证号码无效（校验位不符）" in error_text(page, "applicants")
    assert 'aria-describedby="f-applicants-hint f-applicants-error"' in page and 'aria-invalid="true"' in page
    assert 'href="#f-applicants"' in page   # the list at the top links to the field


def test_an_empty_required_record_comes_back_with_its_message(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    client, csrf = signed_in(fresh, "chengdong_mediator")
    url = f"/cases/{case['id']}/events/agree"
    page = client.post(url, data={"csrf_token": csrf}).get_data(as_text=True)
    for field in ("agreement.terms", "agreement.amount", "agreement.perform_by"):
        assert "此项为必填项" in error_text(page, field, url), field
    # an empty respondent on a new case: its name is asked for
    page = client.post("/new/mediation_case", data={"csrf_token": csrf, "applicants": "王小明"}).get_data(as_text=True)
    assert "此项为必填项" in error_text(page, "respondent.name")


def test_a_claim_for_a_non_member_says_why_beside_the_member(fresh: Flask) -> None:
    from tests.api.test_ui_pages import claim_form

    client, csrf = signed_in(fresh, "counter_chengbei")
    form = {**claim_form(csrf, "x1"), "member.id_number": "11010519491231002X"}
    page = client.post("/counter", data=form).get_data(as_text=True)
    assert "未参加职工医疗互助保障" in error_text(page, "member.name")


def test_a_guard_refusal_and_a_fault_no_field_owns_are_shown(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    client, csrf = signed_in(fresh, "chengdong_mediator")
    url = f"/cases/{case['id']}/events/extend"
    page = client.post(url, data={"csrf_token": csrf, "days": "10"}).get_data(as_text=True)
    assert "延长调解期限须经双方当事人同意" in error_text(page, "parties_consent", url)
    # a second formation case for an employer of the roster: a fault of the whole form, at its top
    roster = ("统一社会信用代码,单位名称,所属镇街,行业,参保人数,成立日期,是否已建会\n"
              f"{USCC_A},温岭市川创机电有限公司,城东街道,机电,26,2004-06-26,否\n").encode()
    imported = api.post("/enterprises/import", "chengdong_clerk", data={"file": (io.BytesIO(roster), "r.csv")},
                        content_type="multipart/form-data")
    assert imported.get_json()["cases_opened"] == 1
    clerk, csrf = signed_in(fresh, "chengdong_clerk")
    form = {"csrf_token": csrf, "kind": "single", "enterprise.uscc": USCC_A, "enterprise.name": "川创机电"}
    page = clerk.post("/new/union_formation", data=form).get_data(as_text=True)
    assert "该单位已有进行中的建会案件" in visible_text(page.split('id="f-errors"', 1)[1].split("</div>", 1)[0])


def test_required_fields_say_so_in_words(fresh: Flask) -> None:
    client, _ = signed_in(fresh, "chengdong_clerk")
    page = client.get("/new/mediation_case").get_data(as_text=True)
    assert "请求事项<span class=\"required\">（必填）</span>" in page
    assert "备注<span" not in page


def test_an_expired_session_keeps_the_input_through_signing_in_again(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    client, csrf = signed_in(fresh, "chengdong_mediator")
    with client.session_transaction() as stored:   # the session has expired
        stored.clear()
    url = f"/cases/{case['id']}/events/accept"
    response = client.post(url, data={"csrf_token": csrf, "mediator": "李调解", "comment": "当面受理"})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "登录已过期" in page
    assert 'name="replay.mediator" value="李调解"' in page
    login = {"csrf_token": csrf_of(page), "username": "chengdong_mediator", "password": "demo",
             "replay_path": url, "replay.mediator": "李调解", "replay.comment": "当面受理"}
    page = client.post("/login", data=login).get_data(as_text=True)
    assert "您此前填写的内容已恢复" in page
    assert 'id="accept-mediator" name="mediator" value="李调解"' in page and 'value="当面受理"' in page
    # submitted again, it goes through
    page_csrf = csrf_of(page)
    assert client.post(url, data={"csrf_token": page_csrf, "mediator": "李调解"}).status_code == 302
    assert api.get(f"/cases/{case['id']}", "chengdong_mediator").get_json()["state"] == "mediating"


def test_a_form_from_another_site_is_not_kept(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    client = fresh.test_client()
    response = client.post(f"/cases/{case['id']}/events/accept", data={"mediator": "x"},
                           headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 400 and "replay" not in response.get_data(as_text=True)


def test_the_second_of_two_clerks_sees_who_moved_the_case_and_keeps_the_input(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    first, first_csrf = signed_in(fresh, "chengdong_mediator")
    second, second_csrf = signed_in(fresh, "chengdong_clerk")
    url = f"/cases/{case['id']}/events/accept"
    assert first.post(url, data={"csrf_token": first_csrf, "mediator": "李调解", "version": "1"}).status_code == 302
    response = second.post(url, data={"csrf_token": second_csrf, "mediator": "王调解", "version": "1",
                                      "comment": "电话联系过"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    text = visible_text(page)
    assert "该案件已被他人处理（当前：调解中）" in text
    assert "王调解" in text and "电话联系过" in text


def test_event_forms_are_filled_with_what_the_system_knows(fresh: Flask, api: Api) -> None:
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    client, _ = signed_in(fresh, "chengdong_mediator")
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="accept-mediator" name="mediator" value="李调解"' in page
    claim_case = api.post("/cases", "counter_chengbei", {"definition": "medical_aid_claim",
                                                         "data": claim(documents=["id_card", "invoice"])}).get_json()
    client, _ = signed_in(fresh, "counter_chengbei")
    page = client.get(f"/cases/{claim_case['id']}").get_data(as_text=True)
    form = page.split(f'action="/cases/{claim_case["id"]}/events/supplement"', 1)[1].split("</form>", 1)[0]
    assert 'value="bank_card"' in form and 'value="id_card"' not in form and 'value="invoice"' not in form


def test_a_replayed_form_is_shown_only_where_its_user_may_work(fresh: Flask) -> None:
    client = fresh.test_client()
    csrf = csrf_of(client.get("/login").get_data(as_text=True))
    for path in ("/new/no_such_lifecycle", "/new/union_formation", "/counter", "/admin/users"):
        response = client.post("/login", data={"csrf_token": csrf, "username": "chengdong_mediator",
                                               "password": "demo", "replay_path": path, "replay.x": "1"})
        assert response.status_code == 302 and response.location.endswith("/worklist"), path
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/worklist").get_data(as_text=True))})
        csrf = csrf_of(client.get("/login").get_data(as_text=True))
