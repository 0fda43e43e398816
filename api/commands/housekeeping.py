"""``gonghui idempotency purge``."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from api.extensions import db


@click.group("idempotency")
def idempotency() -> None:
    """Stored answers for Idempotency-Key."""


@idempotency.command("purge")
@with_appcontext
def idempotency_purge() -> None:
    """Delete the idempotency records older than IDEMPOTENCY_TTL_HOURS (24); the scheduler does it hourly."""
    from api.housekeeping import purge_idempotency_records

    hours = current_app.config["IDEMPOTENCY_TTL_HOURS"]
    removed = purge_idempotency_records(lambda: Session(db.engine), current_app.config["CLOCK"](),
                                        timedelta(hours=hours))
    click.echo(f"removed {removed} idempotency records older than {hours} h")


commands = [idempotency]
