"""The two ways of writing a change (``api.writers``): row by row, and set-wise; both leave the same rows."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from flask import Flask

from api.extensions import db
from api.models import Case, CaseHistory, Timer, User
from api.models_ownership import CaseInvolvement, Notification, Webhook, WebhookOutbox
from api.writers import CASE_COLUMNS, NewCase, RowWriter, SetWriter
from tests.conftest import FrozenClock, mediation_data

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
