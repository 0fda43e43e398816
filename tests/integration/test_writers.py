"""The two ways of writing a change (``api.writers``): row by row, and set-wise; both leave the same rows."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.models import Case, CaseHistory, Timer, User
from api.models_ownership import CaseInvolvement, Notification, Webhook, WebhookOutbox
from api.writers import CASE_COLUMNS, NewCase, RowWriter, SetWriter
from tests.conftest import FrozenClock, mediation_data
from workflow.errors import StaleVersion

# what differs between two cases opened alike: who they are, and what is derived from who they are
OWN = {"id", "number", "hash", "prev_hash", "history_hash", "case_id", "event_id", "body"}


def test_a_new_case_record_has_every_column_of_the_cases_table() -> None:
    fields = {field.name for field in dataclasses.fields(NewCase)}
    assert set(CASE_COLUMNS) <= fields
    assert fields - set(CASE_COLUMNS) == {"org_unit"}


def _rows(model: Any, case_id: int, number: str) -> list[dict[str, Any]]:
    table = model.__table__
    key = table.c.id if model is Case else table.c.case_id
    found = db.session.execute(sa.select(table).where(key == case_id).order_by(*table.primary_key.columns))
    return [{name: value.replace(number, "<number>") if isinstance(value, str) else value
             for name, value in row._mapping.items() if name not in OWN} for row in found]


def test_a_case_opened_alone_and_one_opened_in_a_set_leave_the_same_rows(fresh: Flask, clock: FrozenClock) -> None:
    from api.auth import Principal
    from api.cases import OpenRequest, open_case, open_many

    with fresh.app_context():
        db.session.add(Webhook(url="https://hooks.example/a", events=["case.opened"], secret="s" * 20, active=True,
                               created_by="city_admin", created_at=clock()))
        db.session.commit()
        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        engine = fresh.extensions["gonghui.engine"]
        alone = open_case(db.session, engine, principal, OpenRequest("mediation_case", "cd-e001",
                                                                     mediation_data()), clock())
        (in_a_set,) = open_many(db.session, engine, principal, "mediation_case", [("cd-e001", mediation_data())],
                                clock())
        db.session.commit()
        for model in (Case, CaseHistory, Timer, CaseInvolvement, Notification, WebhookOutbox):
            rows = _rows(model, alone.id, alone.number)
            assert rows, model.__tablename__   # each table has a row to compare
            assert rows == _rows(model, in_a_set.id, in_a_set.number), model.__tablename__


def test_a_row_writer_writes_with_the_change_and_a_set_writer_when_told(fresh: Flask, clock: FrozenClock) -> None:
    from api import deadlines

    with fresh.app_context():
        from api.auth import Principal
        from api.cases import OpenRequest, open_case

        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        case = open_case(db.session, fresh.extensions["gonghui.engine"], principal,
                         OpenRequest("mediation_case", None, mediation_data()), clock())
        db.session.commit()
        pending = sa.select(sa.func.count()).select_from(Timer).where(Timer.case_id == case.id,
                                                                        Timer.status == "pending")
        assert db.session.scalar(pending) == 1
        collecting = SetWriter(db.session)
        deadlines.cancel_timers(collecting, case)
        assert db.session.scalar(pending) == 1   # noted only
        collecting.write()
        assert db.session.scalar(pending) == 0
        db.session.rollback()
        rows = RowWriter(db.session)
        deadlines.cancel_timers(rows, case)
        assert db.session.scalar(pending) == 1   # in order, with the case's change
        rows.write()
        assert db.session.scalar(pending) == 0


def test_a_case_changed_alone_is_written_with_the_columns_whose_values_changed(fresh: Flask,
                                                                              clock: FrozenClock) -> None:
    """The one-statement update of a case sets the columns that hold another value than the one loaded (a column
    assigned its own value again is left out, as the unit of work leaves it) and moves the version by one."""
    with fresh.app_context():
        from api.auth import Principal
        from api.cases import OpenRequest, open_case

        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        case = open_case(db.session, fresh.extensions["gonghui.engine"], principal,
                         OpenRequest("mediation_case", None, mediation_data()), clock())
        db.session.commit()
        case_id, version, level = case.id, case.version, case.level
        sent: list[str] = []

        def keep(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE CASES"):
                sent.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", keep)
        try:
            case = db.session.get(Case, case_id)
            assert case is not None
            case.level = level                      # the same value again
            case.data = dict(case.data)             # an equal copy
            case.overdue = not case.overdue         # a real change
            RowWriter(db.session).changed(case)
            db.session.commit()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", keep)
        assert len(sent) == 1
        assigned = sent[0].split(" WHERE ")[0]
        assert "overdue=" in assigned and "version=" in assigned
        assert "level=" not in assigned and "data=" not in assigned
        stored = db.session.get(Case, case_id)
        assert stored is not None and stored.version == version + 1 and stored.overdue is True


def _opened(app: Flask, clock: FrozenClock) -> int:
    from api.auth import Principal
    from api.cases import OpenRequest, open_case

    principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "chengdong_mediator")))
    case = open_case(db.session, app.extensions["gonghui.engine"], principal,
                     OpenRequest("mediation_case", None, mediation_data()), clock())
    db.session.commit()
    return case.id


def _accepted_and_extended_twice(app: Flask, clock: FrozenClock, case_id: int) -> int:
    """Timers cancelled and started, history written: ``case_id``."""
    from api.auth import Principal
    from api.cases import FireRequest, fire_event

    principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "chengdong_mediator")))
    for event, data in (("accept", {"mediator": "李调解"}), ("extend", {"parties_consent": True, "days": 10}),
                        ("extend", {"parties_consent": True, "days": 5})):
        fire_event(db.session, app.extensions["gonghui.engine"], principal, db.session.get(Case, case_id),
                   FireRequest(event, data), clock())
        db.session.commit()
    return case_id


def test_rows_riding_on_the_case_s_update_are_the_rows_written_one_by_one(fresh: Flask, clock: FrozenClock,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a fired event's rows go in the case's update as CTEs; with none allowed to ride they go one
    by one. Both leave the same cases, history (its hash chain included), timers and notices."""
    from api import writers

    with fresh.app_context():
        riding = _accepted_and_extended_twice(fresh, clock, _opened(fresh, clock))
        monkeypatch.setattr(writers, "MAX_RIDING_ROWS", 0)
        alone = _accepted_and_extended_twice(fresh, clock, _opened(fresh, clock))
        number = {case_id: db.session.get(Case, case_id).number for case_id in (riding, alone)}  # type: ignore[union-attr]
        for model in (Case, CaseHistory, Timer, Notification):
            rows = _rows(model, riding, number[riding])
            assert rows or model is Notification, model.__tablename__
            assert rows == _rows(model, alone, number[alone]), model.__tablename__
        assert [row["status"] for row in _rows(Timer, riding, number[riding])] == \
            ["cancelled", "cancelled", "cancelled", "pending"]


