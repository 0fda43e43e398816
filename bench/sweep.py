"""The deadline sweep on PostgreSQL: escalations per second with N due timers, one and two sweeper processes,
the lag between a timer's due time and its firing under the interval scheduler, and the naive design as the
baseline: one APScheduler job per deadline in a SQLAlchemyJobStore, each job escalating its case in its own
transaction (the same work), measured in the same run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.pg import prepared_app, scratch_database
from bench.stats import percentile

OPENED_AT = datetime(2026, 11, 24, 2, tzinfo=UTC)
DUE_AT = "2026-11-28T00:00:00+08:00"
DATA = {"applicants": [{"name": "王小明"}], "respondent": {"name": "温岭市东海鞋业有限公司"},
        "dispute_type": "wages", "claims": "拖欠工资", "amount": "1000.00", "channel": "visit"}


def open_cases(app: Any, count: int, at: datetime = OPENED_AT) -> None:
    """``count`` unaccepted mediation cases at an enterprise (3 working days to accept), opened in bulk."""
    from api.auth import Principal
    from api.cases import open_many
    from api.extensions import db
    from api.models import User

    with app.app_context():
        principal = Principal.of(db.session.scalar(sa.select(User).where(User.username == "ent_clerk")))
        engine = app.extensions["gonghui.engine"]
        for start in range(0, count, 1000):
            open_many(db.session, engine, principal, "mediation_case",
                               [("cd-e001", DATA)] * min(1000, count - start), at)
            db.session.commit()


def _dispose(app: Any) -> None:
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()


def one_sweeper(app: Any) -> tuple[int, float]:
    from api.extensions import db
    from api.sweep import sweep_due

    with app.app_context():
        started = time.perf_counter()
        fired = sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"],
                          datetime.fromisoformat(DUE_AT), batch=app.config["SWEEP_BATCH"])
        return len(fired), time.perf_counter() - started


def two_sweepers(url: str) -> float:
    environment = {**os.environ, "DATABASE_URL": url, "GONGHUI_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "api.cli", "sweep", "--at", DUE_AT], env=environment,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    for process in processes:
        process.wait(timeout=900)
    return time.perf_counter() - started


_JOB: dict[str, Any] = {}
_LOCK = threading.Lock()
_DONE = threading.Event()


def _escalate_job(timer_id: int) -> None:
    """One deadline's job in the naive design: escalate its case in a transaction of its own."""
    from api.extensions import db
    from api.sweep import fire_one

    app = _JOB["app"]
    with app.app_context(), Session(db.engine) as session:
        fire_one(session, app.extensions["gonghui.engine"], timer_id, datetime.fromisoformat(DUE_AT))
        session.commit()
    with _LOCK:
        _JOB["fired"] += 1
        if _JOB["fired"] >= _JOB["expected"]:
            _DONE.set()


def _stub_job(index: int) -> None:
    with _LOCK:
        _JOB["fired"] += 1
        if _JOB["fired"] >= _JOB["expected"]:
            _DONE.set()


