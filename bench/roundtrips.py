"""Round trips to PostgreSQL per request, counted at the driver for each app the HTTP benchmark runs.

Each app is driven in this process through Flask's test client with the requests of ``fire.lua`` (``extend``
on many cases, each with its own ``Idempotency-Key``) over the benchmark's database, after a few requests to
warm the caches up (as a worker that has served a while). Every exchange with the server is counted:
- ``statements``: each execute or executemany (psycopg 3 sends an executemany as one pipeline);
- ``begin``: the BEGIN psycopg sends before the first statement on a connection outside a transaction;
- ``commit`` / ``rollback``: on a connection inside a transaction (psycopg sends none on an idle one), also
  the pool's reset-on-return rollback;
- ``ping``: the pool's pre-ping on checkout (``pool_pre_ping``).
A BEGIN, COMMIT or statement sent in a pipeline with a statement before it (``api/connections.py``) costs no
round trip of its own: it is counted apart (``begin_pipelined``, ``commit_pipelined``, ``statements_pipelined``
— those are also among the ``statements``) and not in the total.
The statements of one request are kept, to say which remain, and how each was compiled: from SQLAlchemy's
cache of compiled statements (``cached``), compiled afresh (``compiled``: a statement that keeps missing the
cache, e.g. with literal values in it, would show here), or sent as written (``raw``).
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.engine.default import CACHE_HIT

from api.connections import configured, open_pipeline, watching

WARM_UP, MEASURED = 5, 40
# The same count before the token cache, the single idempotency look-up, the check of connections without a
# ping and the pipelined BEGIN and COMMIT (commit eb52f4c): printed beside the figure of each run.
BEFORE = {"commit": "eb52f4c", "round_trips": 12.0, "by_kind": {"ping": 1.0, "begin": 1.0, "statements": 9.0,
                                                                "commit": 1.0}}


class RoundTrips:
    """Counts what an engine sends to the database, by kind; ``statements`` lists the last request's."""

    def __init__(self, engine: sa.Engine) -> None:
        self.counts: Counter[str] = Counter()
        self.compiling: Counter[str] = Counter()
        self.statements: list[str] = []
        self._pipeline: Any = None
        # our engine's statements are seen as they are sent, their pipeline open (api.connections); others' here
        self._watched = configured(engine)
        if not self._watched:
            sa.event.listen(engine, "before_cursor_execute", self._execute_event)
        sa.event.listen(engine, "commit", self._end("commit"))
        sa.event.listen(engine, "rollback", self._end("rollback"))
        sa.event.listen(engine.pool, "reset", self._reset)
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.counts["ping"] += 1
            return bool(ping(dbapi_connection))

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]

    @staticmethod
    def _pipelined(dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.pgconn.pipeline_status != 0)

    @staticmethod
    def _in_transaction(dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.info.transaction_status != TransactionStatus.IDLE)

    def watching(self) -> Any:
        """The block in which our engine's statements are counted."""
        return watching(self._execute) if self._watched else nullcontext()

    def _execute_event(self, connection: sa.Connection, _cursor: Any, statement: str, _parameters: Any,
                       context: Any, executemany: bool) -> None:
        self._execute(connection.connection.dbapi_connection, statement, context, executemany)

    def _execute(self, dbapi_connection: Any, statement: str, context: Any, executemany: bool) -> None:
        self.compiling[_compiled(context)] += 1
        pipeline = open_pipeline(dbapi_connection)
        if pipeline is not None and pipeline is self._pipeline:
            self.counts["statements_pipelined"] += 1
        self._pipeline = pipeline
        if not dbapi_connection.autocommit and not self._in_transaction(dbapi_connection):
            pipelined = self._pipelined(dbapi_connection)
            self.counts["begin_pipelined" if pipelined else "begin"] += 1
            self.statements.append("BEGIN (with the next statement)" if pipelined else "BEGIN")
        self.counts["statements"] += 1
        self.statements.append(("(executemany) " if executemany else "") + " ".join(statement.split())[:160])

    def _end(self, kind: str) -> Any:
        def ended(connection: sa.Connection) -> None:
            dbapi_connection = connection.connection.dbapi_connection
            if self._in_transaction(dbapi_connection) or self._pipelined(dbapi_connection):
                pipelined = self._pipelined(dbapi_connection)
                self.counts[f"{kind}_pipelined" if pipelined else kind] += 1
                self.statements.append(kind.upper() + (" (with the statement before)" if pipelined else ""))
        return ended

    def _reset(self, dbapi_connection: Any, _record: Any, _reset_state: Any) -> None:
        if self._in_transaction(dbapi_connection):
            self.counts["rollback"] += 1
            self.statements.append("ROLLBACK (reset on return)")

    def total(self) -> int:
        """Round trips: every exchange not sent in a pipeline with another."""
        alone = sum(count for kind, count in self.counts.items() if not kind.endswith("_pipelined"))
        return alone - self.counts["statements_pipelined"]


def _compiled(context: Any) -> str:
    if context is None or context.compiled is None:
        return "raw"
    return "cached" if context.cache_hit is CACHE_HIT else "compiled"


def _fire(client: Any, environment: dict[str, str], counter: int) -> int:
    cases, first = int(environment["BENCH_CASES"]), int(environment["BENCH_FIRST_ID"])
    case_id = first + (counter * 97 + 13 * 7919) % cases
    answer = client.post(f"/api/v1/cases/{case_id}/events/extend",
                         json={"data": {"parties_consent": True, "days": 10}},
                         headers={"Authorization": f"Bearer {environment['BENCH_TOKEN']}",
                                  "Idempotency-Key": f"round-trips-{os.getpid()}-{counter}"})
    return int(answer.status_code)


def per_request(app: Any, engine: sa.Engine, environment: dict[str, str], offset: int) -> dict[str, Any]:
    """The round trips of one fired event through ``app`` (the mean of ``MEASURED`` requests), by kind."""
    counting = RoundTrips(engine)
    client = app.test_client()
    statuses: Counter[int] = Counter()
    for number in range(WARM_UP):
        statuses[_fire(client, environment, offset + number)] += 1
    counting.counts.clear()
    counting.compiling.clear()
    with counting.watching():
        for number in range(WARM_UP, WARM_UP + MEASURED):
            counting.statements = []
            statuses[_fire(client, environment, offset + number)] += 1
    kinds = {kind: round(count / MEASURED, 2) for kind, count in sorted(counting.counts.items())}
    compiling = {how: round(count / MEASURED, 2) for how, count in sorted(counting.compiling.items())}
    return {"round_trips": round(counting.total() / MEASURED, 2), "by_kind": kinds, "compiling": compiling,
            "last_request": counting.statements, "statuses": dict(statuses)}


def run(url: str, environment: dict[str, str]) -> dict[str, Any]:
    """Round trips per fired event of our app, the baseline and the floor, over the database at ``url``."""
    os.environ["DATABASE_URL"] = url
    from api import create_app
    from api.extensions import db

    ours = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING", "SECRET_KEY": "r" * 64})
    results: dict[str, Any] = {}
    from bench import baseline_app, floor_app

    for name, app, offset in (("gonghui", ours, 0), ("baseline", baseline_app.app, 1000)):
        with app.app_context():   # only to reach the engine: each request pushes its own context
            engine = db.engine
        results[name] = per_request(app, engine, environment, offset)
        engine.dispose()
    results["floor"] = per_request(floor_app.app, floor_app.engine, environment, 2000)
    floor_app.engine.dispose()
    results["gonghui_before"] = BEFORE
    return results
