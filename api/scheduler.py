"""APScheduler only wakes the sweep: the timers themselves are rows in our tables (see ``api.sweep``).

Every process that starts a scheduler runs its jobs, so only ``gonghui run`` (one development process)
and ``gonghui scheduler`` (the dedicated production process) start one — never gunicorn workers. Several
scheduler processes may run against one PostgreSQL: the sweep's row claims keep each timer to one firing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.orm import Session

from api import definition_store, metrics
from api.errors import described
from api.extensions import db
from api.sweep import sweep_due
from api.webhooks import configured_allow_hosts, deliver_due

log = logging.getLogger(__name__)


def run_sweep(app: Flask) -> int:
    """One sweep at the app's "now"; a database that is away is logged and retried at the next interval."""
    with app.app_context():
        engine = app.extensions["gonghui.engine"]
        try:
            with Session(db.engine) as session:   # versions deployed through another process
                definition_store.refresh(app, session)
            fired = sweep_due(lambda: Session(db.engine), engine, app.config["CLOCK"](),
                              batch=app.config["SWEEP_BATCH"])
        except sa.exc.SQLAlchemyError as error:
            log.error("sweep failed, retrying at the next interval: %s", described(error))
            return 0
        for item in fired:
            log.info("timer %s of case %s: %s", item.timer_id, item.case_number, item.result)
        metrics.count_fired([item.action for item in fired])   # shown by /metrics of any worker (api.metrics)
        _checkpoint(app)
        return len(fired)


def run_deliveries(app: Flask) -> int:
    """Deliver the webhook messages due now (see ``api.webhooks``); returns the attempts made."""
    with app.app_context():
        clock = app.config["CLOCK"]
        try:
            return deliver_due(lambda: Session(db.engine), clock(), clock=clock,
                               allow=configured_allow_hosts(app.config), threads=app.config["WEBHOOK_THREADS"])
        except sa.exc.SQLAlchemyError as error:
            log.error("webhook delivery failed, retrying at the next interval: %s", described(error))
            return 0


def run_housekeeping(app: Flask) -> int:
    """Delete the expired idempotency records (``api.housekeeping``); a database that is away is retried later."""
    from datetime import timedelta

    from api.housekeeping import purge_idempotency_records

    with app.app_context():
        try:
            removed = purge_idempotency_records(lambda: Session(db.engine), app.config["CLOCK"](),
                                                timedelta(hours=app.config["IDEMPOTENCY_TTL_HOURS"]))
        except sa.exc.SQLAlchemyError as error:
            log.error("housekeeping failed, retrying at the next interval: %s", described(error))
            return 0
        if removed:
            log.info("removed %s expired idempotency records", removed)
        return removed


def run_report_compaction(app: Flask) -> int:
    """Fold the report summary's delta rows (``api.report_summary.compact``); one process at a time does it."""
    from api.report_summary import compact

    with app.app_context():
        try:
            with Session(db.engine) as session, session.begin():
                result = compact(session)
        except sa.exc.SQLAlchemyError as error:
            log.error("report summary compaction failed, retrying at the next interval: %s", described(error))
            return 0
        if result.rows_folded:
            log.info("report summary: %s rows folded into %s", result.rows_folded, result.rows_written)
        return result.rows_folded


def _checkpoint(app: Flask) -> None:
    """After each sweep, the heads of the chains that moved are signed into the checkpoint file."""
    from api import checkpoints

    try:
        with Session(db.engine) as session:
            checkpoints.write(session, checkpoints.Seal.of(app), app.config["CLOCK"]())
    except (sa.exc.SQLAlchemyError, OSError) as error:
        log.error("audit checkpoint not written, retrying after the next sweep: %s", described(error))


def _add_job(scheduler: BackgroundScheduler | BlockingScheduler, app: Flask) -> None:
    scheduler.add_job(run_sweep, "interval", seconds=app.config["SWEEP_INTERVAL_SECONDS"], args=[app],
                      id="sweep", max_instances=1, coalesce=True, next_run_time=None)
    scheduler.add_job(run_deliveries, "interval", seconds=app.config["WEBHOOK_INTERVAL_SECONDS"], args=[app],
                      id="webhooks", max_instances=1, coalesce=True, next_run_time=None)
    scheduler.add_job(run_housekeeping, "interval", seconds=app.config["HOUSEKEEPING_INTERVAL_SECONDS"],
                      args=[app], id="housekeeping", max_instances=1, coalesce=True)
    scheduler.add_job(run_report_compaction, "interval", seconds=app.config["REPORT_COMPACT_INTERVAL_SECONDS"],
                      args=[app], id="report_compaction", max_instances=1, coalesce=True)


def start_background(app: Flask) -> BackgroundScheduler:
    """The sweep in a thread of this process (the one-process development server)."""
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    _add_job(scheduler, app)
    scheduler.start()
    scheduler.modify_job("sweep", next_run_time=app.config["CLOCK"]())
    log.info("deadline sweep every %ss in this process", app.config["SWEEP_INTERVAL_SECONDS"])
    return scheduler


def run_blocking(app: Flask) -> None:
    """The dedicated scheduler process of a production deployment."""
    scheduler = BlockingScheduler(timezone="Asia/Shanghai")
    _add_job(scheduler, app)
    log.info("deadline scheduler: sweeping every %ss", app.config["SWEEP_INTERVAL_SECONDS"])
    run_sweep(app)  # after downtime, fire everything overdue at once
    run_housekeeping(app)
    scheduler.start()