@pytest.mark.postgres
def test_a_fired_event_writes_its_rows_and_the_case_in_one_statement(fresh: Flask, clock: FrozenClock) -> None:
    sent: list[str] = []

    def keep(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()))

    with fresh.app_context():
        case_id = _opened(fresh, clock)
        sa.event.listen(db.engine, "before_cursor_execute", keep)
        try:
            _accepted_and_extended_twice(fresh, clock, case_id)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", keep)
    writes = [statement for statement in sent if not statement.startswith("SELECT")]
    extend = [statement for statement in writes if "INSERT INTO case_history" in statement][-1]
    assert extend.startswith("WITH w0 AS (UPDATE timers SET status="), extend
    assert "INSERT INTO timers" in extend and extend.split(") UPDATE cases SET ")[1].endswith(
        "WHERE cases.id = %(c_id)s::INTEGER AND cases.version = %(c_v)s::INTEGER"), extend
    assert not any(statement.startswith(("INSERT INTO case_history", "INSERT INTO timers", "UPDATE timers"))
                   for statement in writes), writes


@pytest.mark.postgres
def test_a_lost_race_with_rows_riding_on_the_update_leaves_none_of_them(fresh: Flask, clock: FrozenClock) -> None:
    from api.auth import Principal
    from api.cases import FireRequest, fire_event

    with fresh.app_context():
        case_id = _accepted_and_extended_twice(fresh, clock, _opened(fresh, clock))
        counts = {model: sa.select(sa.func.count()).select_from(model).where(model.case_id == case_id)
                  for model in (CaseHistory, Timer)}
        before = {model: db.session.scalar(count) for model, count in counts.items()}
        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "chengdong_mediator")))
        case = db.session.get(Case, case_id)
        assert case is not None
        with db.engine.begin() as other:   # another request moved the case on meanwhile
            other.execute(sa.update(Case).where(Case.id == case_id).values(version=Case.version + 1))
        with pytest.raises(StaleVersion):
            fire_event(db.session, fresh.extensions["gonghui.engine"], principal, case,
                       FireRequest("extend", {"parties_consent": True, "days": 3}), clock())
        db.session.rollback()
        assert {model: db.session.scalar(count) for model, count in counts.items()} == before