def apscheduler_baseline(app: Any, url: str, count: int, *, stub: bool = False) -> dict[str, float]:
    """Schedule one job per deadline in a SQLAlchemyJobStore and let the scheduler fire them all.

    ``stub`` jobs do nothing at all: the cost of APScheduler alone, shown for reference."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from api.extensions import db
    from api.models import Timer

    with app.app_context():
        timer_ids = list(db.session.scalars(sa.select(Timer.id).where(Timer.status == "pending")
                                            .order_by(Timer.id).limit(count)))
    _JOB.update(app=app, fired=0, expected=len(timer_ids))
    _DONE.clear()
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)},
                                    executors={"default": ThreadPoolExecutor(4)},
                                    job_defaults={"misfire_grace_time": None, "coalesce": False})
    scheduler.start(paused=True)
    started = time.perf_counter()
    due = datetime.now(UTC) - timedelta(seconds=1)
    for timer_id in timer_ids:
        scheduler.add_job(_stub_job if stub else _escalate_job, "date", run_date=due, args=[timer_id],
                          id=f"deadline-{timer_id}")
    scheduled = time.perf_counter() - started
    scheduler.resume()
    _DONE.wait(timeout=900)
    total = time.perf_counter() - started
    scheduler.shutdown(wait=True)
    return {"jobs": len(timer_ids), "scheduled_per_s": round(len(timer_ids) / scheduled, 1),
            "end_to_end_per_s": round(_JOB["fired"] / total, 1)}


def lag(app: Any, count: int, interval: float) -> dict[str, float]:
    """Timers falling due one after another over a few seconds of real time, fired by the sweep woken by
    APScheduler every ``interval`` seconds: how late each fires (due time → its batch committed)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from api.extensions import db
    from api.models import Timer
    from api.sweep import Fired, sweep_due

    open_cases(app, count, datetime.now(UTC))
    start = datetime.now(UTC) + timedelta(seconds=1)
    spread = 4.0
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Timer.id).where(Timer.status == "pending").order_by(Timer.id)))
        db.session.execute(sa.update(Timer), [
            {"id": timer_id, "due_at": start + timedelta(seconds=spread * index / len(ids))}
            for index, timer_id in enumerate(ids)])
        db.session.commit()
    lags: list[float] = []
    sweeps: list[float] = []
    done = threading.Event()

    def fired(item: Fired) -> None:
        lags.append((datetime.now(UTC) - item.due_at).total_seconds())
        if len(lags) >= len(ids):
            done.set()

    def wake() -> None:
        began = time.perf_counter()
        with app.app_context():
            sweep_due(lambda: Session(db.engine), app.extensions["gonghui.engine"], datetime.now(UTC),
                      batch=app.config["SWEEP_BATCH"], on_fired=fired)
        sweeps.append(time.perf_counter() - began)

    scheduler = BackgroundScheduler()
    scheduler.add_job(wake, "interval", seconds=interval, max_instances=1, coalesce=True)
    scheduler.start()
    done.wait(timeout=spread + 30 * interval + 30)
    scheduler.shutdown(wait=True)
    longest = max(sweeps) if sweeps else 0.0
    return {"timers": len(ids), "fired": len(lags), "interval_s": interval,
            "median_s": round(statistics.median(lags), 3) if lags else -1,
            "p99_s": round(percentile(lags, 0.99), 3) if lags else -1, "max_s": round(max(lags), 3) if lags else -1,
            "longest_sweep_s": round(longest, 3), "bound_s": round(interval + longest, 3)}


def run(count: int, *, repeats: int = 3, baseline_jobs: int = 3000, two: bool = True) -> dict[str, Any]:
    """The sweep of ``count`` due timers (median of ``repeats`` runs), against the naive design."""
    results: dict[str, Any] = {"timers": count, "repeats": repeats}
    rates = []
    for _ in range(repeats):
        with scratch_database() as url:
            app = prepared_app(url)
            open_cases(app, count)
            fired, seconds = one_sweeper(app)
            assert fired == count, (fired, count)
            rates.append(fired / seconds)
            _dispose(app)
    results["one_sweeper"] = {"per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates],
                              "seconds": round(count / statistics.median(rates), 2)}
    if two:
        with scratch_database() as url:
            app = prepared_app(url)
            open_cases(app, count)
            _dispose(app)
            seconds = two_sweepers(url)
            results["two_sweepers"] = {"seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}
    if not baseline_jobs:
        return results
    with scratch_database() as url:
        app = prepared_app(url)
        open_cases(app, min(count, baseline_jobs))
        results["apscheduler_job_per_deadline"] = apscheduler_baseline(app, url, baseline_jobs)
        results["apscheduler_empty_jobs"] = apscheduler_baseline(app, url, baseline_jobs, stub=True)
        _dispose(app)
    with scratch_database() as url:
        app = prepared_app(url)
        results["lag"] = lag(app, 2000, 1.0)
        _dispose(app)
    return results
