"""`homeroom demo`: the main job on the built-in Zoom sandbox."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from .group import cli
from .options import port_option


@cli.command("demo")
@click.option(
    "--fast", is_flag=True, help="Play with no waiting, print the summary and exit (for tests and CI)."
)
@port_option("--port", default=8000, help="The service's port (0: any free).")
@port_option("--sandbox-port", default=0, help="The Zoom sandbox's port (0: any free).")
@click.option(
    "--data-dir",
    default="demo-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its database and files (recreated on each run).",
)
@click.option(
    "--speed",
    default=240.0,
    show_default=True,
    type=click.FloatRange(1, 100000),
    help="How much faster than real time the Wednesday plays.",
)
def demo(fast: bool, port: int, sandbox_port: int, data_dir: Path, speed: float) -> None:
    """Run a whole Wednesday on the built-in Zoom sandbox (no credentials, no network), then serve the dashboard."""
    # Imported here: the demo brings Flask and the sandbox, which other commands do without.
    from ..demo.run import DemoOptions, run_demo

    logging.getLogger().setLevel(logging.WARNING)  # the demo tells its own story

    options = DemoOptions(data_dir=data_dir, port=port, sandbox_port=sandbox_port, fast=fast, speed=speed)
    try:
        run_demo(options, click.echo)
    except OSError as error:
        raise click.ClickException(
            f"cannot start the demo: {error.strerror or error} (try --port 0)"
        ) from None
