"""``gonghui tokens list|revoke``."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from api import accounts, admin_log
from api.extensions import current_session, db


@click.group("tokens")
def tokens() -> None:
    """Service tokens (counters)."""


@tokens.command("list")
@with_appcontext
def tokens_list() -> None:
    """The service tokens and whether they are revoked."""
    for token in accounts.list_tokens(current_session(), current_app.config["CLOCK"](), kind="service"):
        state = f"revoked {token['revoked_at']:%Y-%m-%d}" if token["revoked_at"] else "active"
        click.echo(f"{token['id']:>4}  {token['user']:<20} {state:<20} {token['label'] or ''}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id (``gonghui tokens list``)."""
    if not accounts.revoke_token(current_session(), actor=admin_log.actor_of_cli(), token_id=token_id,
                                 now=current_app.config["CLOCK"]()):
        click.echo(f"no active token {token_id}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"token {token_id} revoked")


commands = [tokens]
