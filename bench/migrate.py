"""Open cases migrated per second to a new version of their definition, deadlines recounted, against the baseline
of firing one event per case through the use case, measured in the same run on PostgreSQL; and the dry run's time.

The figure: ``count`` unaccepted mediation cases at an enterprise; ``mediation_case`` v2 (``registered`` 5 working
days instead of 3) is deployed and ``definition_migrations.run`` moves every case (a ``migrate`` history row, the
new deadline, the version checked), from its check of the plan to its last batch. The baseline, on a fresh database
with the same cases: ``api.cases.fire_event`` of ``accept`` on each case (its own history row, a new deadline),
committed in batches of the same size. The dry run is timed on its own (``definition_migrations.dry_run``), at
``count`` and, once, on a database of ``dry_run_cases`` open cases (``dry_run_at``)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.pg import prepared_app, scratch_database
from bench.sweep import OPENED_AT, _dispose, open_cases

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
BATCH = 500


def _seeded(app: Any, count: int) -> None:
    """``count`` open cases, and the statistics autovacuum would have gathered on a database in service (without
    them the planner takes the freshly filled tables for empty and scans them whole for each batch)."""
    from api.extensions import db

    open_cases(app, count)
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("cases", "timers", "case_history"):
            connection.execute(sa.text(f"ANALYZE {table}"))


def _v2() -> str:
    text = (DEFINITIONS / "mediation_case.v1.yaml").read_text(encoding="utf-8")
    return text.replace("version: 1\n", "version: 2\n").replace("period: {working_days: 3}",
                                                                "period: {working_days: 5}", 1)


def _plan(app: Any) -> Any:
    """v2 deployed; the plan that moves every open case of v1 to it, deadlines recounted."""
    from api import definition_migrations, definition_store
    from api.extensions import db

    definition_store.deploy_in_app(app, db.session, _v2(), actor="bench", now=OPENED_AT)
    db.session.commit()
    return definition_migrations.make_plan(app.extensions["gonghui.engine"], "mediation_case", {
        "from_version": 1, "to_version": 2, "state_map": {}, "recount_deadlines": True})


def _dry(app: Any, plan: Any, count: int) -> float:
    from api import definition_migrations
    from api.extensions import db

    started = time.perf_counter()
    moves = definition_migrations.dry_run(db.session, plan)
    seconds = time.perf_counter() - started
    db.session.rollback()
    assert len(moves) == count, (len(moves), count)
    return seconds


def _migrate(app: Any, count: int) -> tuple[float, float]:
    """(seconds of the dry run, seconds of the real run) for every open case."""
    from sqlalchemy.orm import Session

    from api import definition_migrations
    from api.extensions import db

    with app.app_context():
        plan = _plan(app)
        dry = _dry(app, plan, count)
        started = time.perf_counter()
        result = definition_migrations.run(lambda: Session(db.engine), plan, actor="bench", now=OPENED_AT)
        real = time.perf_counter() - started
        assert len(result.moves) == count and not result.conflicts, (len(result.moves), result.conflicts)
    return dry, real


def _fire_each(app: Any, count: int) -> float:
    from api.auth import Principal
    from api.cases import FireRequest, fire_event, get_case
    from api.extensions import db
    from api.models import Case, User

    with app.app_context():
        engine = app.extensions["gonghui.engine"]
        mediator = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        ids = list(db.session.scalars(sa.select(Case.id).order_by(Case.id)))
        started = time.perf_counter()
        for index, case_id in enumerate(ids, start=1):
            case = get_case(db.session, mediator, case_id)
            fire_event(db.session, engine, mediator, case, FireRequest(
                event="accept", data={"mediator": "李调解"}), OPENED_AT)
            if index % BATCH == 0:
                db.session.commit()
        db.session.commit()
        seconds = time.perf_counter() - started
        assert len(ids) == count
    return seconds


def run(count: int, *, repeats: int = 3, dry_run_cases: int = 0) -> dict[str, Any]:
    """``count`` cases migrated and, as the baseline, moved by one event each (median of ``repeats``); the dry
    run also at ``dry_run_cases`` when given (once)."""
    migrated: list[float] = []
    fired: list[float] = []
    dry: list[float] = []
    for _ in range(repeats):
        for migrating in (False, True):
            with scratch_database() as url:
                app = prepared_app(url)
                _seeded(app, count)
                if migrating:
                    seconds_dry, seconds = _migrate(app, count)
                    dry.append(seconds_dry)
                    migrated.append(count / seconds)
                else:
                    fired.append(count / _fire_each(app, count))
                _dispose(app)
    result: dict[str, Any] = {
        "cases": count, "repeats": repeats,
        "migrated": {"per_s": round(statistics.median(migrated), 1), "runs": [round(r, 1) for r in migrated]},
        "fire_each": {"per_s": round(statistics.median(fired), 1), "runs": [round(r, 1) for r in fired]},
        "dry_run_s": round(statistics.median(dry), 2)}
    if dry_run_cases:
        result["dry_run_large"] = dry_run_at(dry_run_cases)
    return result


def dry_run_at(count: int) -> dict[str, Any]:
    """The dry run of the migration over ``count`` open cases (and how long seeding them took, for the record)."""
    from api.extensions import db

    with scratch_database() as url:
        app = prepared_app(url)
        started = time.perf_counter()
        _seeded(app, count)
        seeded = time.perf_counter() - started
        with app.app_context():
            seconds = _dry(app, _plan(app), count)
            db.session.rollback()
        _dispose(app)
    return {"cases": count, "seconds": round(seconds, 2), "seeding_s": round(seeded, 1)}
