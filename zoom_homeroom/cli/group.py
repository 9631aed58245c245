"""The `homeroom` click group, which each area's module of this package adds its commands to.

A user's mistake (any `HomeroomError`) becomes its lines and exit status 1, here and nowhere else;
never a traceback. Text from outside (names, emails, topics) is printed through `core.text.printable`,
so an escape sequence or a carriage return in a display name cannot act on the terminal.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import click

from ..core.text import printable
from ..errors import HomeroomError
from ..logs import configure_logging
from ..runtime import Runtime
from ..settings import load_settings


class HomeroomGroup(click.Group):
    """Turns a user's mistake into its lines (click prints them after "Error:") and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HomeroomError as error:
            raise click.ClickException("\n".join(printable(line) for line in error.lines())) from None


@click.group(cls=HomeroomGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Run Homeroom sessions on Zoom: meetings, breakout rooms, attendance, Mix It Up."""
    configure_logging([], level=logging.DEBUG if verbose else logging.INFO)
    preset = ctx.obj if isinstance(ctx.obj, Runtime) else None  # tests and the demo pass one
    ctx.obj = ctx.with_resource(_runtime_resource(preset))


class _LazyRuntime:
    """Builds the Runtime on first use, so `--help` and `config check` work with a broken setup."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime
        self._owned = runtime is None

    def get(self) -> Runtime:
        if self._runtime is None:
            settings = load_settings()
            configure_logging(settings.secrets())
            self._runtime = Runtime(settings)
        return self._runtime

    def close(self) -> None:
        if self._owned and self._runtime is not None:
            self._runtime.close()


def _runtime_resource(preset: Runtime | None):
    @contextlib.contextmanager
    def manager():
        lazy = _LazyRuntime(preset)
        try:
            yield lazy
        finally:
            lazy.close()

    return manager()


def get_runtime(ctx: click.Context) -> Runtime:
    """The command's Runtime, built on first use."""
    return ctx.find_object(_LazyRuntime).get()


def pass_runtime(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the Runtime as its first argument."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(get_runtime(click.get_current_context()), *args, **kwargs)

    return wrapper


def echo_err(message: str) -> None:
    click.echo(message, err=True)
