"""Idempotency records keep no secret (a replay answers it masked) and expire after 24 hours: never replayed
after that, and removed by the scheduler's housekeeping job and by ``gonghui idempotency purge``."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.idempotency import MASK, SECRET_FIELDS
from api.models import IdempotencyRecord
from tests.api.test_worker_reports import report
from tests.conftest import Api, FrozenClock, mediation_data


def stored_bodies(app: Flask) -> str:
    with app.app_context():
        return "\n".join(db.session.scalars(sa.select(IdempotencyRecord.body)))


def test_a_replayed_sign_in_masks_the_token_and_the_record_holds_none(fresh: Flask, api: Api) -> None:
    body = {"username": "daxi_clerk", "password": "demo"}
    first = api.client.post("/api/v1/auth/token", json=body, headers={"Idempotency-Key": "login-1"})
    again = api.client.post("/api/v1/auth/token", json=body, headers={"Idempotency-Key": "login-1"})
    token = first.get_json()["token"]
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["token"] == MASK and again.get_json()["user"] == first.get_json()["user"]
    assert token not in stored_bodies(fresh)
    assert api.client.get("/api/v1/worklist", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_reporters_secret_and_a_service_token_are_not_kept_for_replay(fresh: Flask, api: Api) -> None:
    first = api.client.post("/api/v1/intake/worker-reports", json=report(), headers={"Idempotency-Key": "wx-1"})
    again = api.client.post("/api/v1/intake/worker-reports", json=report(), headers={"Idempotency-Key": "wx-1"})
    assert again.get_json() == {"number": first.get_json()["number"], "secret": MASK}
    issued = api.post("/admin/tokens", "city_admin", {"username": "counter_chengbei"},
                      headers={"Idempotency-Key": "t-1"}).get_json()
    replayed = api.post("/admin/tokens", "city_admin", {"username": "counter_chengbei"},
                        headers={"Idempotency-Key": "t-1"}).get_json()
    assert replayed["token"] == MASK and replayed["user"] == "counter_chengbei"
    stored = stored_bodies(fresh)
    assert first.get_json()["secret"] not in stored and issued["token"] not in stored


def test_every_answer_field_named_like_a_secret_is_masked(fresh: Flask) -> None:
    """A new endpoint answering a token or a secret must be listed in SECRET_FIELDS, or this test fails."""
    document = fresh.test_client().get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    endpoints = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule): rule.endpoint
                 for rule in fresh.url_map.iter_rules() if "POST" in (rule.methods or ())}
    found, unlisted = [], []
    for path, operations in document["paths"].items():
        post = operations.get("post")
        for status, answer in (post or {}).get("responses", {}).items():
            reference = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            properties: dict[str, Any] = schemas.get(reference.rsplit("/", 1)[-1], {}).get("properties", {})
            secret = {name for name, spec in properties.items()
                      if name in ("token", "secret", "password") and not spec.get("writeOnly")}
            if status.startswith("2") and secret:
                found.append(endpoints[path])
                if not secret <= set(SECRET_FIELDS.get(endpoints[path], ())):
                    unlisted.append((path, sorted(secret)))
    assert not unlisted
    assert set(found) >= {"admin.Tokens", "auth.Token", "intake.IntakeReports"}


def test_a_record_older_than_a_day_is_not_replayed(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    body = {"definition": "mediation_case", "data": mediation_data()}
    first = api.post("/cases", "chengdong_mediator", body, headers={"Idempotency-Key": "day-old"})
    clock.advance(hours=24, seconds=1)
    later = api.post("/cases", "chengdong_mediator", body, headers={"Idempotency-Key": "day-old"})
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert later.get_json()["id"] != first.get_json()["id"]


def test_the_scheduler_and_the_cli_remove_expired_records(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    from api.cli import cli
    from api.scheduler import _add_job, run_housekeeping

    api.post("/cases", "chengdong_mediator", {"definition": "mediation_case", "data": mediation_data()},
             headers={"Idempotency-Key": "old"})
    clock.advance(hours=23)
    api.post("/cases", "chengdong_mediator", {"definition": "mediation_case", "data": mediation_data()},
             headers={"Idempotency-Key": "young"})
    clock.advance(hours=1, seconds=1)

    def keys() -> list[str]:
        with fresh.app_context():
            return sorted(db.session.scalars(sa.select(IdempotencyRecord.key)))

    assert keys() == ["old", "young"]
    assert run_housekeeping(fresh) == 1 and keys() == ["young"]
    clock.advance(hours=23)
    result = fresh.test_cli_runner().invoke(cli, ["idempotency", "purge"])
    assert result.exit_code == 0 and "removed 1" in result.output and keys() == []

    class Recorder:
        def __init__(self) -> None:
            self.jobs: list[str] = []

        def add_job(self, function: Any, *args: Any, **kwargs: Any) -> None:
            self.jobs.append(kwargs["id"])

    recorder = Recorder()
    _add_job(recorder, fresh)  # type: ignore[arg-type]
    assert "housekeeping" in recorder.jobs


def test_an_event_key_older_than_a_day_fires_again(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    """The event endpoint looks up no record before its work: the expired record is deleted with the new one's
    insert, in the same transaction."""
    case = api.open_case("chengdong_mediator", "mediation_case", mediation_data())
    api.fire(case["id"], "accept", "chengdong_mediator", {"mediator": "李调解"})
    extend = {"parties_consent": True, "days": 10}
    first = api.fire(case["id"], "extend", "chengdong_mediator", extend, headers={"Idempotency-Key": "ev-old"})
    clock.advance(hours=24, seconds=1)
    later = api.fire(case["id"], "extend", "chengdong_mediator", extend, headers={"Idempotency-Key": "ev-old"})
    assert first.status_code == later.status_code == 200 and "Idempotent-Replayed" not in later.headers
    assert later.get_json()["version"] == first.get_json()["version"] + 1
    with fresh.app_context():
        records = db.session.execute(sa.select(IdempotencyRecord.key, IdempotencyRecord.body)).all()
    assert [key for key, _ in records] == ["ev-old"] and records[0][1] == later.get_data(as_text=True)
