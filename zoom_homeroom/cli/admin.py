"""Setting up and running the service: init-db, config check, serve."""

from __future__ import annotations

import signal

import click

from ..core.calendar import calendar_warnings
from ..core.planning import calendar_notes
from ..runtime import Runtime
from ..services import jobs
from ..services.users import demo_user_warnings
from ..settings import check_all
from ..zoom.check import check_zoom
from .group import cli, pass_runtime

REGISTRATION_NOTE = (
    "[sessions] registration = true: sync registers every student for their meetings; each joins with a "
    "personal link (`homeroom links`), and the meeting's own link asks for registration. The Zoom app "
    "needs the registrant scopes: `homeroom config check --zoom` checks them"
)


@cli.command("init-db")
@pass_runtime
def init_db(runtime: Runtime) -> None:
    """Create the database or bring its schema up to date (also done at every start-up)."""
    applied = runtime.storage.migrate()
    path = runtime.settings.database
    if applied:
        click.echo(f"{path}: applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo(f"{path}: schema is up to date ({len(runtime.storage.schema_version())} migrations)")


@cli.group("config")
def config_group() -> None:
    """Check the environment and the program calendar."""


@config_group.command("check")
@click.option("--zoom", "contact_zoom", is_flag=True, help="Also contact Zoom: token, scopes, hosts.")
@click.option("--slack", "contact_slack", is_flag=True, help="Also contact Slack: token, scopes, channels.")
@click.pass_context
def config_check(ctx: click.Context, contact_zoom: bool, contact_slack: bool) -> None:
    """Validate .env and config/homeroom.toml; print every problem and exit non-zero if any.

    Warnings (what works but may not be meant) are printed too and do not fail the check.
    """
    settings, calendar, problems = check_all()
    warnings = calendar_warnings(calendar) if calendar is not None else []
    if calendar is not None:
        for note in calendar_notes(calendar):
            click.echo(f"note: {note}")
        if calendar.sessions.registration:
            click.echo(f"note: {REGISTRATION_NOTE}")
    if contact_zoom and settings is not None and not settings.missing_zoom_credentials():
        problems.extend(check_zoom(settings, calendar))
    elif contact_zoom:
        problems.append("--zoom: skipped, the Zoom credentials are incomplete")
    if contact_slack and settings is not None and settings.slack_bot_token:
        # Imported here: slack-sdk loads only when Slack is contacted.
        from ..slack.check import check_slack

        problems.extend(check_slack(settings, calendar))
    elif contact_slack:
        problems.append("--slack: skipped, SLACK_BOT_TOKEN is not set")
    if settings is not None:
        warnings.extend(demo_user_warnings(settings))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        ctx.exit(1)
    modules = len(calendar.modules) if calendar else 0
    noted = f" ({_count(warnings, 'warning')} above)" if warnings else ""
    click.echo(f"ok: {settings.config_path} ({modules} modules) and the environment are valid{noted}")


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Gunicorn workers.")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="One line per request on stdout (leave it to the proxy with --no-access-log).",
)
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the web service (dashboard, API, webhooks) under gunicorn."""
    # Imported here: gunicorn and Flask load only for this command, not at every CLI start.
    from ..web.server import run_gunicorn

    run_gunicorn(runtime.settings, host=host, port=port, workers=workers, access_log=access_log)


@cli.command("scheduler")
@pass_runtime
def scheduler(runtime: Runtime) -> None:
    """Run the scheduler process: sync before each session, finalise attendance after it.

    Run it beside the web service (one scheduler per database); Ctrl-C or SIGTERM stops it.
    """
    # Imported here: APScheduler loads only for this command, not at every CLI start.
    from ..scheduler import build_scheduler

    runtime.storage.migrate()
    jobs.share_clients()
    scheduler = build_scheduler(runtime)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    click.echo("scheduler running; Ctrl-C to stop")
    try:
        scheduler.start()
    except KeyboardInterrupt:
        pass
    click.echo("scheduler stopped")
