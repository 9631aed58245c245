"""`homeroom links`: each student's personal Zoom join link (Zoom registration)."""

from __future__ import annotations

import json

import click

from ..runtime import Runtime
from ..services import registration as service
from ..services.exports import csv_text, table_text
from . import cli, pass_runtime


@cli.command("links")
@click.option("--module", type=int, help="Only this module (default: every module).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format (csv: ready for an LMS or a mail merge).",
)
@pass_runtime
def links(runtime: Runtime, module: int | None, fmt: str) -> None:
    """Print each active student's personal join link for their module's homeroom meeting.

    Needs `[sessions] registration = true`; `homeroom sync` registers the students and stores the
    links Zoom issues. A student without a link is not registered yet.
    """
    rows = service.link_rows(service.student_links(runtime, module))
    if fmt == "json":
        click.echo(json.dumps({"links": rows}, indent=2))
    elif fmt == "csv":
        click.echo(csv_text(rows, service.LINK_FIELDS), nl=False)
    elif rows:
        click.echo(table_text(rows, service.LINK_FIELDS))
    else:
        click.echo("no active students: import the roster first")
