"""``gonghui sweep``, ``gonghui scheduler`` and ``gonghui calendar ...``."""

from __future__ import annotations

import calendar as month_calendar
import sys
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from api.context import this_app
from api.extensions import current_session, db
from workflow.calendar import SHANGHAI


def _instant(text: str | None) -> datetime:
    if not text:
        moment: datetime = current_app.config["CLOCK"]()
        return moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 instant", param_hint="--at") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


@click.command("sweep")
@click.option("--at", "at_text", help="Fire what is due at this instant (ISO 8601; default now, +08:00 if no zone).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=None,
              help="Timers per transaction (default GONGHUI_SWEEP_BATCH, 1000).")
@with_appcontext
def sweep(at_text: str | None, batch: int | None) -> None:
    """Fire every timer due at an instant once, print what fired, exit."""
    from api.sweep import Fired, sweep_due

    at = _instant(at_text)

    def show(item: Fired) -> None:
        click.echo(f"{item.case_number}  {item.action:<10} due {item.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
                   f"  → {item.result}")
        sys.stdout.flush()

    fired = sweep_due(lambda: Session(db.engine), current_app.extensions["gonghui.engine"], at, on_fired=show,
                      batch=batch or current_app.config["SWEEP_BATCH"])
    click.echo(f"{len(fired)} timer(s) fired at {at.astimezone(SHANGHAI).isoformat()}")


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the deadline scheduler alone (production: N API processes + M of these + one PostgreSQL)."""
    from api.scheduler import run_blocking

    run_blocking(this_app())


@click.group("calendar")
def calendar() -> None:
    """Working-day calendar: official holiday schedules."""


@calendar.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Load nothing: list the deadlines the schedule would move.")
@with_appcontext
def calendar_load(path: Path, dry_run: bool) -> None:
    """Load a year's official schedule (YAML or CSV); recounts provisional deadlines."""
    from api import admin_log, calendar_store
    from workflow.schedules import ScheduleError, parse

    try:
        schedule = parse(path.name, path.read_text(encoding="utf-8-sig"))
    except ScheduleError as error:
        click.echo(f"{path}: refused, nothing changed", err=True)
        for where, messages in error.errors.items():
            click.echo(f"  {where}: {'; '.join(messages)}", err=True)
        sys.exit(1)
    if dry_run:
        engine = current_app.extensions["gonghui.engine"]
        calendar_store.refresh(current_session(), engine.calendar)
        moved = calendar_store.preview(current_session(), engine, schedule)
        click.echo(f"{schedule.year}: dry run, nothing loaded; {len(moved)} deadline(s) would move")
        for item in moved:
            click.echo(f"  {item.number}  {item.old_due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} → "
                       f"{item.new_due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
        return
    recounted = calendar_store.store(current_session(), current_app.extensions["gonghui.engine"], schedule,
                                     source=path.name, actor=admin_log.actor_of_cli(),
                                     now=current_app.config["CLOCK"]())
    db.session.commit()
    click.echo(f"{schedule.year}: {len(schedule.holidays)} holidays, {len(schedule.workdays)} make-up workdays "
               f"loaded; {recounted} provisional deadline(s) recounted")


@calendar.command("show")
@click.argument("month")
@with_appcontext
def calendar_show(month: str) -> None:
    """Print a month (YYYY-MM) with its working days (班 = make-up workday, 休 = holiday)."""
    from api import calendar_store

    calendar = current_app.extensions["gonghui.engine"].calendar
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError as error:
        raise click.BadParameter("expected YYYY-MM", param_hint="MONTH") from error
    calendar_store.refresh(current_session(), calendar)
    click.echo(f"{first:%Y-%m}" + ("" if calendar.knows(year) else "  (provisional: no official schedule loaded)"))
    click.echo("  一   二   三   四   五   六   日")
    line = "     " * first.weekday()
    for day in range(1, month_calendar.monthrange(year, number)[1] + 1):
        current = date(year, number, day)
        working = calendar.is_workday(current)
        mark = ("班" if current.weekday() >= 5 else " ") if working else ("休" if current.weekday() < 5 else " ")
        cell = f"{day:>2}{mark}"
        line += f" {cell} " if working else f"[{cell}]"
        if current.weekday() == 6:
            click.echo(line.rstrip())
            line = ""
    if line:
        click.echo(line.rstrip())
    click.echo("[..] = 休息日 (rest day or holiday); 班 = make-up working day; 休 = holiday on a weekday")


commands = [sweep, scheduler, calendar]
