"""What a fired event sends to PostgreSQL, and the connections that carry it: no ping per request, BEGIN and
COMMIT sent along with a statement, a dead pooled connection replaced without an error, and two requests
racing with one Idempotency-Key still firing once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api.connections import configured, open_pipeline, watching
from api.extensions import db
from tests.conftest import Api, mediation_data

pytestmark = pytest.mark.postgres
MEDIATOR = "chengdong_mediator"
EXTEND = {"parties_consent": True, "days": 10}


class Exchanges:
    """Round trips: statements, and the transaction commands psycopg sends on their own (a BEGIN, COMMIT or
    statement that travels in a pipeline with a statement before it costs none and is counted apart)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.counts: Counter[str] = Counter()
        self.seen: list[str] = []
        self.pipeline: Any = None
        assert configured(engine)
        self.watching = watching(self.execute)   # each statement as it is sent, its pipeline open
        self.watching.__enter__()
        sa.event.listen(engine, "commit", self.commit)

    def close(self) -> None:
        self.watching.__exit__(None, None, None)
        sa.event.remove(self.engine, "commit", self.commit)

    def execute(self, raw: Any, statement: str, *_rest: Any) -> None:
        pipeline = open_pipeline(raw)
        if raw.info.transaction_status == 0:   # IDLE: a BEGIN goes first
            self.counts["begin_pipelined" if pipeline is not None else "begin"] += 1
        joins = pipeline is not None and pipeline is self.pipeline
        self.counts["statements_pipelined" if joins else "statements"] += 1
        self.pipeline = pipeline
        self.seen.append(("  + " if joins else "") + statement[:80])

    def commit(self, connection: sa.Connection) -> None:
        pipelined = open_pipeline(connection.connection.dbapi_connection) is not None
        self.counts["commit_pipelined" if pipelined else "commit"] += 1


def _engine(app: Flask) -> sa.Engine:
    with app.app_context():
        return db.engine


def test_a_fired_event_sends_begin_and_commit_along_with_statements_and_no_ping(fresh: Flask, api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
    api.fire(case["id"], "extend", MEDIATOR, EXTEND)   # the token is checked and cached; the pool warm
    pings = Counter[str]()
    engine = _engine(fresh)
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda connection: pings.update(["ping"]) or ping(connection)  # type: ignore[method-assign]
    exchanges = Exchanges(engine)
    try:
        keyed = api.fire(case["id"], "extend", MEDIATOR, EXTEND, headers={"Idempotency-Key": "extend-2"})
        assert keyed.status_code == 200
        with_key = dict(exchanges.counts)
        exchanges.counts.clear()
        assert api.fire(case["id"], "extend", MEDIATOR, EXTEND).status_code == 200
        without_key = dict(exchanges.counts)
    finally:
        exchanges.close()
        engine.dialect.do_ping = ping  # type: ignore[method-assign]
    assert not pings
    listing = "\n".join(exchanges.seen)
    assert with_key["begin_pipelined"] == 1 and "begin" not in with_key, listing
    assert with_key["commit_pipelined"] == 1 and "commit" not in with_key, listing   # with the last inserts
    # round trips: the case (with BEGIN), the writes of the event in one statement (timers cancelled and started
    # and the history row as CTEs of the case's versioned update), then the access record (the caller saw personal
    # data) and the idempotency record with the COMMIT. The key is not looked up first (``CHECKED_AT_COMMIT``): a
    # repeat fails on the record's unique index at the COMMIT and is replayed
    assert with_key["statements"] <= 3, listing
    assert with_key["statements"] + with_key["statements_pipelined"] <= 5, listing
    writes = [line for line in exchanges.seen if line.startswith("WITH ")]
    assert len(writes) == 2, listing   # one for each of the two events
    assert not any(line.lstrip("+ ").startswith("SELECT idempotency_keys") for line in exchanges.seen), listing
    # no key: no record; the access record still takes the COMMIT with it
    assert without_key["statements"] == with_key["statements"], listing
    assert without_key["begin_pipelined"] == 1 and without_key["commit_pipelined"] == 1, listing


def test_a_connection_the_server_closed_is_replaced_on_checkout(fresh: Flask, api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    engine = _engine(fresh)
    with engine.connect() as connection:
        pids = {connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()}
    pids |= {row[0] for row in _pool_backends(engine)}
    with sa.create_engine(engine.url, poolclass=sa.pool.NullPool).connect() as admin:
        for pid in pids:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)}, 5000)")   # waits until it is gone
    answer = api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
    assert answer.status_code == 200, answer.get_json()
    assert api.get(f"/cases/{case['id']}", MEDIATOR).get_json()["state"] == "mediating"


