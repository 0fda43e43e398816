"""The ``gonghui`` command: a Flask CLI group over ``create_app``."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from api import create_app, passwords
from api.context import this_app
from api.extensions import current_session, db


def _app_for_cli(config: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    """The app for a command; a definition that does not validate, or a secret key that may not sign
    sessions, stops here with the faults, not a traceback."""
    from api.secret_key import SecretKeyError
    from workflow.errors import DefinitionError

    try:
        return create_app(config)
    except DefinitionError as error:
        click.echo("definitions refused:", err=True)
        for reason in error.reasons:
            click.echo(f"  {reason}", err=True)
        sys.exit(1)
    except SecretKeyError as error:
        click.echo(f"refusing to start: {error}", err=True)
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_app_for_cli, add_version_option=False, add_default_commands=False)
def cli() -> None:
    """工会工作流 — gonghui-workflow."""


def main() -> None:
    cli(prog_name="gonghui")


@cli.command("init-db")
@click.option("--owner-role", help="PostgreSQL: the role that owns the tables and runs the migrations.")
@click.option("--service-role", help="PostgreSQL: the role the service runs as (no UPDATE/DELETE on history).")
@click.option("--owner-password", help="Set the owner role's password.")
@click.option("--service-password", help="Set the service role's password.")
@with_appcontext
def init_db(owner_role: str | None, service_role: str | None, owner_password: str | None,
            service_password: str | None) -> None:
    """Create or upgrade the schema to the latest migration and the session key (safe to run twice), as
    GONGHUI_MIGRATION_DATABASE_URL when it is set; on PostgreSQL, optionally create the owner and service roles."""
    from flask_migrate import upgrade

    from api import checkpoints, secret_key

    app = this_app()
    migration_url = app.config.get("MIGRATION_DATABASE_URL")
    target = create_app({"SQLALCHEMY_DATABASE_URI": migration_url}) if migration_url else app
    with target.app_context():
        upgrade(directory=target.extensions["migrate"].directory, revision="heads")
        click.echo(f"schema up to date: {db.engine.url.render_as_string(hide_password=True)}")
        if owner_role or service_role:
            if not (owner_role and service_role) or db.engine.dialect.name != "postgresql":
                raise click.UsageError("--owner-role and --service-role go together, on PostgreSQL only")
            from api import roles

            with db.engine.begin() as connection:
                for line in roles.set_up(connection, owner_role, service_role, owner_password=owner_password,
                                         service_password=service_password):
                    click.echo(line)
        if migration_url:
            db.engine.dispose()
    if os.environ.get("GONGHUI_SECRET_KEY"):
        click.echo("session key: GONGHUI_SECRET_KEY (no key file written)")
    else:
        path, written = secret_key.generate(app.instance_path)
        click.echo(f"session key: {path} (mode 600{', new' if written else ''})")
    seal = checkpoints.Seal.of(app).ensure_key()
    click.echo(f"audit key: {'GONGHUI_AUDIT_KEY' if app.config.get('AUDIT_KEY') else seal.key_file}")
    from api import definition_store
    from api.clock import now

    added, differing = definition_store.seed_from_files(current_app, current_session(), now())
    db.session.commit()
    for name in added:
        click.echo(f"definition deployed from definitions/: {name}")
    for name in differing:
        click.echo(f"warning: {name}", err=True)
    _prepare_document_font()


def _prepare_document_font() -> None:
    """The documents' cut-down font made now (a few seconds), not by the first receipt printed at a window."""
    from api import document_font, documents

    font = document_font.prepared(documents.font_folder())
    click.echo(f"documents' font: {font}" if font else "documents' font: none made, the system's fonts are used")


@cli.command("seed-demo")
@click.option("--story", is_flag=True, help="Also live a year of the 城东 pilot through the use cases and the sweep "
                                            "(an empty database only).")
@with_appcontext
def seed_demo(story: bool) -> None:
    """Load the demo org tree, users and reference data (safe to run twice)."""
    from api import demo
    from api.clock import now

    counts = demo.seed(current_session(), now())
    demo.seed_cases(current_session(), now())
    db.session.commit()
    click.echo(f"demo data ready: {counts['org_units']} org units, {counts['users']} users (password: demo)")
    if story:
        from api.story import StoryRefused, tell_in_app

        try:
            click.echo(tell_in_app(current_app, now()).summary())
        except StoryRefused as error:
            click.echo(str(error), err=True)
            sys.exit(1)


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not start the deadline sweep in this process.")
@with_appcontext
def run(host: str, port: int, no_scheduler: bool) -> None:
    """Development server (one process, with the deadline scheduler unless --no-scheduler)."""
    app = this_app()
    if not no_scheduler:
        from api import scheduler

        scheduler.start_background(app)
    from werkzeug.serving import run_simple

    click.echo(f"gonghui-workflow on http://{host}:{port}/ (API at /api/v1, docs at /api/v1/docs)")
    run_simple(host, port, app, use_reloader=False, threaded=True)


