"""The deadline sweep: escalations per second on PostgreSQL with N due timers, one and two sweeper
processes, against the naive design of one APScheduler job per deadline in a SQLAlchemyJobStore."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.pg import prepared_app, scratch_database

OPENED_AT = datetime(2026, 11, 24, 2, tzinfo=UTC)
DUE_AT = "2026-11-28T00:00:00+08:00"


def open_cases(app: Any, count: int) -> None:
    from api import services
    from api.auth import Principal
    from api.extensions import db
    from api.models import User

    data = {"applicants": [{"name": "王小明"}], "respondent": {"name": "温岭市东海鞋业有限公司"},
            "dispute_type": "wages", "claims": "拖欠工资", "amount": "1000.00", "channel": "visit"}
    with app.app_context():
        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        engine = app.extensions["gonghui.engine"]
        for index in range(count):
            services.open_case(db.session, engine, principal, services.OpenRequest("mediation_case", None, data),
                               OPENED_AT)
            if index % 1000 == 999:
                db.session.commit()
        db.session.commit()


def one_sweeper(app: Any) -> tuple[int, float]:
    from api.extensions import db
    from api.sweep import sweep_due

    with app.app_context():
        started = time.perf_counter()
        fired = sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"],
                          datetime.fromisoformat(DUE_AT))
        return len(fired), time.perf_counter() - started


def two_sweepers(url: str) -> float:
    environment = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "api.cli", "sweep", "--at", DUE_AT], env=environment,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    for process in processes:
        process.wait(timeout=900)
    return time.perf_counter() - started


def apscheduler_baseline(url: str, count: int) -> dict[str, float]:
    """Schedule one job per deadline in a SQLAlchemyJobStore and let the scheduler fire them all."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    _FIRED["count"], _FIRED["expected"] = 0, count
    _DONE.clear()

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)},
                                    executors={"default": ThreadPoolExecutor(4)},
                                    job_defaults={"misfire_grace_time": None, "coalesce": False})
    scheduler.start(paused=True)
    started = time.perf_counter()
    due = datetime.now(UTC) - timedelta(seconds=1)
    for index in range(count):
        scheduler.add_job(_escalate_stub, "date", run_date=due, args=[index], id=f"deadline-{index}")
    scheduled = time.perf_counter() - started
    scheduler.resume()
    _DONE.wait(timeout=900)
    total = time.perf_counter() - started
    scheduler.shutdown(wait=False)
    return {"scheduled_per_s": round(count / scheduled, 1), "end_to_end_per_s": round(count / total, 1)}


_FIRED = {"count": 0, "expected": 0}
_LOCK = threading.Lock()
_DONE = threading.Event()


def _escalate_stub(index: int) -> None:
    """The job of one deadline (it does no work at all, which flatters the baseline)."""
    with _LOCK:
        _FIRED["count"] += 1
        if _FIRED["count"] >= _FIRED["expected"]:
            _DONE.set()


def run(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"timers": count}
    with scratch_database() as url:
        app = prepared_app(url)
        open_cases(app, count)
        fired, seconds = one_sweeper(app)
        results["one_sweeper"] = {"fired": fired, "seconds": round(seconds, 2), "per_s": round(fired / seconds, 1)}
        with app.app_context():
            from api.extensions import db

            db.engine.dispose()
    with scratch_database() as url:
        app = prepared_app(url)
        open_cases(app, count)
        with app.app_context():
            from api.extensions import db

            db.engine.dispose()
        seconds = two_sweepers(url)
        results["two_sweepers"] = {"seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}
    with scratch_database() as url:
        results["apscheduler_job_per_deadline"] = apscheduler_baseline(url, count)
    return results
