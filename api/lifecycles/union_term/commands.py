"""``gonghui import-union-terms FILE``: existing unions and their terms, one term case opened per union (a command
of the union_term plug-in, added to ``gonghui`` by ``create_app``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import current_session, db


@click.command("import-union-terms")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", default="city_admin", show_default=True,
              help="The account the opened cases are recorded against (a street or city clerk or admin).")
@with_appcontext
def import_union_terms(path: Path, username: str) -> None:
    """Import existing unions (CSV with Chinese headers: 工会代码 or 工会名称, 统一社会信用代码, 所属镇街,
    工会主席, 委员, 成立或上次换届日期, 任期（年）): a term case is opened for each union that has none open, due at the
    reminder before the end of its term. Rejected rows are printed with their row number; the rest is saved."""
    from api.auth import Principal
    from api.lifecycles import context
    from api.lifecycles.union_term.importer import import_terms, rows_of
    from api.lifecycles.union_term.terms import KEY
    from api.models import User
    from api.roster import RosterError

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.BadParameter(f"unknown user {username!r}", param_hint="--as")
    principal = Principal.of(user)
    if principal.level == "enterprise" or not principal.roles & {"clerk", "admin"}:
        raise click.BadParameter(f"{username} is not a street or city clerk or admin", param_hint="--as")
    with path.open("rb") as stream:
        try:
            result = import_terms(context(current_session(), current_app.extensions["gonghui.engine"], KEY, principal,
                                          current_app.config["CLOCK"]()), rows_of(stream))
        except RosterError as error:
            click.echo(f"{path}: {error}; nothing imported", err=True)
            sys.exit(1)
    db.session.commit()
    for rejected in result.rejected:
        click.echo(f"row {rejected.row} ({rejected.union}): rejected: {rejected.reason}", err=True)
    click.echo(f"{result.rows} rows: {len(result.opened)} term cases opened, {result.unions_created} unions added "
               f"to the org tree, {len(result.already_open)} unions already with an open term case, "
               f"{len(result.rejected)} rows rejected")

