"""The ``gonghui`` command: a Flask CLI group over ``create_app``."""

from __future__ import annotations

import os
import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from api import create_app
from api.extensions import db


def _app_for_cli():  # type: ignore[no-untyped-def]
    """The app for a command; a definition that does not validate stops here with its faults, not a traceback."""
    from workflow.errors import DefinitionError

    try:
        return create_app()
    except DefinitionError as error:
        click.echo("definitions refused:", err=True)
        for reason in error.reasons:
            click.echo(f"  {reason}", err=True)
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_app_for_cli, add_version_option=False, add_default_commands=False)
def cli() -> None:
    """工会工作流 — gonghui-workflow."""


def main() -> None:
    cli(prog_name="gonghui")


@cli.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the schema to the latest migration (safe to run twice)."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory, revision="heads")
    click.echo(f"schema up to date: {db.engine.url.render_as_string(hide_password=True)}")


@cli.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Load the demo org tree, users and reference data (safe to run twice)."""
    from api import demo
    from api.clock import now

    counts = demo.seed(db.session, now())
    demo.seed_cases(db.session, now())
    db.session.commit()
    click.echo(f"demo data ready: {counts['org_units']} org units, {counts['users']} users (password: demo)")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not start the deadline sweep in this process.")
@with_appcontext
def run(host: str, port: int, no_scheduler: bool) -> None:
    """Development server (one process, with the deadline scheduler unless --no-scheduler)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not no_scheduler:
        from api import scheduler

        scheduler.start_background(app)
    from werkzeug.serving import run_simple

    click.echo(f"gonghui-workflow on http://{host}:{port}/ (API at /api/v1, docs at /api/v1/docs)")
    run_simple(host, port, app, use_reloader=False, threaded=True)


@cli.command("serve")
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option("--workers", default=4, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Run API workers only (run `gonghui scheduler` apart).")
def serve(bind: str, workers: int, threads: int, no_scheduler: bool) -> None:
    """Production server: gunicorn workers for the API, plus one scheduler process unless --no-scheduler."""
    import subprocess

    scheduler_process = None
    if not no_scheduler:
        scheduler_process = subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler"])
    command = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
               "--threads", str(threads), "--no-control-socket", "api.wsgi:app"]
    try:
        subprocess.run(command, check=False, env=os.environ.copy())
    finally:
        if scheduler_process is not None:
            scheduler_process.terminate()


@cli.group("users")
def users() -> None:
    """User accounts and service tokens."""


@users.command("create")
@click.argument("username")
@click.option("--org", "org_code", required=True, help="Org unit code, e.g. chengdong.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "clerk", "mediator", "reviewer", "counter", "viewer"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--service-token", is_flag=True, help="Also issue a long-lived service token (counters).")
@with_appcontext
def users_create(username: str, org_code: str, roles: tuple[str, ...], password: str, service_token: bool) -> None:
    """Create (or update) a user; a counter also gets a long-lived service token, printed once."""
    from api import auth, demo
    from api.clock import now
    from api.models import OrgUnit

    unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == org_code))
    if unit is None:
        raise click.BadParameter(f"unknown org unit {org_code!r}", param_hint="--org")
    user = demo.upsert_user(db.session, username, unit, sorted(set(roles)), password, now())
    user.password_hash = auth.hash_password(password)
    token = None
    if service_token or "counter" in roles:
        token, _ = auth.issue_token(user, kind="service", label=f"{username} service token")
    db.session.commit()
    click.echo(f"user {username} at {unit.code} with roles {', '.join(user.roles)}")
    if token:
        click.echo(f"service token (shown once, revocable): {token}")


@cli.group("definitions")
def definitions() -> None:
    """Lifecycle definitions."""


@definitions.command("check")
@click.argument("directory", required=False)
def definitions_check(directory: str | None) -> None:
    """Validate every definition file (the same check as start-up); exit 1 with the faults."""
    from api.config import Config
    from api.lifecycles import check_against, load_all
    from workflow.definitions import Catalog
    from workflow.errors import DefinitionError

    load_all()
    try:
        catalog = Catalog.from_directory(directory or Config.DEFINITIONS_DIR)
        check_against(catalog)
    except DefinitionError as error:
        click.echo("definitions refused:", err=True)
        for reason in error.reasons:
            click.echo(f"  {reason}", err=True)
        sys.exit(1)
    for definition in catalog.all():
        click.echo(f"ok  {definition.key} v{definition.version}  {definition.title}  "
                   f"({len(definition.states)} states, {len(definition.events)} events)  {definition.source}")


for _command in __import__("api.commands", fromlist=["discover"]).discover():
    cli.add_command(_command)


if __name__ == "__main__":
    main()
