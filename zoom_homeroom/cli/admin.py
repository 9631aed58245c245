"""Setting up and running the service: init-db, config check, serve."""

from __future__ import annotations

import signal

import click

from ..core.planning import calendar_notes
from ..runtime import Runtime
from ..services import jobs
from ..settings import check_all
from ..zoom.check import check_zoom
from . import cli, pass_runtime


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
@click.pass_context
def config_check(ctx: click.Context, contact_zoom: bool) -> None:
    """Validate .env and config/homeroom.toml; print every problem and exit non-zero if any."""
    settings, calendar, problems = check_all()
    if calendar is not None:
        for note in calendar_notes(calendar):
            click.echo(f"note: {note}")
    if contact_zoom and settings is not None and not settings.missing_zoom_credentials():
        problems.extend(check_zoom(settings, calendar))
    elif contact_zoom:
        problems.append("--zoom: skipped, the Zoom credentials are incomplete")
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        ctx.exit(1)
    modules = len(calendar.modules) if calendar else 0
    click.echo(f"ok: {settings.config_path} ({modules} modules) and the environment are valid")


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
    jobs.share_zoom_client()
    scheduler = build_scheduler(runtime)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    click.echo("scheduler running; Ctrl-C to stop")
    try:
        scheduler.start()
    except KeyboardInterrupt:
        pass
    click.echo("scheduler stopped")
