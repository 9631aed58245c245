"""Storage: the only code with SQL or table names. Methods are named by intent and return core models
or typed rows.

`Storage` is one facade over the areas, one module each (roster, sessions, registrations, deliveries,
attendance, mixitup, slack, users), all built on `db.Connection`: the connection, its writer queue and durable
writes.
The schema is `migrations.py`. `StoragePool` shares connections among the threads of a process;
`GroupCommit` shares their durable commits.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .attendance import AttendanceStore
from .db import GroupCommit, StorageError, connect
from .deliveries import DeliveryStore
from .migrations import migrations
from .mixitup import MixItUpStore
from .registrations import RegistrationStore
from .roster import RosterStore
from .sessions import SessionStore
from .slack import SlackStore
from .users import UserStore

__all__ = ["GroupCommit", "Storage", "StorageError", "StoragePool", "connect"]


class Storage(
    RosterStore,
    SessionStore,
    RegistrationStore,
    DeliveryStore,
    AttendanceStore,
    MixItUpStore,
    SlackStore,
    UserStore,
):
    """All reads and writes of the service's state."""

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True) -> Storage:
        storage = cls(connect(path), path=path)
        if migrate:
            storage.migrate()
        return storage

    def migrate(self) -> list[str]:
        """Apply pending migrations under the write lock, so concurrent starters do it once; first, a
        one-line StorageError if the database cannot be written."""
        self.check_writable()
        with self.write():
            pending = [migration.name for migration in migrations.pending(self.db)]
            if pending:
                migrations.apply(self.db)
        return pending

    def schema_version(self) -> list[str]:
        """Names of the applied migrations, oldest first."""
        return [migration.name for migration in migrations.applied(self.db)]


class StoragePool:
    """Connections to one database for the threads of a process: a thread holds one while it works and
    gives it back when done, so a threaded server has as many open as it serves requests at once.

    Opening a connection costs about a millisecond, so connections given back are kept for the next
    thread, up to `keep`. A process with one thread (a command) opens one and keeps it. The pool's first connection applies pending
    migrations; later ones (after `close`, in a forked worker) need not look again.
    """

    def __init__(self, path: Path | str, *, keep: int = 4):
        self._path = path
        self._keep = keep
        self._lock = threading.Lock()
        self._idle: list[Storage] = []
        self._opened: list[Storage] = []
        self._held = threading.local()
        self._migrated = False

    def current(self) -> Storage:
        """This thread's connection: the one it holds, else an idle one, else a new one."""
        storage = getattr(self._held, "storage", None)
        if storage is None:
            storage = self._take()
            self._held.storage = storage
        return storage

    def _take(self) -> Storage:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            storage = Storage.open(self._path, migrate=not self._migrated)
            self._migrated = True
            self._opened.append(storage)
            return storage

    def release(self) -> None:
        """Give this thread's connection back (kept for another thread, or closed past `keep`)."""
        storage = getattr(self._held, "storage", None)
        if storage is None:
            return
        self._held.storage = None
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(storage)
                return
            self._opened.remove(storage)
        storage.close()

    def close(self) -> None:
        """Close every connection this pool opened (when no thread uses them any more)."""
        with self._lock:
            opened, self._opened, self._idle = self._opened, [], []
        for storage in opened:
            storage.close()
        self._held = threading.local()
