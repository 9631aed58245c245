"""The README's Commands table names every command of `homeroom` and every option each one takes, so the
table a newcomer reads cannot fall behind the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from zoom_homeroom.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def documented() -> dict[tuple[str, ...], str]:
    """Each command path the table's first column shows -> that cell (`homeroom user add EMAIL ...`,
    `user remove EMAIL`, `attendance excuse\\|mark-present\\|clear ...` name three)."""
    text = README.read_text(encoding="utf-8")
    table = text.split("\n## Commands\n", 1)[1].split("\n### ", 1)[0]
    found: dict[tuple[str, ...], str] = {}
    for row in table.splitlines():
        if not row.startswith("| `homeroom "):
            continue
        cell = row.split(" | ", 1)[0]
        for span in re.findall(r"`([^`]+)`", cell):
            words = span.removeprefix("homeroom ").split()
            path: list[list[str]] = []
            for word in words:
                if not re.fullmatch(r"[a-z][a-z-]*(\\\|[a-z][a-z-]*)*", word):
                    break  # an argument (FILE.csv, SESSION), an option or its brackets
                path.append(word.split("\\|"))
            for names in _spelled_out(path):
                found[names] = cell
    return found


def _spelled_out(path: list[list[str]]) -> Iterator[tuple[str, ...]]:
    if not path:
        return
    *head, last = path
    prefix = tuple(alternatives[0] for alternatives in head)
    for name in last:
        yield (*prefix, name)


def commands(
    group: click.Group = cli, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command (a group with options of its own counts too), by its path."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            if any(isinstance(param, click.Option) for param in command.params):
                yield path, command
            yield from commands(command, path)
        else:
            yield path, command


def test_the_table_parses_as_the_readme_writes_it():
    table = documented()
    assert table[("mixitup", "poll", "open")].startswith("| `homeroom mixitup poll open --week W")
    assert ("attendance", "mark-present") in table and ("token", "revoke") in table


def test_every_command_is_in_the_readmes_commands_table():
    table = documented()
    missing = [" ".join(path) for path, _ in commands() if path not in table]
    assert missing == []


def test_every_option_of_a_command_is_in_its_row():
    table = documented()
    missing = []
    for path, command in commands():
        cell = table.get(path, "")
        for param in command.params:
            names = [name for name in (*param.opts, *param.secondary_opts) if name.startswith("--")]
            if isinstance(param, click.Option) and names and not any(name in cell for name in names):
                missing.append(f"homeroom {' '.join(path)} {names[0]}")
    assert missing == []