def test_rows_ride_on_the_update_only_where_one_statement_does_what_the_row_by_row_writes_do() -> None:
    from api.writers import MAX_RIDING_ROWS, _combinable

    class Dialect:
        def __init__(self, name: str) -> None:
            self.name = name

    class Connection:
        def __init__(self, name: str) -> None:
            self.dialect = Dialect(name)

    history, cancel = (CaseHistory.__table__, {}), (None, {})
    timers = (Timer.__table__, {"case_id": 1, "status": "pending", "provisional": False})
    postgres: Any = Connection("postgresql")
    assert _combinable(postgres, [cancel, timers, history])
    assert _combinable(postgres, [cancel, timers, timers, history])
    # the parts of one statement see one snapshot: a cancel after a new timer would not see it
    assert not _combinable(postgres, [timers, cancel, history])
    # a row without a column that has a default in Python: SQLAlchemy would bind it under the column's own name
    assert not _combinable(postgres, [cancel, (Timer.__table__, {"case_id": 1}), history])
    assert not _combinable(postgres, [history] * (MAX_RIDING_ROWS + 1))
    assert not _combinable(postgres, [])
    assert not _combinable(Connection("sqlite"), [cancel, timers, history])  # type: ignore[arg-type]


def test_rows_of_one_table_riding_together_are_bound_by_names_of_their_own() -> None:
    from sqlalchemy.dialects import postgresql

    from api.writers import _case_update_with, _riding

    timer = {column.key: None for column in Timer.__table__.columns if column.key != "id"}
    pending = [(None, {"t_case_id": 7, "t_statuses": ["pending"]}), (Timer.__table__, {**timer, "kind": "due"}),
               (Timer.__table__, {**timer, "kind": "warn"})]
    parts, values = _riding(pending)
    compiled = _case_update_with(("due_at",), parts).compile(dialect=postgresql.dialect())
    sql = " ".join(str(compiled).split())
    assert sql.startswith("WITH w0 AS (UPDATE timers SET status=") and sql.count("INSERT INTO timers") == 2
    assert "%(w1_kind)s" in sql and "%(w2_kind)s" in sql
    assert values["w1_kind"] == "due" and values["w2_kind"] == "warn" and values["w0_case_id"] == 7
    assert set(values) | {"c_due_at", "c_id", "c_v", "c_next"} >= {name for name in compiled.params
                                                                    if not name.startswith("param_")}
