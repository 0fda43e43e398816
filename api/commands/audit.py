"""``gonghui audit verify``: every history chain checked; exit 1 when any is broken."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from api.extensions import db


@click.group("audit")
def audit() -> None:
    """The audit trail of the cases."""


@audit.command("verify")
@with_appcontext
def verify() -> None:
    """Check the hash chain of every case's history; print each break."""
    from api.audit import verify as verify_chains
    from api.models import Case

    breaks = 0
    for found in verify_chains(db.session):
        breaks += 1
        click.echo(f"BROKEN  {found.case_number}  seq {found.seq}: {found.reason}")
    total = db.session.query(Case).count()
    click.echo(f"{total} case histories checked, {breaks} break(s)")
    if breaks:
        sys.exit(1)


commands = [audit]
