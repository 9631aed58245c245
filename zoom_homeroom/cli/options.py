"""What several commands share: the `--format` option and rows printed in it, and a port option."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from ..services.exports import csv_text, table_text

Command = TypeVar("Command", bound=Callable[..., Any])


def format_option(*formats: str, help: str = "Output format.") -> Callable[[Command], Command]:
    """`--format` (the command's `fmt`), one of `formats`, the first by default."""
    return click.option(
        "--format", "fmt", type=click.Choice(formats), default=formats[0], show_default=True, help=help
    )


def echo_rows(
    fmt: str, rows: Sequence[Mapping[str, Any]], fields: Sequence[str], *, key: str, empty: str
) -> None:
    """`rows` as JSON (`{key: rows}`), CSV (formula-safe) or a table of `fields`; `empty` for a table of none."""
    if fmt == "json":
        click.echo(json.dumps({key: rows}, indent=2))
    elif fmt == "csv":
        click.echo(csv_text(rows, fields), nl=False)
    elif rows:
        click.echo(table_text(rows, fields))
    else:
        click.echo(empty)


def port_option(flag: str, *, default: int, help: str) -> Callable[[Command], Command]:
    """A TCP port option; 0 asks for any free port."""
    return click.option(flag, default=default, show_default=True, type=click.IntRange(0, 65535), help=help)
