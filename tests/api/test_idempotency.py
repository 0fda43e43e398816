"""``Idempotency-Key`` on POST: a repeat replays the first answer, another body with the same key is 422."""

from __future__ import annotations

from tests.conftest import Api, mediation_data

MEDIATOR = "chengdong_mediator"


def test_a_repeated_create_returns_the_same_case_and_creates_nothing(api: Api) -> None:
    body = {"definition": "mediation_case", "data": mediation_data()}
    first = api.post("/cases", MEDIATOR, body, headers={"Idempotency-Key": "window-7-0001"})
    again = api.post("/cases", MEDIATOR, body, headers={"Idempotency-Key": "window-7-0001"})
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.get("/cases", MEDIATOR).get_json()["total"] == 1


def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data()},
             headers={"Idempotency-Key": "k1"})
    other = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data(amount="1.00")},
                     headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["errors"]
    assert api.get("/cases", MEDIATOR).get_json()["total"] == 1


def test_a_repeated_event_is_fired_once(api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    for _ in range(2):
        response = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"},
                            headers={"Idempotency-Key": "accept-1"})
        assert response.status_code == 200
    assert len(api.get(f"/cases/{case['id']}/history", MEDIATOR).get_json()) == 2


def test_keys_belong_to_their_caller(api: Api) -> None:
    body = {"definition": "mediation_case", "data": mediation_data()}
    api.post("/cases", MEDIATOR, body, headers={"Idempotency-Key": "shared"})
    response = api.post("/cases", "chengdong_clerk", body, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert api.get("/cases", MEDIATOR).get_json()["total"] == 2


def test_a_failed_request_is_replayed_as_failed(api: Api) -> None:
    bad = {"definition": "mediation_case", "data": {}}
    first = api.post("/cases", MEDIATOR, bad, headers={"Idempotency-Key": "bad-1"})
    again = api.post("/cases", MEDIATOR, bad, headers={"Idempotency-Key": "bad-1"})
    assert first.status_code == again.status_code == 422


def test_an_overlong_key_is_400(api: Api) -> None:
    response = api.post("/cases", MEDIATOR, {"definition": "mediation_case", "data": mediation_data()},
                        headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
