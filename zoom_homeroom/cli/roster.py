"""`homeroom roster import`: replace module rosters from a CSV file."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.roster import parse_roster, roster_changes
from ..core.text import printable
from ..runtime import Runtime
from .group import cli, pass_runtime


@cli.group("roster")
def roster_group() -> None:
    """Import and inspect the student roster."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change without writing anything.")
@pass_runtime
def roster_import(runtime: Runtime, file: Path, dry_run: bool) -> None:
    """Replace the roster of each module in FILE (columns name,email,module,program,group[,aliases]).

    Students of those modules missing from the file become inactive; their history stays.
    """
    students = parse_roster(file.read_bytes(), filename=file.name, modules=runtime.calendar.module_numbers)
    changes = roster_changes(runtime.storage.students(active_only=False), students)
    for change in changes:
        click.echo(change.summary())
        for move in change.moved:
            click.echo(
                f"  moved: {printable(move.email)} from group {move.from_group} to group {move.to_group}"
            )
        for student in change.deactivated:
            click.echo(f"  deactivated: {printable(student.email)} (group {student.group})")
    if dry_run:
        click.echo("dry run: nothing was written")
        return
    now = runtime.now()
    runtime.storage.apply_roster(changes, today=now.astimezone(runtime.calendar.timezone).date(), now=now)
    click.echo(f"imported {len(students)} students from {printable(file.name)}")
