"""One connection to the database and its writes: queued, transactional, durable when asked, plus the
named locks processes take. No table of the service's own is known here but `locks`.

Every connection uses WAL (web workers and the scheduler share the file), a long busy timeout, and
`BEGIN IMMEDIATE` for writes, taken in turn on a file lock, so processes queue for the write lock
instead of failing with "database is locked". A write acknowledged to someone outside (a webhook's
2xx) uses `write(durable=True)`: once answered, it is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

try:
    import fcntl
except ImportError:  # not on Windows: the busy handler alone queues writers there
    fcntl = None  # type: ignore[assignment]

from ..core.times import parse_utc_text, to_utc_text
from ..errors import HomeroomError

BUSY_TIMEOUT_MS = 30_000


class StorageError(HomeroomError):
    """The database cannot be used (unreadable file, newer schema, …)."""


def connect(path: Path | str) -> Database:
    """Open the database with the pragmas every process needs."""
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN IMMEDIATE ourselves
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as error:
        raise permission_error(path, error) or StorageError(
            f"{path}: cannot open the database: {error}"
        ) from None
    return Database(conn, execute_plugins=False)


# What SQLite says when the file or its folder cannot be written (it keeps -wal and -shm beside it).
_PERMISSION_MESSAGES = ("attempt to write a readonly database", "unable to open database file")


def permission_error(path: Path | str, error: sqlite3.Error | None = None) -> StorageError | None:
    """A one-line StorageError naming the file and the permission it lacks, for an error its
    permissions caused (None for any other error). Without an error: whether the file and its folder
    can be written at all (None when they can)."""
    if error is not None and not any(message in str(error) for message in _PERMISSION_MESSAGES):
        return None
    database = Path(path)
    folder = database.parent.resolve()
    if database.exists() and not os.access(database, os.R_OK):
        lacking = "cannot be read: this user needs read and write permission on the file"
    elif database.exists() and not os.access(database, os.W_OK):
        lacking = "is read-only: this user needs write permission on the file"
    elif not os.access(folder, os.W_OK):
        lacking = (
            f"is in a read-only folder: this user needs write permission on {folder}, where SQLite "
            f"keeps {database.name}-wal and {database.name}-shm"
        )
    elif error is None:
        return None
    else:
        lacking = f"cannot be written ({error}): check the file, its folder and the file system"
    return StorageError(f"{database}: the database {lacking}")


class _WriterQueue:
    """Writers of one database queue on a file lock before `BEGIN IMMEDIATE`.

    SQLite's busy handler polls with sleeps of up to 100 ms, so under steady writes one writer can
    starve for seconds while another keeps winning. A blocking `flock` is granted as soon as the
    holder releases it: the wait is the other writers' work, not a sleep. Where there is no file
    (an in-memory database) or no `fcntl`, the busy handler alone still keeps writes correct.
    """

    def __init__(self, path: Path | str):
        self._fd: int | None = None
        if fcntl is None or str(path) in ("", ":memory:"):
            return
        with contextlib.suppress(OSError):
            self._fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Connection:
    """A connection to the database with its writer queue; every storage area builds on it."""

    def __init__(self, db: Database, *, path: Path | str = ""):
        self.db = db
        self._path = str(path)
        self._writers = _WriterQueue(path)
        self._wal_fd: int | None = None

    def close(self) -> None:
        self.db.close()
        self._writers.close()
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    def check_writable(self) -> None:
        """Raise the one-line StorageError when the file or its folder cannot be written: a service that
        could only read would refuse every webhook."""
        if self._path not in ("", ":memory:") and (problem := permission_error(self._path)):
            raise problem

    def ping(self) -> bool:
        """True when the database answers a query."""
        return self.db.execute("SELECT 1").fetchone() == (1,)

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, durable: bool = False, savepoint: bool = True) -> Iterator[Database]:
        """One write transaction. Nested calls become savepoints of the outer one (or, with
        `savepoint=False`, simply part of it: for single statements the outer one covers).

        `durable=True` returns only once the transaction is on disk: use it where the write is
        acknowledged to someone (a webhook's 2xx). The commit itself runs with synchronous=NORMAL,
        which writes the WAL frames but does not fsync them; the WAL is then fsynced after the
        write lock is released, so other writers need not wait for this disk flush, and flushes of
        concurrent writers coalesce in the filesystem. Frames a checkpoint moved meanwhile are safe
        too: a checkpoint syncs the WAL before it and the database after it.
        """
        conn = self.db.conn
        if conn.in_transaction:
            if not savepoint:
                yield self.db
                return
            with self.db.atomic():
                yield self.db
            return
        wal = self._wal() if durable else None
        fallback = durable and wal is None
        if fallback:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            with self._writers.turn():
                self._begin()
                try:
                    yield self.db
                except BaseException as error:
                    conn.execute("ROLLBACK")
                    if isinstance(error, sqlite3.OperationalError):
                        raise permission_error(self._path, error) or error from None
                    raise
                conn.execute("COMMIT")
        finally:
            if fallback:
                conn.execute("PRAGMA synchronous = NORMAL")
        if wal is not None:
            os.fsync(wal)

    def _begin(self) -> None:
        """BEGIN IMMEDIATE: where the database cannot be written, the one-line StorageError saying why."""
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise permission_error(self._path, error) or error from None

    def _wal(self) -> int | None:
        """A descriptor of the database's WAL file, for fsync; None where there is none (in memory)."""
        if self._wal_fd is None and self._path not in ("", ":memory:"):
            with contextlib.suppress(OSError):
                self._wal_fd = os.open(f"{self._path}-wal", os.O_RDONLY)
        return self._wal_fd

    # -- locks --------------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, *, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Take the named lock unless someone else holds an unexpired one."""
        with self.write():
            row = self.db.execute("SELECT owner, expires_at FROM locks WHERE name = ?", [name]).fetchone()
            if row and row[0] != owner and row[1] > to_utc_text(now):
                return False
            self.db["locks"].upsert(
                {"name": name, "owner": owner, "expires_at": to_utc_text(now + ttl)}, pk="name"
            )
            return True

    def release_lock(self, name: str, owner: str) -> None:
        with self.write():
            self.db["locks"].delete_where("name = ? AND owner = ?", [name, owner])


def where(
    equal: dict[str, object], *, since: tuple[str, dt.date | None] | None = None
) -> tuple[str, list[object]]:
    """` WHERE a = ? AND ...` for the filters that are given (None: no filter), with its parameters;
    `since` adds `column >= date`. Dates compare as ISO text, as they are stored."""
    clauses, params = [], []
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value.isoformat() if isinstance(value, dt.date) else value)
    if since is not None and since[1] is not None:
        clauses.append(f"{since[0]} >= ?")
        params.append(since[1].isoformat())
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def optional_time(text: str | None) -> dt.datetime | None:
    """A stored time that may be NULL."""
    return parse_utc_text(text) if text else None
