"""``gonghui import-enterprises FILE``: the social-insurance roster."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import current_session, db


@click.command("import-enterprises")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the rejected rows (default: <file name>.rejected.csv in the current folder).")
@click.option("--as", "username", default="city_admin", show_default=True,
              help="The account the opened cases are recorded against.")
@with_appcontext
def import_enterprises(path: Path, report_path: Path | None, username: str) -> None:
    """Import the roster (CSV or XLSX, Chinese headers): upsert employers, open one formation case per
    employer with 25+ insured staff, 1+ year in operation and no union; list joint-union candidates."""
    from api import roster
    from api.auth import Principal
    from api.models import User

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.BadParameter(f"unknown user {username!r}", param_hint="--as")
    principal = Principal.of(user)
    from api.uploads import FileRefused, Limits

    with path.open("rb") as stream:
        try:
            result = roster.import_roster(current_session(), current_app.extensions["gonghui.engine"], principal,
                                          roster.rows_of(path.name, stream, Limits.from_config(current_app.config)),
                                          current_app.config["CLOCK"](), commit_every=10000, commit=db.session.commit)
        except (roster.RosterError, FileRefused) as error:
            click.echo(f"{path}: {error}; nothing imported", err=True)
            sys.exit(1)
    db.session.commit()
    target = report_path or Path.cwd() / f"{path.name}.rejected.csv"
    with target.open("wb") as report:
        result.rejected.write_csv(report)
    result.rejected.close()
    summary = result.summary()
    click.echo(f"{summary['rows']} rows: {summary['employers_upserted']} employers upserted "
               f"({summary['duplicates_merged']} duplicate rows merged), {summary['cases_opened']} formation cases "
               f"opened, {summary['joint_union_candidates']} joint-union candidates (under 25), "
               f"{summary['rejected_count']} rows rejected → {target}")


commands = [import_enterprises]
