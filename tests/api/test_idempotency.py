"""``Idempotency-Key`` on POST: a repeat replays the first answer, another body with the same key is 422."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_an_event_key_used_with_another_body_fires_nothing_and_is_422(api: Api) -> None:
    """The event endpoint does the work before it knows the key was used (``CHECKED_AT_COMMIT``): the work of
    the second request is rolled back when the record's insert fails."""
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    first = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"Idempotency-Key": "ev-1"})
    other = api.fire(case["id"], "extend", MEDIATOR, {"parties_consent": True, "days": 10},
                     headers={"Idempotency-Key": "ev-1"})
    assert first.status_code == 200 and other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["errors"]
    events = [row["event"] for row in api.get(f"/cases/{case['id']}/history", MEDIATOR).get_json()]
    assert events == ["open", "accept"]
    assert api.get(f"/cases/{case['id']}", MEDIATOR).get_json()["version"] == first.get_json()["version"]


def test_a_repeated_event_refused_now_still_replays_the_first_answer(api: Api) -> None:
    """Done again, ``accept`` is refused (the case is no longer registered); the first answer is replayed."""
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    first = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"Idempotency-Key": "ev-2"})
    again = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"Idempotency-Key": "ev-2"})
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()


def test_a_repeated_event_whose_work_fails_on_the_database_replays_the_first_answer(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event's key is not looked up before the work: when the repeat's work meets a database error, the
    stored answer is replayed all the same; a new key meeting it is 503."""
    import sqlalchemy as sa

    from api.views import cases

    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    first = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"Idempotency-Key": "ev-db"})

    def unavailable(*_: Any, **__: Any) -> None:
        raise sa.exc.OperationalError("UPDATE cases", {}, Exception("server closed the connection"))

    monkeypatch.setattr(cases, "fire_event", unavailable)
    again = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"}, headers={"Idempotency-Key": "ev-db"})
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    other = api.fire(case["id"], "extend", MEDIATOR, {"parties_consent": True, "days": 10},
                     headers={"Idempotency-Key": "ev-db-2"})
    assert other.status_code == 503 and "Idempotent-Replayed" not in other.headers
    assert "server closed" not in other.get_data(as_text=True)


def test_a_commit_the_database_refuses_is_503_nothing_kept_and_the_log_names_only_the_request(
        api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The request's work is rolled back and the caller is told to retry; the log line says which request failed
    (method and path), not what it carried."""
    import logging

    import sqlalchemy as sa

    from api import idempotency

    def refused(_stored: Any) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    api.token(MEDIATOR)   # signed in before the database refuses
    monkeypatch.setattr(idempotency, "_commit", refused)
    body = {"definition": "mediation_case", "data": mediation_data(claims="拖欠工资 13800138000")}
    with caplog.at_level(logging.ERROR, logger="api.idempotency"):
        answer = api.post("/cases", MEDIATOR, body, headers={"Idempotency-Key": "refused-1"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "数据库暂不可用" in answer.get_json()["detail"]
    lines = [record.getMessage() for record in caplog.records if record.name == "api.idempotency"]
    assert len(lines) == 1 and lines[0].startswith("commit failed on POST /api/v1/cases: ")
    assert "13800138000" not in lines[0]
    monkeypatch.undo()
    assert api.get("/cases", MEDIATOR).get_json()["total"] == 0
