"""Statements over a set of rows (``api.setwise``): the rows read back as written whatever their types, an update
passes over a row whose version moved and names the rows it wrote, and on PostgreSQL a batch is one statement
(the report summary's statement trigger runs once for it)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.models import Case, Timer
from api.setwise import insert_rows, update_matching
from tests.conftest import Api, FrozenClock, mediation_data, shanghai

TIMERS, CASES = Timer.__table__, Case.__table__


def _cases(api: Api, count: int) -> list[dict[str, Any]]:
    return [api.open_case("chengdong_mediator", "mediation_case", mediation_data()) for _ in range(count)]


def _statements(connection: sa.Connection) -> list[str]:
    seen: list[str] = []
    sa.event.listen(connection, "before_cursor_execute",
                    lambda _c, _cursor, statement, *_: seen.append(statement.split()[0]))
    return seen


def test_timers_inserted_set_wise_read_back_as_written(fresh: Flask, api: Api, clock: FrozenClock) -> None:
    ids = [case["id"] for case in _cases(api, 3)]
    rows = [{"case_id": case_id, "state": "mediating", "kind": "deadline", "action": "escalate",
             "due_at": shanghai(2026, 12, 1 + index, 0), "status": "pending", "provisional": index == 1,
             "started_at": None if index == 2 else shanghai(2026, 11, 24, 9, 30), "period": "working_days:5",
             "remaining_seconds": None, "created_at": clock(), "fired_at": None, "result": "已提醒“调解员”"}
            for index, case_id in enumerate(ids)]
    with fresh.app_context(), db.engine.connect() as connection:
        statements = _statements(connection)
        insert_rows(connection, TIMERS, rows)
        connection.commit()
        if connection.dialect.name == "postgresql":
            assert statements == ["INSERT"]
        names = list(rows[0])
        found = connection.execute(sa.select(*(TIMERS.c[name] for name in names))
                                   .where(TIMERS.c.case_id.in_(ids), TIMERS.c.period == "working_days:5")
                                   .order_by(TIMERS.c.case_id))
        assert [dict(row._mapping) for row in found] == rows


def test_an_update_writes_the_rows_still_at_the_version_read_and_names_them(
        fresh: Flask, api: Api, clock: FrozenClock) -> None:
    """Three cases read at version 1; one changes meanwhile (a clerk accepts it): the update passes it over,
    writes the other two with every type of value, and returns their ids."""
    ids = [case["id"] for case in _cases(api, 3)]
    assert api.fire(ids[1], "accept", "chengdong_mediator", {"mediator": "李调解"}).status_code == 200
    due = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    rows = [{"was_id": case_id, "was_version": 1, "version": 2, "amount": Decimal("12345.67"), "due_at": due,
             "due_provisional": True, "category": "工资", "party": None, "data": {"kind": "wages", "note": "补发"}}
            for case_id in ids]
    with fresh.app_context(), db.engine.connect() as connection:
        statements = _statements(connection)
        written = update_matching(connection, CASES, ("id", "version"), rows)
        connection.commit()
        assert written == {ids[0], ids[2]}
        if connection.dialect.name == "postgresql":
            assert statements == ["UPDATE"]
        found = {row.id: row for row in connection.execute(sa.select(CASES).where(CASES.c.id.in_(ids)))}
    for case_id in (ids[0], ids[2]):
        row = found[case_id]
        assert (row.version, row.amount, row.due_at, row.due_provisional, row.category, row.party, row.data) == (
            2, Decimal("12345.67"), due, True, "工资", None, {"kind": "wages", "note": "补发"})
    raced = found[ids[1]]
    assert (raced.version, raced.state, raced.due_provisional, "note" in raced.data) == (2, "mediating", False, False)


def test_a_naive_time_is_refused_not_stored_in_some_zone(fresh: Flask, api: Api) -> None:
    case_id = _cases(api, 1)[0]["id"]
    row = {"was_id": case_id, "was_version": 1, "version": 2, "due_at": datetime(2026, 12, 2, 16, 0)}
    with fresh.app_context(), db.engine.connect() as connection, pytest.raises((ValueError, sa.exc.StatementError)):
        update_matching(connection, CASES, ("id", "version"), [row])
