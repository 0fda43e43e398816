"""``gonghui audit verify``: every history chain checked; exit 1 when any is broken."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import current_session, db


@click.group("audit")
def audit() -> None:
    """The audit trail of the cases."""


@audit.command("verify")
@with_appcontext
def verify() -> None:
    """Check the hash chain of every case's history; print each break."""
    from api.audit import verify as verify_chains
    from api.checkpoints import Seal
    from api.models import Case

    seal = Seal.of(current_app)
    breaks = 0
    for found in verify_chains(current_session(), seal=seal):
        breaks += 1
        click.echo(f"BROKEN  {found.case_number}  seq {found.seq}: {found.reason}")
    total = db.session.query(Case).count()
    click.echo(f"{total} case histories checked, {breaks} break(s)")
    click.echo(f"checkpoints: {seal.path}" if seal.path.exists() else
               f"no checkpoints yet at {seal.path} (`gonghui audit checkpoint`, or the scheduler, writes them)")
    if breaks:
        sys.exit(1)


@audit.command("checkpoint")
@with_appcontext
def checkpoint() -> None:
    """Append the signed heads of the chains that moved since the last checkpoint (the scheduler does it too)."""
    from api import checkpoints

    seal = checkpoints.Seal.of(current_app)
    written = checkpoints.write(current_session(), seal, current_app.config["CLOCK"]())
    click.echo(f"{written} chain head(s) signed into {seal.path}")


commands = [audit]