def _pool_backends(engine: sa.Engine) -> list[tuple[int]]:
    """The backend of every connection the pool holds (each checked out once)."""
    held = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        return [(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar(),) for connection in held]
    finally:
        for connection in held:
            connection.close()


def test_two_requests_racing_with_one_key_fire_once_and_answer_alike(fresh: Flask, api: Api) -> None:
    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    api.fire(case["id"], "accept", MEDIATOR, {"mediator": "李调解"})
    headers = {**api.headers(MEDIATOR), "Idempotency-Key": "race-extend"}
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def fire() -> None:
        client = fresh.test_client()
        barrier.wait()
        answers.append(client.post(f"/api/v1/cases/{case['id']}/events/extend", json={"data": EXTEND},
                                   headers=headers))

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].get_json()["version"] == answers[1].get_json()["version"] == 3
    history = api.get(f"/cases/{case['id']}/history", MEDIATOR).get_json()
    assert [row["event"] for row in history] == ["open", "accept", "extend"]


def test_an_error_of_a_statement_sent_with_the_commit_is_raised_by_the_commit(fresh: Flask, clock: Any) -> None:
    from api import connections
    from api.models import IdempotencyRecord

    row = {"principal": "user:1", "key": "k", "method": "POST", "path": "/api/v1/cases", "request_hash": "0" * 64,
           "status": 201, "body": "{}", "headers": {}, "created_at": clock()}
    insert = sa.insert(IdempotencyRecord.__table__).inline()
    with fresh.app_context():
        connections.commit_with_next_statements(db.session)
        db.session.execute(insert, row)
        db.session.commit()
        connections.commit_with_next_statements(db.session)
        db.session.execute(insert, {**row, "body": "{\"second\": true}"})   # the same (principal, key)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalars(sa.select(IdempotencyRecord.body)).all() == ["{}"]
        connections.commit_with_next_statements(db.session)
        db.session.rollback()   # asked for, then nothing sent: the next transaction is as usual
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 1


def test_an_api_request_while_the_database_is_away_is_503_and_the_next_one_after_it_succeeds(
        fresh: Flask, api: Api) -> None:
    from api import create_app
    from tests.integration.test_reliability import Proxy

    case = api.open_case(MEDIATOR, "mediation_case", mediation_data())
    url = sa.make_url(fresh.config["SQLALCHEMY_DATABASE_URI"])
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.set(host="127.0.0.1", port=proxy.port)
                      .render_as_string(hide_password=False), "TESTING": True, "CLOCK": fresh.config["CLOCK"],
                      "SECRET_KEY": fresh.config["SECRET_KEY"]})
    client, headers = app.test_client(), api.headers(MEDIATOR)
    assert client.get(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 200
    proxy.cut()
    away = client.get(f"/api/v1/cases/{case['id']}", headers=headers)
    assert away.status_code == 503 and away.headers["Retry-After"] == "1"
    assert away.content_type == "application/problem+json"
    proxy.restore()
    assert client.get(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_the_engine_keeps_no_event_listeners(fresh: Flask) -> None:
    """Pipelines are opened and closed by the dialect's ``do_execute`` and its siblings, not by engine events: an
    engine with a listener of any kind runs SQLAlchemy's event dispatch around every statement (about 4 % of a
    fired event's instructions, ``python -m bench.instructions``)."""
    from api import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": _engine(fresh).url.render_as_string(hide_password=False)})
    with app.app_context():
        engine = db.engine
        assert configured(engine)
        assert not engine._has_events and not engine.dialect._has_events
        engine.dispose()
