"""`homeroom sandbox`: run the built-in Zoom sandbox in the foreground."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import click

from ..core.models import Calendar
from ..settings import ConfigError, load_calendar, load_settings, sandbox_environment
from .group import cli, echo_err
from .options import port_option

if TYPE_CHECKING:
    from ..sandbox import ZoomSandbox


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@port_option("--port", default=9901, help="Port (0: any free).")
@click.option("--webhook-url", default=None, help="Deliver simulated meetings' signed webhooks to this URL.")
def sandbox_command(host: str, port: int, webhook_url: str | None) -> None:
    """Run a local fake Zoom (no credentials, no network) until Ctrl-C, with a user per calendar host."""
    # Imported here: the sandbox's HTTP server loads only for this command, not at every CLI start.
    from ..sandbox import ZoomSandbox

    sandbox = ZoomSandbox()
    calendar = _calendar_or_none()
    if calendar is not None:
        for email in _hosts(calendar):
            sandbox.add_user(email, timezone=calendar.timezone.key)
    try:
        sandbox.start(host=host, port=port)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sandbox.connect_webhooks(webhook_url)
    try:
        _print_environment(sandbox)
        if webhook_url:
            echo_err(f"webhooks go to {webhook_url}")
        echo_err("Zoom sandbox running; press Ctrl-C to stop")
        threading.Event().wait()
    except KeyboardInterrupt:
        echo_err("stopping the Zoom sandbox")
    finally:
        sandbox.stop()


def _calendar_or_none() -> Calendar | None:
    try:
        return load_calendar(load_settings().config_path)
    except ConfigError as error:
        echo_err("cannot read the calendar, starting with no users:\n  " + "\n  ".join(error.problems))
        return None


def _hosts(calendar: Calendar) -> list[str]:
    # Hosts given as Zoom user ids cannot be recreated here; only emails become sandbox users.
    hosts = [module.host for module in calendar.modules] + [calendar.mix_it_up.host]
    return list(dict.fromkeys(host.lower() for host in hosts if "@" in host))


def _print_environment(sandbox: ZoomSandbox) -> None:
    """The variables that point the service at the sandbox (its values are not secrets)."""
    for user in sandbox.users.all():
        echo_err(f"user {user['email']} ({user['id']})")
    for name, value in sandbox_environment(sandbox).items():
        click.echo(f"{name}={value}")
