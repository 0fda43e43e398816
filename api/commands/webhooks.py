"""``gonghui webhooks deliver``: deliver the webhook messages due at an instant once, print the count, exit."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from api.commands.deadlines import _instant
from api.extensions import db
from workflow.calendar import SHANGHAI


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhooks to other systems."""


@webhooks_group.command("deliver")
@click.option("--at", "at_text", help="Deliver what is due at this instant (ISO 8601; default now).")
@with_appcontext
def deliver(at_text: str | None) -> None:
    """Deliver every webhook message due now (the scheduler does this every GONGHUI_WEBHOOK_INTERVAL_SECONDS)."""
    from api.webhooks import configured_allow_hosts, deliver_due

    at = _instant(at_text)
    attempts = deliver_due(lambda: Session(db.engine), at, allow=configured_allow_hosts(current_app.config))
    click.echo(f"{attempts} delivery attempt(s) at {at.astimezone(SHANGHAI).isoformat()}")


commands = [webhooks_group]
