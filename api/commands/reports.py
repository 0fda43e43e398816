"""``gonghui reports verify`` and ``gonghui reports compact``: the report summary recounted from the cases, and
its delta rows folded."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from api.extensions import current_session


@click.group("reports")
def reports_group() -> None:
    """The report summary the reports read (table report_summaries)."""


@reports_group.command("verify")
@with_appcontext
def verify() -> None:
    """Recount the summary from the cases and each case's milestones from its history; list every difference
    and exit 1 when there is one."""
    from api.lifecycles import registry
    from api.report_summary import verify as recount

    milestones = {key: plugin.milestones for key, plugin in registry().items() if plugin.milestones}
    differences = recount(current_session(), milestones)
    current_session().rollback()
    for difference in differences:
        click.echo(str(difference), err=True)
    if differences:
        click.echo(f"the report summary disagrees with the cases: {len(differences)} difference(s)", err=True)
        sys.exit(1)
    click.echo("the report summary agrees with the cases")


@reports_group.command("compact")
@with_appcontext
def compact() -> None:
    """Fold the summary's delta rows into one row per key (the scheduler does this every
    GONGHUI_REPORT_COMPACT_INTERVAL_SECONDS); safe while cases are being changed."""
    from api.report_summary import compact as fold

    result = fold(current_session())
    current_session().commit()
    if result.skipped:
        click.echo("another process is compacting the report summary; nothing done")
    else:
        click.echo(f"{result.rows_folded} summary rows folded into {result.rows_written}")


commands = [reports_group]
