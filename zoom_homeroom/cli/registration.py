"""`homeroom links`: each student's personal Zoom join link (Zoom registration)."""

from __future__ import annotations

import click

from ..runtime import Runtime
from ..services import registration as service
from .group import cli, pass_runtime
from .options import echo_rows, format_option


@cli.command("links")
@click.option("--module", type=int, help="Only this module (default: every module).")
@format_option("table", "csv", "json", help="Output format (csv: ready for an LMS or a mail merge).")
@pass_runtime
def links(runtime: Runtime, module: int | None, fmt: str) -> None:
    """Print each active student's personal join link for their module's homeroom meeting.

    Needs `[sessions] registration = true`; `homeroom sync` registers the students and stores the
    links Zoom issues. A student without a link is not registered yet.
    """
    rows = service.link_rows(service.student_links(runtime, module))
    echo_rows(
        fmt, rows, service.LINK_FIELDS, key="links", empty="no active students: import the roster first"
    )
