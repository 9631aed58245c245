"""A database the service cannot write (issue 12, item 9): `serve` and `roster import` say in one line
which file and which permission, never a traceback.

Tests run as root, whom file modes do not stop, so as root the file or folder is made immutable
(`chattr +i`, which binds root too); as anyone else, its write bits are taken away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoom_homeroom.cli import cli
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.settings import load_settings
from zoom_homeroom.storage import Storage

ROSTER = "name,email,module,program,group\nAda Lovelace,ada@x.org,1,BE,1\n"


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` (a file or a folder) cannot be written by this process while the block runs."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.fail("chattr is needed to make a file read-only for root (e2fsprogs)")
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)


@pytest.fixture
def database(tmp_path: Path, env: dict[str, str], calendar, clock) -> Iterator[tuple[Path, Runtime]]:
    """A migrated database alone in its folder (no -wal or -shm left), and a Runtime for it."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "homeroom.db"
    Storage.open(path).close()
    assert sorted(p.name for p in folder.iterdir()) == ["homeroom.db", "homeroom.db-writers"]
    runtime = Runtime(
        load_settings({**env, "HOMEROOM_DATABASE": str(path)}), clock=clock, calendar_override=calendar
    )
    yield path, runtime
    runtime.close()


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def one_line_error(result) -> str:
    """The error line a failed command ended with (what it printed of its work may come before)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    return result.output.strip().splitlines()[-1]


def test_roster_import_into_a_read_only_database_file(runner, database, roster_file):
    path, runtime = database
    with read_only(path):
        result = runner.invoke(cli, ["roster", "import", str(roster_file)], obj=runtime)
    assert one_line_error(result) == (
        f"Error: {path}: the database is read-only: this user needs write permission on the file"
    )


def test_roster_import_into_a_database_in_a_read_only_folder(runner, database, roster_file):
    path, runtime = database
    with read_only(path.parent):
        result = runner.invoke(cli, ["roster", "import", str(roster_file)], obj=runtime)
    assert one_line_error(result) == (
        f"Error: {path}: the database is in a read-only folder: this user needs write permission on "
        f"{path.parent}, where SQLite keeps homeroom.db-wal and homeroom.db-shm"
    )


@pytest.mark.parametrize("target", ["file", "folder"])
def test_serve_with_a_read_only_database_says_so_before_serving(runner, database, monkeypatch, target):
    import zoom_homeroom.web.server as server

    served = []
    monkeypatch.setattr(server, "serve", lambda app, **options: served.append(app))
    path, runtime = database
    with read_only(path if target == "file" else path.parent):
        result = runner.invoke(cli, ["serve"], obj=runtime)
    line = one_line_error(result)
    assert line.startswith(f"Error: {path}: the database is ")
    assert ("read-only folder" in line) == (target == "folder")
    assert served == []
