"""The OpenAPI document is as strict as the code: what the code refuses, the document does not promise."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import Api


def _document(api: Api) -> dict:
    return api.client.get("/api/v1/openapi.json").get_json()


def test_new_cases_name_a_loaded_definition(fresh: Flask, api: Api) -> None:
    properties = _document(api)["components"]["schemas"]["CaseCreate"]["properties"]
    loaded = sorted({definition.key for definition in fresh.extensions["gonghui.engine"].catalog.all()})
    assert properties["definition"]["enum"] == loaded and "mediation_case" in loaded
    assert "422" in properties["data"]["description"]
    response = api.post("/cases", "chengdong_clerk", {"definition": "no_such_lifecycle", "data": {}})
    assert response.status_code == 422 and "definition" in response.get_json()["errors"]


def test_a_new_password_has_twelve_characters_at_least(api: Api) -> None:
    user = _document(api)["components"]["schemas"]["User"]["properties"]
    assert user["password"]["minLength"] == 12
    short = api.post("/admin/users", "city_admin", {"username": "new_clerk", "org_unit": "chengdong",
                                                    "roles": ["clerk"], "password": "elevenchars"})
    assert short.status_code == 422 and "password" in short.get_json()["errors"]
    ok = api.post("/admin/users", "city_admin", {"username": "new_clerk", "org_unit": "chengdong",
                                                 "roles": ["clerk"], "password": "twelve-chars"})
    assert ok.status_code == 201, ok.get_json()


def test_org_codes_usernames_and_calendar_days_are_patterns_the_code_applies(api: Api) -> None:
    schemas = _document(api)["components"]["schemas"]
    org = schemas["User"]["properties"]["org_unit"]["pattern"]
    assert re.fullmatch(org.strip("^$"), "cd-e001") and not re.fullmatch(org.strip("^$"), "CD E001")
    bad = api.post("/admin/users", "city_admin", {"username": "张三", "org_unit": "CD E001", "roles": ["clerk"],
                                                  "password": "twelve-chars"})
    assert bad.status_code == 422 and {"username", "org_unit"} <= set(bad.get_json()["errors"])
    day = schemas["CalendarYear"]["properties"]["holidays"]["items"]["pattern"]
    assert re.match(day, "2027-02-06..2027-02-13") and not re.match(day, "2027-13-01")
    refused = api.post("/admin/calendar", "city_admin", {"year": 2027, "holidays": ["2027-13-01"]})
    assert refused.status_code == 422 and "holidays.0" in refused.get_json()["errors"]


def test_the_calendar_list_documents_recounted_as_nullable(api: Api) -> None:
    recounted = _document(api)["components"]["schemas"]["CalendarYear"]["properties"]["recounted"]
    assert recounted.get("nullable") is True
    assert api.post("/admin/calendar", "city_admin", {"year": 2027, "holidays": ["2027-01-01"]}).status_code == 201
    listed = api.get("/admin/calendar", "city_admin").get_json()
    assert listed[0]["year"] == 2027 and listed[0]["recounted"] is None


def test_nul_characters_are_refused_only_after_the_caller_is_known(api: Api) -> None:
    body = b'{"definition": "mediation_case", "data": {"claims": "\\u0000"}}'
    anonymous = api.client.post("/api/v1/cases", data=body, content_type="application/json")
    assert anonymous.status_code == 401
    known = api.client.post("/api/v1/cases", data=body, content_type="application/json",
                            headers=api.headers("chengdong_clerk"))
    assert known.status_code == 400 and "NUL" in known.get_json()["detail"]
    assert "NUL" in _document(api)["info"]["description"]
