"""``gonghui definitions deploy FILE [--dry-run]`` and ``gonghui definitions migrate KEY ...`` (added to the
``definitions`` group by ``api.cli``; this module has no top-level ``commands``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from api.context import this_app
from api.extensions import current_session, db
from workflow.calendar import SHANGHAI
from workflow.errors import Conflict, InvalidData, UnknownDefinition


def _refused(error: InvalidData | Conflict | UnknownDefinition) -> None:
    click.echo(f"refused, nothing changed: {error.detail}", err=True)
    for where, messages in getattr(error, "errors", {}).items():
        for message in messages:
            click.echo(f"  {where}: {message}", err=True)
    sys.exit(1)


@click.command("deploy")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Deploy nothing: show what changes against the latest version.")
@with_appcontext
def deploy(path: Path, dry_run: bool) -> None:
    """Deploy a definition file as the latest version of its lifecycle (validated as at start-up)."""
    from api import admin_log, definition_store

    app = this_app()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        click.echo(f"{path}: not UTF-8 text", err=True)
        sys.exit(1)
    try:
        definition_store.refresh(app, current_session())
        done = definition_store.deploy_in_app(app, current_session(), text, actor=admin_log.actor_of_cli(),
                                              now=app.config["CLOCK"](), origin=path.name, dry_run=dry_run)
    except (InvalidData, Conflict) as error:
        db.session.rollback()
        _refused(error)
        return
    db.session.commit()
    name = f"{done.definition.key} v{done.definition.version}"
    if dry_run:
        against = f"against v{done.previous.version}" if done.previous else "(a new lifecycle)"
        click.echo(f"{name}: dry run, nothing deployed; {len(done.changes)} change(s) {against}")
    elif done.created:
        click.echo(f"{name} deployed (sha256 {done.sha256[:12]}…), now the latest version")
    else:
        click.echo(f"{name} is already deployed with this text: nothing changed")
    for change in done.changes:
        click.echo(f"  {'+' if change.kind == 'added' else '-' if change.kind == 'removed' else '~'} {change.text}")


@click.command("migrate")
@click.argument("key")
@click.option("--from", "from_version", type=int, required=True)
@click.option("--to", "to_version", type=int, required=True)
@click.option("--map", "mapping", multiple=True, help="OLD=NEW: where the cases of a state go (repeatable).")
@click.option("--keep-deadlines", is_flag=True, help="Keep each case's due time (default: count it again).")
@click.option("--dry-run", is_flag=True, help="Move nothing: list the cases and their new due times.")
@with_appcontext
def migrate(key: str, from_version: int, to_version: int, mapping: tuple[str, ...], keep_deadlines: bool,
            dry_run: bool) -> None:
    """Move the open cases of KEY from one version to a later one (run it again to finish a stopped run)."""
    from api import admin_log, definition_migrations, definition_store

    app = this_app()
    state_map = {}
    for item in mapping:
        old, sep, new = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected OLD=NEW", param_hint="--map")
        state_map[old.strip()] = new.strip()
    definition_store.refresh(app, current_session())
    engine = app.extensions["gonghui.engine"]
    body = {"from_version": from_version, "to_version": to_version, "state_map": state_map,
            "recount_deadlines": not keep_deadlines}
    try:
        plan = definition_migrations.make_plan(engine, key, body)
        if dry_run:
            moves = definition_migrations.dry_run(current_session(), plan)
        else:
            db.session.rollback()
            moves = definition_migrations.run(lambda: Session(db.engine), plan, actor=admin_log.actor_of_cli(),
                                              now=app.config["CLOCK"]()).moves
    except (InvalidData, UnknownDefinition) as error:
        _refused(error)
        return
    for move in moves:
        old_due = f"{move.old_due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if move.old_due_at else "-"
        new_due = f"{move.new_due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if move.new_due_at else "-"
        click.echo(f"{move.number}  {move.old_state} → {move.new_state}  {old_due} → {new_due}")
    verb = "would move" if dry_run else "moved"
    click.echo(f"{key} v{from_version} → v{to_version}: {len(moves)} open case(s) {verb}")
