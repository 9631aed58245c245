"""`homeroom attendance` (records, unmatched participants, reps' corrections) and `homeroom backfill`."""

from __future__ import annotations

import datetime as dt

import click

from ..core.models import SESSION_KINDS
from ..core.text import printable
from ..runtime import Runtime
from ..services import attendance as service
from ..services import backfill as backfill_service
from .group import cli, get_runtime, pass_runtime
from .options import echo_rows, format_option

CLI_USER = "cli"


def _filters(command):
    command = click.option("--week", type=click.IntRange(1, 60), help="Only this week.")(command)
    return click.option("--module", type=click.IntRange(1, 999), help="Only this module.")(command)


@cli.group("attendance", invoke_without_command=True)
@_filters
@click.option("--kind", type=click.Choice(SESSION_KINDS), help="Only homeroom or Mix It Up sessions.")
@click.option("--date", type=click.DateTime(["%Y-%m-%d"]), help="Only sessions on this date (YYYY-MM-DD).")
@format_option("table", "csv", "json")
@click.pass_context
def attendance(
    ctx: click.Context,
    module: int | None,
    week: int | None,
    kind: str | None,
    date: dt.datetime | None,
    fmt: str,
) -> None:
    """Print attendance records: one per student and session (times in UTC, ISO 8601)."""
    if ctx.invoked_subcommand is not None:
        return
    runtime = get_runtime(ctx)
    day = date.date() if date else None
    rows = service.records(runtime, module=module, week=week, kind=kind, date=day)
    echo_rows(
        fmt, rows, service.RECORD_FIELDS, key="records", empty="no attendance recorded yet for these sessions"
    )


@attendance.command("unmatched")
@_filters
@pass_runtime
def unmatched(runtime: Runtime, module: int | None, week: int | None) -> None:
    """List Zoom participants no rule matched to a student, with likely candidates."""
    fresh = service.read(runtime, runtime.storage.sessions(module=module, week=week))
    rows = fresh.unmatched(module=module, week=week)
    for meeting_id, count, latest in runtime.storage.unknown_meetings():
        click.echo(
            f"unknown meeting {meeting_id}: {count} Zoom events kept (latest {latest}); sync records it"
        )
    if not rows:
        click.echo("no unmatched participants")
        return
    for row in rows:
        names = [printable(f"{student.name} <{student.email}>") for student in fresh.candidates(row)]
        who = printable(f"{row.ident}  {row.name or '-'} {row.email or ''}".rstrip())
        click.echo(f"{row.session_key}  {who}  {row.minutes} min  ({row.reason})")
        if names:
            click.echo(f"    candidates: {'; '.join(names)}")


@attendance.command("match")
@click.argument("session_key")
@click.argument("ident")
@click.option("--student", "student_email", help="Email of the student this participant is.")
@click.option("--not-student", is_flag=True, help="This participant is not a student (staff, guest).")
@click.option(
    "--by", "set_by", default=CLI_USER, show_default=True, help="Who decided (kept with the match)."
)
@pass_runtime
def match(
    runtime: Runtime, session_key: str, ident: str, student_email: str | None, not_student: bool, set_by: str
) -> None:
    """Tie unmatched participant IDENT (from `attendance unmatched`) in SESSION_KEY to a student.

    The choice is remembered for later sessions; attendance is recomputed when next read.
    """
    if bool(student_email) == not_student:
        raise click.UsageError("give exactly one of --student EMAIL or --not-student")
    session = service.find_session(runtime, session_key)
    message = service.assign_participant(
        runtime, session=session, ident=ident, student_email=student_email, set_by=set_by
    )
    click.echo(printable(message))


def _override_command(name: str, status: str | None, help_text: str):
    @attendance.command(name, help=help_text)
    @click.argument("session_key")
    @click.argument("email")
    @click.option("--note", default="", help="Why (required to excuse or mark present).")
    @click.option("--by", "set_by", default=CLI_USER, show_default=True, help="Who decided.")
    @pass_runtime
    def command(runtime: Runtime, session_key: str, email: str, note: str, set_by: str) -> None:
        session = service.find_session(runtime, session_key)
        service.set_override(
            runtime, session=session, student_email=email, status=status, note=note, set_by=set_by
        )
        click.echo(printable(f"{email}: {status or 'computed status restored'} for {session_key}"))

    return command


_override_command("excuse", "excused", "Mark a student excused for a session (with --note).")
_override_command("mark-present", "present", "Mark a student present for a session (with --note).")
_override_command("clear", None, "Remove a rep's override: the computed status applies again.")


@cli.command("backfill")
@_filters
@click.option("--all", "every", is_flag=True, help="Also sessions already final (fetch again).")
@pass_runtime
def backfill(runtime: Runtime, module: int | None, week: int | None, every: bool) -> None:
    """Fetch past sessions' participants from Zoom's reports and merge them into attendance."""
    now = runtime.now()
    sessions = [
        s
        for s in runtime.storage.sessions(module=module, week=week)
        if s.end <= now and (every or not s.final)
    ]
    if not sessions:
        click.echo("no ended sessions to backfill")
        return
    pending = 0
    for session in sessions:
        result = backfill_service.backfill(runtime, session)
        pending += not result.final
        click.echo(f"{session.key}: {result.message}")
    if runtime.slack_enabled:
        # Imported here: slack-sdk loads only where Slack is set up.
        from ..services import slack as slack_service

        for day, kept in slack_service.post_digests(runtime).items():
            if kept != "unchanged":
                click.echo(f"reps' digest of {day}: {kept} in Slack")
    if pending:
        raise click.ClickException(f"{pending} session(s) still pending; run backfill again later")
