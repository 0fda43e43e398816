"""The case API end to end: open, read, list, fire, history, worklist, report — and every bad input."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api, mediation_data

MEDIATOR = "chengdong_mediator"


def test_a_mediation_case_goes_from_registration_to_closure(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    assert case["state"] == "registered" and case["state_label"] == "已登记"
    assert case["number"] == "TJ-2026-000001" and case["version"] == 1
    assert case["org_unit"] == "chengdong" and case["level"] == "street"
    steps = [("accept", {"mediator": "李调解"}, "mediating"),
             ("agree", {"agreement": {"terms": "分两期支付", "amount": "8000.00", "perform_by": "2026-12-31"}},
              "agreed"),
             ("fulfil", {}, "closed")]
    for event, data, state in steps:
        response = api.fire(case["id"], event, MEDIATOR, data)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["state"] == state
    final = api.get(f"/cases/{case['id']}", MEDIATOR)
    assert final.headers["ETag"] == '"4"'
    body = final.get_json()
    assert body["closed"] and body["allowed_events"] == [] and body["due_at"] is None
    assert body["data"]["agreement"]["amount"] == "8000.00"
    history = api.get(f"/cases/{case['id']}/history", MEDIATOR).get_json()
    assert [(h["seq"], h["event"], h["from_state"], h["to_state"]) for h in history] == [
        (1, "open", None, "registered"), (2, "accept", "registered", "mediating"),
        (3, "agree", "mediating", "agreed"), (4, "fulfil", "agreed", "closed")]
    assert all(h["actor"] == MEDIATOR and h["at"].endswith("+08:00") for h in history)
    assert history[1]["prev_hash"] if "prev_hash" in history[1] else history[1]["hash"]


def test_creating_answers_201_with_location_and_etag(api: Api) -> None:
    response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data()})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/cases/{response.get_json()['id']}")
    assert response.headers["ETag"] == '"1"'


def test_chinese_text_and_emoji_round_trip_unchanged(api: Api) -> None:
    claims = "要求支付加班费 💰 及经济补偿金；“双倍工资”"
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data(claims=claims))
    raw = api.get(f"/cases/{case['id']}", MEDIATOR).get_data(as_text=True)
    assert claims in raw  # not \\u-escaped
    assert json.loads(raw)["data"]["claims"] == claims


def test_money_is_a_decimal_string_with_two_places(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data(amount="12000.5"))
    assert case["data"]["amount"] == "12000.50"


def test_the_case_deadline_is_shown(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    # registered on Tue 2026-11-24: 3 working days → end of Fri 2026-11-27
    assert case["due_at"] == "2026-11-28T00:00:00+08:00"
    assert case["overdue"] is False and case["provisional"] is False


class TestBadInput:
    def test_malformed_json_is_400(self, api: Api) -> None:
        response = api.client.post("/api/v1/cases", data="{not json", headers={
            **api.headers(MEDIATOR), "Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.content_type == "application/problem+json"

    def test_every_bad_field_is_named_at_once(self, api: Api) -> None:
        data = mediation_data(amount=12.5, dispute_type="fraud", channel=None)
        del data["claims"]
        data["applicants"] = [{"name": "", "id_number": "331081199805201230"}]
        response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": data})
        assert response.status_code == 422
        errors = response.get_json()["errors"]
        assert {"data.amount", "data.dispute_type", "data.channel", "data.claims",
                "data.applicants.0.name", "data.applicants.0.id_number"} <= set(errors)

    def test_unknown_fields_are_refused(self, api: Api) -> None:
        response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data(),
                                                  "colour": "red"})
        assert response.status_code == 422 and "colour" in response.get_json()["errors"]
        response = api.post("/cases", MEDIATOR, {"definition": "mediation_case",
                                                  "data": mediation_data(secret="x")})
        assert response.status_code == 422 and "data.secret" in response.get_json()["errors"]

    def test_missing_top_level_fields_are_named(self, api: Api) -> None:
        response = api.post("/cases", MEDIATOR, {})
        assert response.status_code == 422
        assert {"definition", "data"} <= set(response.get_json()["errors"])

    def test_an_unknown_definition_is_422(self, api: Api) -> None:
        response = api.post("/cases", MEDIATOR, {"definition": "space_travel", "data": {}})
        assert response.status_code == 422 and "definition" in response.get_json()["errors"]

    def test_an_oversized_body_is_413(self, api: Api) -> None:
        response = api.post("/cases", MEDIATOR, {"definition": "mediation_case",
                                                  "data": mediation_data(claims="长" * 600_000)})
        assert response.status_code == 413

    def test_a_wrong_type_for_data_is_422(self, api: Api) -> None:
        response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": [1, 2]})
        assert response.status_code == 422

    def test_an_unknown_event_is_409_with_allowed_events(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        response = api.fire(case["id"], "teleport", MEDIATOR)
        assert response.status_code == 409
        assert set(response.get_json()["allowed_events"]) == {"accept", "reject", "withdraw", "escalate"}

    def test_an_event_not_allowed_now_is_409(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        response = api.fire(case["id"], "fulfil", MEDIATOR)
        assert response.status_code == 409 and "accept" in response.get_json()["allowed_events"]

    def test_a_role_that_may_not_fire_is_403(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
        response = api.fire(case["id"], "extend", "chengdong_clerk", {"parties_consent": True, "days": 5})
        assert response.status_code == 403

    def test_missing_event_data_is_422_and_changes_nothing(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        response = api.fire(case["id"], "accept", MEDIATOR, {})
        assert response.status_code == 422 and "data.mediator" in response.get_json()["errors"]
        after = api.get(f"/cases/{case['id']}", MEDIATOR).get_json()
        assert (after["state"], after["version"]) == ("registered", 1)
        assert len(api.get(f"/cases/{case['id']}/history", MEDIATOR).get_json()) == 1

    def test_a_guard_refusal_is_422(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
        response = api.fire(case["id"], "extend", MEDIATOR, {"parties_consent": False, "days": 10})
        assert response.status_code == 422 and "parties_consent" in response.get_json()["errors"]

    def test_a_stale_if_match_is_412_and_changes_nothing(self, api: Api) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"If-Match": '"1"'})
        response = api.fire(case["id"], "fail", MEDIATOR, {"reason": "x"}, headers={"If-Match": '"1"'})
        assert response.status_code == 412
        assert api.get(f"/cases/{case['id']}", MEDIATOR).get_json()["state"] == "mediating"

    @pytest.mark.parametrize("header", ["abc", '"²"', '"-1"'])
    def test_a_malformed_if_match_is_400(self, api: Api, header: str) -> None:
        case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
        response = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李"}, headers={"If-Match": header})
        assert response.status_code == 400

    def test_an_unknown_case_is_404(self, api: Api) -> None:
        assert api.get("/cases/999999", MEDIATOR).status_code == 404
        assert api.fire(999999, "accept", MEDIATOR, {"mediator": "x"}).status_code == 404

    @pytest.mark.parametrize("query", ["page=0", "per_page=1000", "overdue=maybe", "sort=colour",
                                       "level=planet"])
    def test_bad_list_parameters_are_422(self, api: Api, query: str) -> None:
        response = api.get(f"/cases?{query}", MEDIATOR)
        assert response.status_code == 422 and response.get_json()["errors"]


class TestAuthentication:
    def test_a_bad_password_is_401(self, api: Api) -> None:
        response = api.client.post("/api/v1/auth/token", json={"username": "chengdong_clerk", "password": "x"})
        assert response.status_code == 401 and response.content_type == "application/problem+json"

    def test_the_token_names_the_user(self, api: Api) -> None:
        response = api.client.post("/api/v1/auth/token", json={"username": "city_admin", "password": "demo"})
        body = response.get_json()
        assert body["user"] == {"username": "city_admin", "roles": ["admin", "reviewer"], "org_unit": "wenling"}
        assert body["expires_at"].endswith("+08:00")

    @pytest.mark.parametrize("header", [None, "Bearer", "Bearer forged-token", "Basic dXNlcjpwYXNz"])
    def test_a_missing_or_forged_token_is_401(self, api: Api, header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = api.client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_an_expired_token_is_401(self, api: Api, clock) -> None:  # type: ignore[no-untyped-def]
        token = api.token(MEDIATOR)
        assert api.get("/cases", MEDIATOR).status_code == 200
        clock.advance(hours=13)
        response = api.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_lists_filter_and_page(api: Api) -> None:
    ids = [api.open_case(MEDIATOR, "mediation_case", mediation_data(dispute_type=kind))["id"]
           for kind in ("wages", "overtime", "wages")]
    api.fire(ids[0], "accept", MEDIATOR, {"mediator": "李调解"})
    page = api.get("/cases?per_page=2&page=1", MEDIATOR).get_json()
    assert page["total"] == 3 and [c["id"] for c in page["items"]] == [ids[2], ids[1]]
    assert api.get("/cases?per_page=2&page=2", MEDIATOR).get_json()["items"][0]["id"] == ids[0]
    assert api.get("/cases?state=mediating", MEDIATOR).get_json()["total"] == 1
    assert api.get("/cases?definition=mediation_case&level=street", MEDIATOR).get_json()["total"] == 3
    number = api.get(f"/cases/{ids[1]}", MEDIATOR).get_json()["number"]
    assert [c["id"] for c in api.get(f"/cases?q={number}", MEDIATOR).get_json()["items"]] == [ids[1]]
    assert api.get("/cases?q=东海鞋业", MEDIATOR).get_json()["total"] == 3
    assert api.get("/cases?overdue=true", MEDIATOR).get_json()["total"] == 0
    by_due = api.get("/cases?sort=due_at", MEDIATOR).get_json()["items"]
    assert by_due[-1]["id"] == ids[0]  # mediating: due 15 days on, the others in 3 working days


def test_a_list_counts_its_matches_up_to_the_limit_and_says_when_there_are_more(api: Api) -> None:
    ids = [api.open_case(MEDIATOR, "mediation_case", mediation_data())["id"] for _ in range(5)]
    api.fire(ids[0], "accept", MEDIATOR, {"mediator": "李调解"})
    api.client.application.config["LIST_COUNT_LIMIT"] = 3
    page = api.get("/cases?per_page=2", MEDIATOR).get_json()
    assert (page["total"], page["total_exact"], len(page["items"])) == (3, False, 2)
    last = api.get("/cases?per_page=2&page=3", MEDIATOR).get_json()
    assert ([c["id"] for c in last["items"]], last["total"], last["total_exact"]) == ([ids[0]], 5, False)
    narrowed = api.get("/cases?state=registered", MEDIATOR).get_json()
    assert (narrowed["total"], narrowed["total_exact"]) == (4, False)  # the page itself shows 4
    exact = api.get("/cases?state=mediating", MEDIATOR).get_json()
    assert (exact["total"], exact["total_exact"]) == (1, True)
    api.client.application.config["LIST_COUNT_LIMIT"] = 1000
    assert api.get("/cases", MEDIATOR).get_json()["total_exact"] is True


def test_the_worklist_comes_a_page_at_a_time_with_a_link_to_the_next(api: Api) -> None:
    ids = [api.open_case(MEDIATOR, "mediation_case", mediation_data())["id"] for _ in range(3)]
    first = api.get("/worklist?per_page=2", MEDIATOR)
    assert [c["id"] for c in first.get_json()] == ids[:2] and first.headers["X-Total-Count"] == "3"
    assert first.headers["Link"] == '</api/v1/worklist?page=2&per_page=2>; rel="next"'
    second = api.get("/worklist?page=2&per_page=2", MEDIATOR)
    assert [c["id"] for c in second.get_json()] == ids[2:] and "Link" not in second.headers
    assert api.get("/worklist?per_page=0", MEDIATOR).status_code == 422


@pytest.mark.parametrize(("path", "caller", "filters"), [
    ("/cases", MEDIATOR, "&definition=mediation_case"), ("/enterprises", "city_admin", "&min_staff=0")])
def test_every_list_pages_alike(api: Api, path: str, caller: str, filters: str) -> None:
    for _ in range(3):
        api.open_case(MEDIATOR, "mediation_case", mediation_data())
    first = api.get(f"{path}?per_page=2{filters}", caller)
    body = first.get_json()
    assert set(body) == {"items", "total", "total_exact", "page", "per_page"}
    assert (len(body["items"]), body["total"], body["total_exact"], body["page"], body["per_page"]) == (
        2, 3, True, 1, 2)
    assert first.headers["Link"] == f'</api/v1{path}?page=2&per_page=2{filters}>; rel="next"'
    last = api.get(f"{path}?page=2&per_page=2{filters}", caller)
    assert len(last.get_json()["items"]) == 1 and "Link" not in last.headers
    assert api.get(f"{path}?per_page=500", caller).status_code == 200
    for wrong in ("per_page=501", "per_page=0", "page=0"):
        refused = api.get(f"{path}?{wrong}", caller)
        assert refused.status_code == 422 and f"query.{wrong.split('=')[0]}" in refused.get_json()["errors"]


def test_the_worklist_holds_the_cases_the_caller_can_act_on(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    first = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    second = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    api.fire(first["id"], "accept", MEDIATOR, {"mediator": "李调解"})
    assert [c["id"] for c in api.get("/worklist", MEDIATOR).get_json()] == [second["id"], first["id"]]
    api.fire(second["id"], "reject", MEDIATOR, {"reason": "不属于受理范围"})
    assert [c["id"] for c in api.get("/worklist", MEDIATOR).get_json()] == [first["id"]]
    assert api.get("/worklist", "counter_chengbei").get_json() == []


def test_a_case_outside_the_callers_scope_is_404(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    assert api.get(f"/cases/{case['id']}", "daxi_clerk").status_code == 404
    assert api.fire(case["id"], "accept", "daxi_clerk", {"mediator": "x"}).status_code == 404
    assert api.get(f"/cases/{case['id']}/history", "daxi_clerk").status_code == 404
    assert api.get("/cases", "daxi_clerk").get_json()["total"] == 0
    assert api.get(f"/cases/{case['id']}", "city_admin").status_code == 200
    assert api.get("/cases?org_unit=chengdong", "daxi_clerk").get_json()["total"] == 0


def test_an_enterprise_clerk_sees_only_its_own_unit(api: Api) -> None:
    street_case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    own = api.open_case("ent_clerk", "mediation_case", mediation_data())
    assert own["org_unit"] == "cd-e001" and own["level"] == "enterprise"
    assert api.get(f"/cases/{street_case['id']}", "ent_clerk").status_code == 404
    assert api.get(f"/cases/{own['id']}", MEDIATOR).status_code == 200


def test_a_case_cannot_be_opened_for_a_unit_outside_scope(api: Api) -> None:
    response = api.post("/cases", "daxi_clerk", {"definition": "mediation_case", "org_unit": "chengdong",
                                                  "data": mediation_data()})
    assert response.status_code == 422 and "org_unit" in response.get_json()["errors"]


def test_a_role_that_may_not_open_is_403(api: Api) -> None:
    response = api.post("/cases", "counter_chengbei", {"definition": "mediation_case", "data": mediation_data()})
    assert response.status_code == 403


def test_id_numbers_are_masked_for_clerks(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    assert api.get(f"/cases/{case['id']}", MEDIATOR).get_json()["data"]["applicants"][0]["id_number"] == \
        "331081199805201237"
    masked = api.get(f"/cases/{case['id']}", "chengdong_clerk").get_json()["data"]["applicants"][0]["id_number"]
    assert masked == "3310**********1237"


def test_the_report_counts_visitors_acceptances_and_the_rates(api: Api) -> None:
    ids = [api.open_case(MEDIATOR, "mediation_case", mediation_data(amount=amount))["id"]
           for amount in ("1000.00", "2000.00", "3000.50", "400.00")]
    for case_id in ids[:3]:
        api.fire(case_id, "accept", MEDIATOR, {"mediator": "李调解"})
    agreement = {"agreement": {"terms": "t", "amount": "1.00", "perform_by": "2026-12-31"}}
    api.fire(ids[0], "agree", MEDIATOR, agreement)
    api.fire(ids[0], "fulfil", MEDIATOR)
    api.fire(ids[1], "fail", MEDIATOR, {"reason": "拒绝调解"})
    api.fire(ids[3], "reject", MEDIATOR, {"reason": "不属于受理范围"})
    report = api.get("/reports/mediation_case", MEDIATOR).get_json()
    assert (report["visitors"], report["accepted"], report["concluded"], report["agreements"]) == (4, 3, 2, 1)
    assert report["amount_involved"] == "6400.50"
    assert report["closure_rate"] == round(2 / 3, 4) and report["success_rate"] == 0.5
    assert report["by_state"] == {"closed": 1, "failed": 1, "mediating": 1, "rejected": 1}
    assert report["open"] == 1
    assert report["by_level"]["street"]["visitors"] == 4
    assert report["by_dispute_type"]["wages"]["visitors"] == 4
    assert api.get("/reports/mediation_case", "daxi_clerk").get_json()["visitors"] == 0
    assert api.get("/reports/mediation_case?from=2026-12-01", MEDIATOR).get_json()["visitors"] == 0
    assert api.get("/reports/mediation_case?from=2026-12-01&to=2026-11-01", MEDIATOR).status_code == 422
    assert api.get("/reports/space_travel", MEDIATOR).status_code == 404


def test_org_units_form_the_wenling_tree(api: Api) -> None:
    (city,) = api.get("/org-units", "daxi_clerk").get_json()
    assert (city["code"], city["name"], city["level"], city["parent"]) == ("wenling", "温岭市总工会", "city", None)
    streets = {street["code"]: street for street in city["children"]}
    assert len(streets) == 16 and streets["daxi"]["name"] == "大溪镇总工会"
    assert {e["code"] for e in streets["chengdong"]["children"]} == {"cd-e001", "cd-e002", "cd-c001"}


def test_definitions_are_listed_with_chinese_labels(api: Api) -> None:
    definitions = {d["key"]: d for d in api.get("/definitions", MEDIATOR).get_json()}
    mediation = definitions["mediation_case"]
    assert mediation["title"] == "劳动人事争议调解" and mediation["initial"] == "registered"
    accept = next(e for e in mediation["events"] if e["name"] == "accept")
    assert accept["from"] == ["registered"] and accept["to"] == "mediating" and accept["label"] == "受理"
    assert api.get("/definitions/mediation_case?version=1", MEDIATOR).get_json()["version"] == 1
    assert api.get("/definitions/mediation_case?version=9", MEDIATOR).status_code == 404
    assert api.get("/definitions/nothing", MEDIATOR).status_code == 404


def test_the_diagram_is_svg_or_mermaid_and_highlights_a_case(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    svg = api.get("/definitions/mediation_case/diagram", MEDIATOR)
    assert svg.content_type.startswith("image/svg+xml") and "已登记" in svg.get_data(as_text=True)
    highlighted = api.get(f"/definitions/mediation_case/diagram?case={case['id']}", MEDIATOR)
    text = highlighted.get_data(as_text=True)
    assert "#c0392b" in text
    mermaid = api.get(f"/definitions/mediation_case/diagram?case={case['id']}", MEDIATOR,
                      headers={"Accept": "text/plain"}).get_data(as_text=True)
    assert mermaid.startswith("stateDiagram-v2") and "class registered current" in mermaid
    assert api.get(f"/definitions/mediation_case/diagram?case={case['id']}", "daxi_clerk").status_code == 404


def test_health_and_metrics(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    client.get("/healthz")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "gonghui_http_requests_total" in metrics and 'endpoint="health.healthz"' in metrics


def test_errors_never_leak_a_traceback(api: Api) -> None:
    response = api.client.put("/api/v1/cases", headers=api.headers(MEDIATOR))
    assert response.status_code == 405 and "Allow" in response.headers
    assert "Traceback" not in response.get_data(as_text=True)


def test_nul_characters_are_refused_before_anything_reads_them(api: Api) -> None:
    response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data(claims="a\x00b")})
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert api.get("/cases?q=a%00b", MEDIATOR).status_code == 400
    assert api.get("/cases/99999999999", MEDIATOR).status_code == 404