@cli.command("serve", with_appcontext=False)   # builds no app before checking the key
@click.option("--bind", default="127.0.0.1:5000", show_default=True)
@click.option("--workers", default=4, show_default=True)
@click.option("--threads", default=2, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Run API workers only (run `gonghui scheduler` apart).")
def serve(bind: str, workers: int, threads: int, no_scheduler: bool) -> None:
    """Production server: gunicorn workers for the API, plus one scheduler process unless --no-scheduler.
    Refuses to start without a session key of its own (GONGHUI_SECRET_KEY, or the one `init-db` wrote)."""
    import subprocess

    _app_for_cli({"SECRET_KEY_GENERATE": False})
    metrics_dir = _metrics_directory()
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    scheduler_process = None
    if not no_scheduler:
        scheduler_process = subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler"], env=environment)
    command = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
               "--threads", str(threads), "--no-control-socket", "--config", "python:api.gunicorn_conf",
               "api.wsgi:app"]
    try:
        subprocess.run(command, check=False, env=environment)
    finally:
        if scheduler_process is not None:
            scheduler_process.terminate()
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_directory() -> str:
    """Where the workers and the scheduler count (``api.metrics``): PROMETHEUS_MULTIPROC_DIR emptied of the
    counts of an earlier run, or a new directory removed at the end."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not given:
        return tempfile.mkdtemp(prefix="gonghui-metrics-")
    Path(given).mkdir(parents=True, exist_ok=True)
    for stale in Path(given).glob("*.db"):
        stale.unlink()
    return given


@cli.group("users")
def users() -> None:
    """User accounts and service tokens."""


def _refused(error: Exception) -> None:
    """A refused account change: every fault on stderr, exit 1, nothing written."""
    from workflow.errors import InvalidData

    db.session.rollback()
    if isinstance(error, InvalidData):
        for field, messages in error.errors.items():
            click.echo(f"{field}: {'; '.join(messages)}", err=True)
    else:
        click.echo(str(getattr(error, "detail", error)), err=True)
    sys.exit(1)


@users.command("create")
@click.argument("username")
@click.option("--org", "org_code", required=True, help="Org unit code, e.g. chengdong.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "clerk", "mediator", "reviewer", "counter", "viewer"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help=passwords.SUMMARY)
@click.option("--service-token", is_flag=True, help="Also issue a long-lived service token (counters).")
@with_appcontext
def users_create(username: str, org_code: str, roles: tuple[str, ...], password: str, service_token: bool) -> None:
    """Create a user (an existing username is refused); a counter also gets a service token, printed once."""
    from api import accounts, admin_log
    from api.clock import now
    from workflow.errors import Conflict, InvalidData

    actor = admin_log.actor_of_cli()
    try:
        user = accounts.create_user(current_session(), actor=actor, username=username, org=org_code, roles=list(roles),
                                    password=password, now=now())
    except (InvalidData, Conflict) as error:
        _refused(error)
    token = None
    if service_token or "counter" in roles:
        token = accounts.issue_service_token(current_session(), actor=actor, username=username,
                                             label=f"{username} service token", now=now())
    db.session.commit()
    click.echo(f"user {username} at {user.org_unit.code} with roles {', '.join(user.roles)}")
    if token:
        click.echo(f"service token (shown once, revocable): {token}")


@users.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help=passwords.SUMMARY)
@with_appcontext
def users_password(username: str, password: str) -> None:
    """Set a user's password; every session of the user ends."""
    from api import accounts, admin_log
    from api.clock import now
    from workflow.errors import InvalidData

    try:
        session = current_session()
        accounts.set_password(session, actor=admin_log.actor_of_cli(), user=accounts.find_user(session, username),
                              password=password, now=now())
    except (InvalidData, accounts.UnknownUser) as error:
        _refused(error if isinstance(error, InvalidData) else LookupError(f"no user {username}"))
    db.session.commit()
    click.echo(f"password of {username} changed; its sessions ended")


@users.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Stop a user from signing in; its sessions end at once."""
    from api import accounts, admin_log
    from api.clock import now

    try:
        session = current_session()
        accounts.update_user(session, actor=admin_log.actor_of_cli(), user=accounts.find_user(session, username),
                             now=now(), active=False)
    except accounts.UnknownUser:
        _refused(LookupError(f"no user {username}"))
    db.session.commit()
    click.echo(f"user {username} deactivated")


@cli.group("definitions")
def definitions() -> None:
    """Lifecycle definitions."""


@definitions.command("check")
@click.argument("directory", required=False)
def definitions_check(directory: str | None) -> None:
    """Validate every definition file (the same check as start-up); exit 1 with the faults."""
    from api.config import Config
    from api.fields import use_chinese_messages
    from workflow.definitions import Catalog
    from workflow.errors import DefinitionError

    use_chinese_messages()
    from api.lifecycles import Lifecycles
    from api.plugins import LIFECYCLES

    try:
        lifecycles = Lifecycles(LIFECYCLES)
        catalog = Catalog.from_directory(directory or Config.DEFINITIONS_DIR, effects=lifecycles.effect_names)
        lifecycles.check_against(catalog)
    except DefinitionError as error:
        click.echo("definitions refused:", err=True)
        for reason in error.reasons:
            click.echo(f"  {reason}", err=True)
        sys.exit(1)
    for definition in catalog.all():
        click.echo(f"ok  {definition.key} v{definition.version}  {definition.title}  "
                   f"({len(definition.states)} states, {len(definition.events)} events)  {definition.source}")


definitions.add_command(__import__("api.commands.definition_deploy", fromlist=["deploy"]).deploy)
definitions.add_command(__import__("api.commands.definition_deploy", fromlist=["migrate"]).migrate)

for _command in __import__("api.commands", fromlist=["discover"]).discover():
    cli.add_command(_command)


if __name__ == "__main__":
    main()
