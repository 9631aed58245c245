"""Storage: the only code with SQL or table names. Methods are named by intent and return core models
or typed rows.

`Storage` is one facade over the areas, one module each (roster, sessions, deliveries, attendance,
mixitup, users), all built on `db.Connection`: the connection, its writer queue and durable writes.
The schema is `migrations.py`.
"""

from __future__ import annotations

from pathlib import Path

from .attendance import AttendanceStore
from .db import StorageError, connect
from .deliveries import DeliveryStore
from .migrations import migrations
from .mixitup import MixItUpStore
from .roster import RosterStore
from .sessions import SessionStore
from .users import UserStore

__all__ = ["Storage", "StorageError", "connect"]


class Storage(RosterStore, SessionStore, DeliveryStore, AttendanceStore, MixItUpStore, UserStore):
    """All reads and writes of the service's state."""

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True) -> Storage:
        storage = cls(connect(path), path=path)
        if migrate:
            storage.migrate()
        return storage

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
