"""Bearer tokens are checked against the database at most once per ``TOKEN_CACHE_SECONDS`` in each process:
what this process does to a token or its user takes effect at once; what another process does, within that
time; an expired token is refused however fresh its check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api import token_cache
from api.extensions import db
from api.models import ApiToken, User
from tests.conftest import Api, FrozenClock

WORKLIST = "/api/v1/worklist"
IMPORT = "/api/v1/enterprises/import"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(token_cache.time, "monotonic", clock)
    return clock


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    """The statements sent meanwhile."""
    seen: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _as_another_process(app: Flask, statement: Any) -> None:
    """A change written straight to the database, as another process (a worker, the command line) would."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(statement)


def test_a_cached_token_costs_no_query_until_its_check_is_two_seconds_old(fresh: Flask, api: Api,
                                                                          monotonic: Monotonic) -> None:
    headers = api.headers("chengdong_clerk")
    assert api.client.get(WORKLIST, headers=headers).status_code == 200
    with _statements(fresh) as seen:
        assert api.client.get(WORKLIST, headers=headers).status_code == 200
        assert not [statement for statement in seen if "api_tokens" in statement]
        monotonic.now += fresh.config["TOKEN_CACHE_SECONDS"]
        assert api.client.get(WORKLIST, headers=headers).status_code == 200
        assert len([statement for statement in seen if "api_tokens" in statement]) == 1


def test_a_token_revoked_by_another_process_stops_working_within_the_cache_time(
        fresh: Flask, api: Api, monotonic: Monotonic) -> None:
    token = api.token("daxi_clerk")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get(WORKLIST, headers=headers).status_code == 200
    _as_another_process(fresh, sa.update(ApiToken).values(revoked_at=sa.func.now()))
    monotonic.now += fresh.config["TOKEN_CACHE_SECONDS"] - 0.5
    assert api.client.get(WORKLIST, headers=headers).status_code == 200   # still within the stated staleness
    monotonic.now += 0.5
    assert api.client.get(WORKLIST, headers=headers).status_code == 401


def test_roles_taken_away_by_another_process_are_seen_within_the_cache_time(
        fresh: Flask, api: Api, monotonic: Monotonic) -> None:
    headers = api.headers("city_admin")
    assert api.client.get("/api/v1/admin/users", headers=headers).status_code == 200
    _as_another_process(fresh, sa.update(User).where(User.username == "city_admin").values(roles=["clerk"]))
    monotonic.now += fresh.config["TOKEN_CACHE_SECONDS"]
    assert api.client.get("/api/v1/admin/users", headers=headers).status_code == 403


def test_what_this_process_changes_takes_effect_at_once(fresh: Flask, api: Api, monotonic: Monotonic) -> None:
    clerk = api.headers("chengdong_clerk")
    assert api.client.post(IMPORT, headers=clerk).status_code != 403   # a clerk may import (the file is missing)
    changed = api.client.patch("/api/v1/admin/users/chengdong_clerk", json={"roles": ["mediator"]},
                               headers=api.headers("city_admin"))
    assert changed.status_code == 200
    assert api.client.post(IMPORT, headers=clerk).status_code == 403   # no waiting for the cache


def test_signing_out_and_ending_sessions_take_effect_at_once(fresh: Flask, api: Api, monotonic: Monotonic) -> None:
    token = api.token("ent_clerk")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get(WORKLIST, headers=headers).status_code == 200
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204   # one UPDATE of tokens
    assert api.client.get(WORKLIST, headers=headers).status_code == 401
    api.tokens.pop("ent_clerk")
    second = api.headers("ent_clerk")
    assert api.client.get(WORKLIST, headers=second).status_code == 200
    ended = api.client.delete("/api/v1/admin/users/ent_clerk/sessions", headers=api.headers("city_admin"))
    assert ended.status_code == 204   # one UPDATE of the user's session generation
    assert api.client.get(WORKLIST, headers=second).status_code == 401


def test_an_expired_token_is_refused_however_fresh_its_check(fresh: Flask, api: Api, clock: FrozenClock,
                                                            monotonic: Monotonic) -> None:
    headers = api.headers("chengdong_clerk")
    assert api.client.get(WORKLIST, headers=headers).status_code == 200
    clock.advance(hours=fresh.config["TOKEN_TTL_HOURS"], seconds=1)
    assert api.client.get(WORKLIST, headers=headers).status_code == 401


def test_no_cache_when_its_time_is_zero(fresh: Flask, api: Api, monotonic: Monotonic) -> None:
    cache = token_cache.TokenCache[str](0)
    cache.put("digest", "caller", None)
    assert cache.get("digest", fresh.config["CLOCK"]()) is None
    second = token_cache.TokenCache[str](2)
    second.put("digest", "caller", fresh.config["CLOCK"]() + timedelta(hours=1))
    assert second.get("digest", fresh.config["CLOCK"]()) == "caller"
    token_cache.forget_all()
    assert second.get("digest", fresh.config["CLOCK"]()) is None
