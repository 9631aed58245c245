"""Storage: the only module with SQL or table names. Methods are named by intent and return core models.

Every connection uses WAL (web workers and the scheduler share the file), a long busy timeout, and
`BEGIN IMMEDIATE` for writes so two processes queue for the write lock instead of failing with
"database is locked". A write acknowledged to someone outside (a webhook's 2xx) commits with
`synchronous=FULL`: once answered, it is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from .core.times import to_utc_text
from .migrations import migrations

BUSY_TIMEOUT_MS = 30_000


class StorageError(Exception):
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
        raise StorageError(f"{path}: cannot open the database: {error}") from None
    return Database(conn, execute_plugins=False)


class Storage:
    """All reads and writes of the service's state."""

    def __init__(self, db: Database):
        self.db = db

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True) -> Storage:
        storage = cls(connect(path))
        if migrate:
            storage.migrate()
        return storage

    def close(self) -> None:
        self.db.close()

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Database]:
        """One write transaction. Nested calls become savepoints of the outer one.

        `durable=True` commits with synchronous=FULL: use it where the write is acknowledged.
        """
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        if durable:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if durable:
                conn.execute("PRAGMA synchronous = NORMAL")

    def migrate(self) -> list[str]:
        """Apply pending migrations under the write lock, so concurrent starters do it once."""
        with self.write():
            pending = [migration.name for migration in migrations.pending(self.db)]
            if pending:
                migrations.apply(self.db)
        return pending

    def schema_version(self) -> list[str]:
        """Names of the applied migrations, oldest first."""
        return [migration.name for migration in migrations.applied(self.db)]

    def ping(self) -> bool:
        """True when the database answers a query."""
        return self.db.execute("SELECT 1").fetchone() == (1,)

    # -- locks --------------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, *, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Take the named lock unless someone else holds an unexpired one."""
        with self.write():
            row = self.db.execute("SELECT owner, expires_at FROM locks WHERE name = ?", [name]).fetchone()
            if row and row[0] != owner and row[1] > to_utc_text(now):
                return False
            self.db.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                [name, owner, to_utc_text(now + ttl)],
            )
            return True

    def release_lock(self, name: str, owner: str) -> None:
        with self.write():
            self.db.execute("DELETE FROM locks WHERE name = ? AND owner = ?", [name, owner])
