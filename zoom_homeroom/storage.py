"""Storage: the only module with SQL or table names. Methods are named by intent and return core models.

Every connection uses WAL (web workers and the scheduler share the file), a long busy timeout, and
`BEGIN IMMEDIATE` for writes, taken in turn on a file lock, so processes queue for the write lock
instead of failing with "database is locked". A write acknowledged to someone outside (a webhook's
2xx) uses `write(durable=True)`: once answered, it is on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlite_utils import Database

try:
    import fcntl
except ImportError:  # not on Windows: the busy handler alone queues writers there
    fcntl = None  # type: ignore[assignment]

from .core.attendance import Edge, Override, SessionAttendance, ZoomIdentity
from .core.models import (
    ApiToken,
    Delivery,
    GroupMove,
    PlannedSession,
    SessionRecord,
    StoredFormation,
    StoredMeeting,
    Student,
    User,
)
from .core.roster import ModuleChanges, Move
from .core.times import parse_utc_text, to_utc_text
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


class Storage:
    """All reads and writes of the service's state."""

    def __init__(self, db: Database, *, path: Path | str = ""):
        self.db = db
        self._path = str(path)
        self._writers = _WriterQueue(path)
        self._wal_fd: int | None = None

    @classmethod
    def open(cls, path: Path | str, *, migrate: bool = True) -> Storage:
        storage = cls(connect(path), path=path)
        if migrate:
            storage.migrate()
        return storage

    def close(self) -> None:
        self.db.close()
        self._writers.close()
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

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
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        finally:
            if fallback:
                conn.execute("PRAGMA synchronous = NORMAL")
        if wal is not None:
            os.fsync(wal)

    def _wal(self) -> int | None:
        """A descriptor of the database's WAL file, for fsync; None where there is none (in memory)."""
        if self._wal_fd is None and self._path not in ("", ":memory:"):
            with contextlib.suppress(OSError):
                self._wal_fd = os.open(f"{self._path}-wal", os.O_RDONLY)
        return self._wal_fd

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

    # -- roster -------------------------------------------------------------------------------

    def students(self, *, module: int | None = None, active_only: bool = True) -> list[Student]:
        """Students ordered by module, group and name."""
        where, params = _where({"module": module, "active": 1 if active_only else None})
        rows = list(
            self.db.query(f"SELECT * FROM students{where} ORDER BY module, group_number, name, id", params)
        )
        aliases = self._aliases_by_student()
        return [_student(row, aliases.get(row["id"], ())) for row in rows]

    def student(self, student_id: int) -> Student | None:
        row = next(self.db.query("SELECT * FROM students WHERE id = ?", [student_id]), None)
        if row is None:
            return None
        return _student(row, self._aliases_by_student(student_id).get(student_id, ()))

    def student_by_email(self, email: str) -> Student | None:
        row = next(self.db.query("SELECT id FROM students WHERE email = ?", [email.strip().lower()]), None)
        return self.student(row["id"]) if row else None

    def _aliases_by_student(self, student_id: int | None = None) -> dict[int, tuple[str, ...]]:
        sql = "SELECT student_id, original FROM student_aliases"
        params: list[object] = []
        if student_id is not None:
            sql += " WHERE student_id = ?"
            params.append(student_id)
        aliases: dict[int, list[str]] = {}
        for row in self.db.query(sql + " ORDER BY rowid", params):
            aliases.setdefault(row["student_id"], []).append(row["original"])
        return {key: tuple(value) for key, value in aliases.items()}

    def apply_roster(self, changes: list[ModuleChanges], *, today: dt.date, now: dt.datetime) -> None:
        """Apply a validated roster import in one transaction: all of it or nothing."""
        stamp, day = to_utc_text(now), today.isoformat()
        with self.write():
            for change in changes:
                for student in change.added:
                    self._add_or_reactivate(student, stamp, day)
                for move in change.moved:
                    self._move(move, stamp, day)
                for student in change.updated:
                    self._update_details(student, stamp)
                for student in change.deactivated:
                    self._deactivate(student, stamp, day)

    def _add_or_reactivate(self, student: Student, stamp: str, day: str) -> None:
        existing = next(
            self.db.query(
                "SELECT id, module, group_number, active FROM students WHERE email = ?", [student.email]
            ),
            None,
        )
        values = [student.name, student.module, student.program, student.group, stamp]
        if existing is None:
            student_id = self.db.execute(
                "INSERT INTO students (name, module, program, group_number, active, created_at, "
                "updated_at, email) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                [*values[:4], stamp, stamp, student.email],
            ).lastrowid
            from_group = None
        else:
            student_id = existing["id"]
            self.db.execute(
                "UPDATE students SET name = ?, module = ?, program = ?, group_number = ?, active = 1, "
                "updated_at = ? WHERE id = ?",
                [*values, student_id],
            )
            same_module = existing["module"] == student.module and existing["active"]
            from_group = existing["group_number"] if same_module else None
        self._replace_aliases(student_id, student.aliases)
        self._record_move(student_id, student.module, from_group, student.group, day, stamp)

    def _move(self, move: Move, stamp: str, day: str) -> None:
        row = next(self.db.query("SELECT id, module FROM students WHERE email = ?", [move.email]))
        self.db.execute(
            "UPDATE students SET group_number = ?, updated_at = ? WHERE id = ?",
            [move.to_group, stamp, row["id"]],
        )
        self._record_move(row["id"], row["module"], move.from_group, move.to_group, day, stamp)

    def _update_details(self, student: Student, stamp: str) -> None:
        row = next(self.db.query("SELECT id FROM students WHERE email = ?", [student.email]))
        self.db.execute(
            "UPDATE students SET name = ?, program = ?, updated_at = ? WHERE id = ?",
            [student.name, student.program, stamp, row["id"]],
        )
        self._replace_aliases(row["id"], student.aliases)

    def _deactivate(self, student: Student, stamp: str, day: str) -> None:
        row = next(self.db.query("SELECT id FROM students WHERE email = ?", [student.email]))
        self.db.execute("UPDATE students SET active = 0, updated_at = ? WHERE id = ?", [stamp, row["id"]])
        self._record_move(row["id"], student.module, student.group, None, day, stamp)

    def _replace_aliases(self, student_id: int, aliases: tuple[str, ...]) -> None:
        from .core.matching import normalise_name

        self.db.execute("DELETE FROM student_aliases WHERE student_id = ?", [student_id])
        for alias in aliases:
            kind = "email" if "@" in alias else "name"
            key = alias.lower() if kind == "email" else normalise_name(alias)
            self.db.execute(
                "INSERT OR IGNORE INTO student_aliases (student_id, kind, alias, original) "
                "VALUES (?, ?, ?, ?)",
                [student_id, kind, key, alias],
            )

    def _record_move(
        self, student_id: int, module: int, from_group: int | None, to_group: int | None, day: str, stamp: str
    ) -> None:
        self.db.execute(
            "INSERT INTO group_moves (student_id, module, from_group, to_group, moved_on, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [student_id, module, from_group, to_group, day, stamp],
        )

    def group_history(self, student_id: int) -> list[GroupMove]:
        """The student's group changes, oldest first."""
        return [
            GroupMove(
                module=row["module"],
                from_group=row["from_group"],
                to_group=row["to_group"],
                moved_on=dt.date.fromisoformat(row["moved_on"]),
            )
            for row in self.db.query(
                "SELECT * FROM group_moves WHERE student_id = ? ORDER BY id", [student_id]
            )
        ]

    # -- meetings and sessions ----------------------------------------------------------------

    def meeting(self, key: str) -> StoredMeeting | None:
        row = next(self.db.query("SELECT * FROM meetings WHERE key = ?", [key]), None)
        return _meeting(row) if row else None

    def all_meetings(self) -> list[StoredMeeting]:
        return [_meeting(row) for row in self.db.query("SELECT * FROM meetings ORDER BY key")]

    def save_meeting(self, meeting: StoredMeeting, *, now: dt.datetime) -> None:
        """Record a meeting Zoom accepted (created, recreated or updated)."""
        stamp = to_utc_text(now)
        with self.write():
            self.db.execute(
                "INSERT INTO meetings (key, kind, module, host, zoom_meeting_id, join_url, spec, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "host = excluded.host, zoom_meeting_id = excluded.zoom_meeting_id, "
                "join_url = excluded.join_url, spec = excluded.spec, updated_at = excluded.updated_at",
                [
                    meeting.key,
                    meeting.kind,
                    meeting.module,
                    meeting.host,
                    meeting.zoom_meeting_id,
                    meeting.join_url,
                    json.dumps(meeting.spec, sort_keys=True),
                    stamp,
                    stamp,
                ],
            )

    def upsert_sessions(
        self, sessions: list[PlannedSession], *, meeting_key: str | None, occurrence_ids: dict[str, str]
    ) -> None:
        """Store planned sessions (keyed by session key), linked to their meeting and occurrence."""
        with self.write():
            for session in sessions:
                self.db.execute(
                    "INSERT INTO sessions (key, kind, module, week, date, start_utc, end_utc, meeting_key, "
                    "occurrence_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "week = excluded.week, start_utc = excluded.start_utc, end_utc = excluded.end_utc, "
                    "meeting_key = coalesce(excluded.meeting_key, sessions.meeting_key), "
                    "occurrence_id = coalesce(excluded.occurrence_id, sessions.occurrence_id), "
                    "dirty = CASE WHEN sessions.start_utc != excluded.start_utc "
                    "OR sessions.end_utc != excluded.end_utc THEN 1 ELSE sessions.dirty END",
                    [
                        session.key,
                        session.kind,
                        session.module,
                        session.week,
                        session.date.isoformat(),
                        to_utc_text(session.start),
                        to_utc_text(session.end),
                        meeting_key,
                        occurrence_ids.get(session.key),
                    ],
                )

    def replace_session_members(self, session_key: str, members: list[tuple[int, int]]) -> None:
        """Freeze who is expected in a session, and in which group: (student id, group) pairs."""
        with self.write():
            session_id = self._session_id(session_key)
            self.db.execute("DELETE FROM session_members WHERE session_id = ?", [session_id])
            self.db.conn.executemany(
                "INSERT INTO session_members (session_id, student_id, group_number) VALUES (?, ?, ?)",
                [(session_id, student_id, group) for student_id, group in members],
            )
            self.db.execute("UPDATE sessions SET dirty = 1 WHERE id = ?", [session_id])

    def session_members(self, session_id: int) -> list[tuple[int, int]]:
        """(student id, group) pairs expected in the session, by group."""
        return [
            (row["student_id"], row["group_number"])
            for row in self.db.query(
                "SELECT student_id, group_number FROM session_members WHERE session_id = ? "
                "ORDER BY group_number, student_id",
                [session_id],
            )
        ]

    def _session_id(self, key: str) -> int:
        row = next(self.db.query("SELECT id FROM sessions WHERE key = ?", [key]), None)
        if row is None:
            raise KeyError(f"no session {key}")
        return row["id"]

    _SESSION_SELECT = (
        "SELECT s.*, m.zoom_meeting_id, m.join_url "
        "FROM sessions s LEFT JOIN meetings m ON m.key = s.meeting_key"
    )

    def sessions(
        self,
        *,
        kind: str | None = None,
        module: int | None = None,
        week: int | None = None,
        state: str | None = None,
        since: dt.date | None = None,
        date: dt.date | None = None,
    ) -> list[SessionRecord]:
        """Stored sessions, oldest first, filtered by whatever is given (`since`: on or after that date)."""
        where, params = _where(
            {"s.kind": kind, "s.module": module, "s.week": week, "s.state": state, "s.date": date},
            since=("s.date", since),
        )
        sql = self._SESSION_SELECT + where
        return [_session(row) for row in self.db.query(sql + " ORDER BY s.start_utc, s.module", params)]

    def session(self, key_or_id: str | int) -> SessionRecord | None:
        column = "s.id" if isinstance(key_or_id, int) else "s.key"
        row = next(self.db.query(f"{self._SESSION_SELECT} WHERE {column} = ?", [key_or_id]), None)
        return _session(row) if row else None

    def session_for_zoom_meeting(self, zoom_meeting_id: str, local_date: dt.date) -> SessionRecord | None:
        """The session a Zoom event belongs to: its meeting id and the occurrence's local date."""
        row = next(
            self.db.query(
                f"{self._SESSION_SELECT} WHERE m.zoom_meeting_id = ? AND s.date = ? "
                "ORDER BY s.kind = 'mix_it_up' DESC LIMIT 1",
                [zoom_meeting_id, local_date.isoformat()],
            ),
            None,
        )
        return _session(row) if row else None

    # -- Zoom's daily create/update budget ------------------------------------------------------

    def zoom_writes_today(self, host: str, day: dt.date) -> int:
        row = next(
            self.db.query(
                "SELECT count FROM zoom_write_calls WHERE host = ? AND day = ?",
                [host.lower(), day.isoformat()],
            ),
            None,
        )
        return row["count"] if row else 0

    def count_zoom_write(self, host: str, day: dt.date) -> None:
        with self.write():
            self.db.execute(
                "INSERT INTO zoom_write_calls (host, day, count) VALUES (?, ?, 1) "
                "ON CONFLICT (host, day) DO UPDATE SET count = count + 1",
                [host.lower(), day.isoformat()],
            )

    # -- webhook deliveries and presence -------------------------------------------------------

    def store_delivery(self, delivery: Delivery) -> int | None:
        """Insert a raw delivery; None when the same body was stored before (an exact replay).

        Call inside `write(durable=True)`: the caller answers Zoom once this commits.
        """
        cursor = self.db.execute(
            "INSERT INTO webhook_deliveries (digest, event, received_at, request_timestamp, request_id, "
            "body, zoom_meeting_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
            [
                delivery.digest,
                delivery.event,
                to_utc_text(delivery.received_at),
                delivery.request_timestamp,
                delivery.request_id,
                delivery.body,
                delivery.zoom_meeting_id,
            ],
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def mark_delivery(
        self, delivery_id: int, outcome: str, *, now: dt.datetime, error: str | None = None
    ) -> None:
        """Record how a delivery was processed; an `error` leaves it pending for a later retry."""
        processed_at = None if outcome == "error" else to_utc_text(now)
        self.db.execute(
            "UPDATE webhook_deliveries SET processed_at = ?, outcome = ?, error = ? WHERE id = ?",
            [processed_at, outcome, error, delivery_id],
        )

    def pending_deliveries(
        self, *, limit: int = 500, after_id: int = 0, retry_errors: bool = True
    ) -> list[tuple[int, str]]:
        """(id, body) of stored deliveries not processed yet, oldest first; without `retry_errors`,
        only those never tried (a delivery whose processing failed waits for the next start-up)."""
        return [
            (row["id"], row["body"])
            for row in self.db.query(
                "SELECT id, body FROM webhook_deliveries WHERE processed_at IS NULL AND id > ? "
                "AND (? OR outcome IS NULL) ORDER BY id LIMIT ?",
                [after_id, retry_errors, limit],
            )
        ]

    def requeue_unknown_meeting_deliveries(self, zoom_meeting_id: str) -> int:
        """Make deliveries for a meeting we did not know pending again (it is known now)."""
        with self.write():
            return self.db.execute(
                "UPDATE webhook_deliveries SET processed_at = NULL, outcome = NULL "
                "WHERE outcome = 'unknown_meeting' AND zoom_meeting_id = ?",
                [zoom_meeting_id],
            ).rowcount

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by outcome ('pending' for unprocessed), for reports and health pages."""
        counts: dict[str, int] = {}
        for row in self.db.query(
            "SELECT coalesce(outcome, 'pending') AS outcome, processed_at IS NULL AS waiting, count(*) AS n "
            "FROM webhook_deliveries GROUP BY 1, 2"
        ):
            key = "pending" if row["waiting"] else row["outcome"]
            counts[key] = counts.get(key, 0) + row["n"]
        return counts

    def unknown_meetings(self) -> list[tuple[str, int, str]]:
        """(zoom meeting id, deliveries, latest received) for events of meetings we do not know."""
        return [
            (row["zoom_meeting_id"] or "?", row["n"], row["latest"])
            for row in self.db.query(
                "SELECT zoom_meeting_id, count(*) AS n, max(received_at) AS latest FROM webhook_deliveries "
                "WHERE outcome = 'unknown_meeting' GROUP BY zoom_meeting_id ORDER BY latest DESC"
            )
        ]

    def add_presence(self, session_id: int, edges: Iterable[Edge]) -> int:
        """Store join/leave edges (duplicates ignored) and mark the session for recomputation."""
        with self.write(savepoint=False):
            added = self._insert_presence(session_id, edges)
            if added:
                self.db.execute("UPDATE sessions SET dirty = 1 WHERE id = ? AND dirty = 0", [session_id])
        return added

    def replace_report_presence(self, session_id: int, edges: Iterable[Edge]) -> None:
        """Replace every report-sourced edge of a session with a complete backfill's (webhook edges stay)."""
        with self.write():
            self.db.execute("DELETE FROM presence WHERE session_id = ? AND source <> 'webhook'", [session_id])
            self._insert_presence(session_id, edges)
            self.db.execute("UPDATE sessions SET dirty = dirty + 1 WHERE id = ?", [session_id])

    def _insert_presence(self, session_id: int, edges: Iterable[Edge]) -> int:
        rows = [
            (
                session_id,
                edge.source,
                edge.instance,
                edge.connection,
                edge.room,
                edge.kind,
                to_utc_text(edge.at),
                edge.identity.name,
                edge.identity.email,
                edge.identity.zoom_user_id,
                edge.participant_uuid,
                edge.parent,
            )
            for edge in edges
        ]
        before = self.db.conn.total_changes
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO presence (session_id, source, instance, connection, room, edge, at, name, "
            "email, zoom_user_id, participant_uuid, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return self.db.conn.total_changes - before

    def has_presence(self, session_id: int) -> bool:
        return (
            self.db.execute("SELECT 1 FROM presence WHERE session_id = ? LIMIT 1", [session_id]).fetchone()
            is not None
        )

    def presence(self, session_id: int) -> list[Edge]:
        return [
            Edge(
                connection=row["connection"],
                source=row["source"],
                room=row["room"],
                kind=row["edge"],
                at=parse_utc_text(row["at"]),
                identity=ZoomIdentity(name=row["name"], email=row["email"], zoom_user_id=row["zoom_user_id"]),
                instance=row["instance"],
                participant_uuid=row["participant_uuid"],
                parent=row["parent"],
            )
            for row in self.db.query(
                "SELECT * FROM presence WHERE session_id = ? ORDER BY at, id", [session_id]
            )
        ]

    def set_session_instance(
        self, session_id: int, *, zoom_uuid: str | None = None, ended_at: dt.datetime | None = None
    ) -> None:
        """Record a held instance and when it ended (the latest end seen), and on the session the first
        instance's uuid and the latest end of any, since a host may end and restart the meeting."""
        ended = to_utc_text(ended_at) if ended_at else None
        with self.write(savepoint=False):
            self.db.execute(
                "UPDATE sessions SET zoom_uuid = coalesce(zoom_uuid, ?), "
                "ended_at = CASE WHEN ended_at IS NULL OR ? > ended_at THEN coalesce(?, ended_at) "
                "ELSE ended_at END, dirty = 1 WHERE id = ?",
                [zoom_uuid or None, ended, ended, session_id],
            )
            if zoom_uuid:
                self.db.execute(
                    "INSERT INTO session_instances (session_id, uuid, ended_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (session_id, uuid) DO UPDATE SET ended_at = CASE WHEN ended_at IS NULL "
                    "OR excluded.ended_at > ended_at THEN coalesce(excluded.ended_at, ended_at) ELSE ended_at END",
                    [session_id, zoom_uuid, ended],
                )

    def instance_ends(self, session_id: int) -> dict[str, dt.datetime]:
        """When each held instance of the session ended, by instance uuid (those whose end is known)."""
        return {
            row["uuid"]: parse_utc_text(row["ended_at"])
            for row in self.db.query(
                "SELECT uuid, ended_at FROM session_instances WHERE session_id = ? AND ended_at IS NOT NULL",
                [session_id],
            )
        }

    # -- attendance -----------------------------------------------------------------------------

    def dirty_sessions(self, *, before: dt.datetime | None = None) -> list[SessionRecord]:
        """Sessions whose attendance must be recomputed (optionally only those started before)."""
        sql = self._SESSION_SELECT + " WHERE s.dirty > 0"
        params: list[object] = []
        if before is not None:
            sql += " AND s.start_utc < ?"
            params.append(to_utc_text(before))
        return [_session(row) for row in self.db.query(sql + " ORDER BY s.start_utc", params)]

    def confirmed_matches(self) -> dict[tuple[str, str], int | None]:
        return {
            (row["key_kind"], row["key"]): row["student_id"]
            for row in self.db.query("SELECT key_kind, key, student_id FROM participant_matches")
        }

    def save_match(
        self, key_kind: str, key: str, student_id: int | None, *, set_by: str, now: dt.datetime
    ) -> None:
        """Remember a rep's decision for a Zoom identity; sessions where it appeared are recomputed."""
        with self.write():
            self.db.execute(
                "INSERT INTO participant_matches (key_kind, key, student_id, set_by, set_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key_kind, key) DO UPDATE SET student_id = excluded.student_id, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                [key_kind, key, student_id, set_by, to_utc_text(now)],
            )
            # Recompute (lazily) the sessions where this identity appeared: listed as unmatched there, or
            # seen under this Zoom user id or email (a mapping may move stays between students).
            self.db.execute(
                "UPDATE sessions SET dirty = dirty + 1 WHERE id IN ("
                "SELECT session_id FROM unmatched_participants WHERE ident = ? "
                "UNION SELECT session_id FROM presence WHERE (? = 'zoom_user_id' AND zoom_user_id = ?) "
                "OR (? = 'email' AND email = ?))",
                [_ident(key_kind, key), key_kind, key, key_kind, key],
            )

    def overrides(self, session_id: int) -> dict[int, Override]:
        return {
            row["student_id"]: Override(
                status=row["status"],
                note=row["note"],
                set_by=row["set_by"],
                set_at=parse_utc_text(row["set_at"]),
            )
            for row in self.db.query("SELECT * FROM overrides WHERE session_id = ?", [session_id])
        }

    def save_override(self, session_id: int, student_id: int, override: Override | None) -> None:
        """Set (or, with None, remove) a rep's override for one student and session."""
        with self.write():
            if override is None:
                self.db.execute(
                    "DELETE FROM overrides WHERE session_id = ? AND student_id = ?", [session_id, student_id]
                )
            else:
                self.db.execute(
                    "INSERT INTO overrides (session_id, student_id, status, note, set_by, set_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, student_id) DO UPDATE SET "
                    "status = excluded.status, note = excluded.note, set_by = excluded.set_by, "
                    "set_at = excluded.set_at",
                    [
                        session_id,
                        student_id,
                        override.status,
                        override.note,
                        override.set_by,
                        to_utc_text(override.set_at),
                    ],
                )
            self.db.execute("UPDATE sessions SET dirty = dirty + 1 WHERE id = ?", [session_id])

    def save_attendance(self, session_id: int, result: SessionAttendance, *, seen_dirty: int) -> None:
        """Replace a session's computed attendance; `seen_dirty` is the dirty count it was computed at."""
        with self.write():
            self.db.execute("DELETE FROM attendance WHERE session_id = ?", [session_id])
            self.db.conn.executemany(
                "INSERT INTO attendance (session_id, student_id, group_number, status, computed_status, minutes, "
                "first_join, last_leave, in_assigned_room) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        r.student_id,
                        r.group,
                        r.status,
                        r.computed_status,
                        r.minutes,
                        to_utc_text(r.first_join) if r.first_join else None,
                        to_utc_text(r.last_leave) if r.last_leave else None,
                        None if r.in_assigned_room is None else int(r.in_assigned_room),
                    )
                    for r in result.records
                ],
            )
            self.db.execute("DELETE FROM unmatched_participants WHERE session_id = ?", [session_id])
            self.db.conn.executemany(
                "INSERT INTO unmatched_participants (session_id, ident, name, email, zoom_user_id, minutes, "
                "first_join, candidates, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        u.ident,
                        u.identity.name,
                        u.identity.email,
                        u.identity.zoom_user_id,
                        u.minutes,
                        to_utc_text(u.first_join) if u.first_join else None,
                        json.dumps(list(u.candidates)),
                        u.reason,
                    )
                    for u in result.unmatched
                ],
            )
            self.db.execute(
                "UPDATE sessions SET dirty = max(dirty - ?, 0) WHERE id = ?", [seen_dirty, session_id]
            )

    def dirty_count(self, session_id: int) -> int:
        row = next(self.db.query("SELECT dirty FROM sessions WHERE id = ?", [session_id]), None)
        return row["dirty"] if row else 0

    def attendance_rows(
        self,
        *,
        module: int | None = None,
        week: int | None = None,
        kind: str | None = None,
        session_id: int | None = None,
        student_id: int | None = None,
        since: dt.date | None = None,
        date: dt.date | None = None,
    ) -> list[dict]:
        """Computed attendance joined with its student and session, ordered by session, group, name."""
        where, params = _where(
            {
                "s.module": module,
                "s.week": week,
                "s.kind": kind,
                "s.id": session_id,
                "a.student_id": student_id,
                "s.date": date,
            },
            since=("s.date", since),
        )
        sql = (
            "SELECT st.id AS student_id, st.email, st.name, st.program, st.module AS student_module, "
            "s.id AS session_id, s.key AS session_key, s.module, a.group_number AS 'group', s.week, s.date, "
            "s.kind, s.state, a.status, a.computed_status, a.minutes, a.first_join, a.last_leave, "
            "a.in_assigned_room, o.note AS override_note, o.set_by AS override_by, o.set_at AS override_at "
            "FROM attendance a JOIN sessions s ON s.id = a.session_id JOIN students st ON st.id = a.student_id "
            "LEFT JOIN overrides o ON o.session_id = a.session_id AND o.student_id = a.student_id"
        ) + where
        sql += " ORDER BY s.start_utc, s.module, a.group_number, st.name, st.id"
        rows = [dict(row) for row in self.db.query(sql, params)]
        for row in rows:
            if row["in_assigned_room"] is not None:
                row["in_assigned_room"] = bool(row["in_assigned_room"])
        return rows

    def unmatched_rows(
        self, *, module: int | None = None, week: int | None = None, session_id: int | None = None
    ) -> list[dict]:
        """Unmatched participants with their session, newest session first."""
        where, params = _where({"s.module": module, "s.week": week, "s.id": session_id})
        sql = (
            "SELECT u.*, s.key AS session_key, s.module, s.week, s.date, s.kind FROM unmatched_participants u "
            "JOIN sessions s ON s.id = u.session_id"
        ) + where
        rows = [dict(row) for row in self.db.query(sql + " ORDER BY s.start_utc DESC, u.first_join", params)]
        for row in rows:
            row["candidates"] = json.loads(row["candidates"])
        return rows

    def unmatched_participant(self, session_id: int, ident: str) -> dict | None:
        rows = [r for r in self.unmatched_rows(session_id=session_id) if r["ident"] == ident]
        return rows[0] if rows else None

    def finalize_session(self, session_id: int, *, now: dt.datetime) -> None:
        """Every fetch from Zoom succeeded: the session's attendance is final."""
        with self.write():
            self.db.execute(
                "UPDATE sessions SET state = 'final', final_at = ?, backfill_error = NULL, "
                "backfill_attempts = backfill_attempts + 1, dirty = dirty + 1 WHERE id = ?",
                [to_utc_text(now), session_id],
            )

    def note_backfill_failure(self, session_id: int, reason: str) -> None:
        with self.write():
            self.db.execute(
                "UPDATE sessions SET backfill_attempts = backfill_attempts + 1, backfill_error = ? WHERE id = ?",
                [reason[:500], session_id],
            )

    # -- Mix It Up ------------------------------------------------------------------------------

    def mixitup_members(self, miu_date: dt.date) -> list[tuple[int, int]]:
        """(student id, group number) of the formed Mix It Up groups of that date."""
        return [
            (row["student_id"], row["number"])
            for row in self.db.query(
                "SELECT student_id, number FROM mixitup_members WHERE miu_date = ? ORDER BY number, student_id",
                [miu_date.isoformat()],
            )
        ]

    def replace_poll_answers(
        self, miu_date: dt.date, week: int, answers: Iterable[tuple[int, str, int]]
    ) -> int:
        """Replace that Mix It Up's poll answers with (student id, topic, rank) rows; returns the count."""
        rows = [(miu_date.isoformat(), week, student_id, topic, rank) for student_id, topic, rank in answers]
        with self.write():
            self.db.execute("DELETE FROM poll_answers WHERE miu_date = ?", [miu_date.isoformat()])
            self.db.conn.executemany(
                "INSERT INTO poll_answers (miu_date, week, student_id, topic, rank) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def poll_answers(self, miu_date: dt.date) -> dict[int, list[str]]:
        """Student id -> topics, first choice first."""
        answers: dict[int, list[str]] = {}
        for row in self.db.query(
            "SELECT student_id, topic FROM poll_answers WHERE miu_date = ? ORDER BY student_id, rank",
            [miu_date.isoformat()],
        ):
            answers.setdefault(row["student_id"], []).append(row["topic"])
        return answers

    def save_formation(
        self,
        miu_date: dt.date,
        week: int,
        *,
        seed: int,
        quality: dict,
        groups: Iterable[tuple[int, str, Iterable[int]]],
        now: dt.datetime,
    ) -> None:
        """Replace that Mix It Up's groups with a new formation."""
        day = miu_date.isoformat()
        with self.write():
            self.db.execute("DELETE FROM mixitup_formations WHERE miu_date = ?", [day])
            self.db.execute(
                "INSERT INTO mixitup_formations (miu_date, week, seed, quality, formed_at) VALUES (?, ?, ?, ?, ?)",
                [day, week, seed, json.dumps(quality, sort_keys=True), to_utc_text(now)],
            )
            for number, topic, members in groups:
                self.db.execute(
                    "INSERT INTO mixitup_groups (miu_date, number, topic) VALUES (?, ?, ?)",
                    [day, number, topic],
                )
                self.db.conn.executemany(
                    "INSERT INTO mixitup_members (miu_date, number, student_id) VALUES (?, ?, ?)",
                    [(day, number, student_id) for student_id in members],
                )

    def formation(self, miu_date: dt.date) -> StoredFormation | None:
        day = miu_date.isoformat()
        row = next(self.db.query("SELECT * FROM mixitup_formations WHERE miu_date = ?", [day]), None)
        if row is None:
            return None
        members: dict[int, list[int]] = {}
        for member in self.db.query(
            "SELECT number, student_id FROM mixitup_members WHERE miu_date = ? ORDER BY number, student_id",
            [day],
        ):
            members.setdefault(member["number"], []).append(member["student_id"])
        groups = tuple(
            (group["number"], group["topic"], tuple(members.get(group["number"], ())))
            for group in self.db.query(
                "SELECT * FROM mixitup_groups WHERE miu_date = ? ORDER BY number", [day]
            )
        )
        return StoredFormation(
            miu_date=miu_date,
            week=row["week"],
            seed=row["seed"],
            quality=json.loads(row["quality"]),
            formed_at=parse_utc_text(row["formed_at"]),
            groups=groups,
        )

    # -- users, API tokens, sign-in throttling --------------------------------------------------

    def save_user(self, email: str, role: str, password_hash: str, *, now: dt.datetime) -> bool:
        """Create the user, or update their role and password; True when created."""
        email = email.strip().lower()
        with self.write():
            existing = next(self.db.query("SELECT id FROM users WHERE email = ?", [email]), None)
            if existing:
                self.db.execute(
                    "UPDATE users SET role = ?, password_hash = ? WHERE id = ?",
                    [role, password_hash, existing["id"]],
                )
                return False
            self.db.execute(
                "INSERT INTO users (email, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                [email, role, password_hash, to_utc_text(now)],
            )
            return True

    def remove_user(self, email: str) -> bool:
        with self.write():
            return self.db.execute("DELETE FROM users WHERE email = ?", [email.strip().lower()]).rowcount == 1

    def user_by_email(self, email: str) -> User | None:
        row = next(self.db.query("SELECT * FROM users WHERE email = ?", [email.strip().lower()]), None)
        return _user(row) if row else None

    def user(self, user_id: int) -> User | None:
        row = next(self.db.query("SELECT * FROM users WHERE id = ?", [user_id]), None)
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(row) for row in self.db.query("SELECT * FROM users ORDER BY email")]

    def add_token(self, name: str, token_hash: str, *, now: dt.datetime) -> bool:
        """Store a new token's hash under a unique name; False when the name is taken."""
        with self.write():
            cursor = self.db.execute(
                "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [name, token_hash, to_utc_text(now)],
            )
            return cursor.rowcount == 1

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = next(self.db.query("SELECT * FROM api_tokens WHERE token_hash = ?", [token_hash]), None)
        return _token(row) if row else None

    def touch_token(self, token_id: int, *, now: dt.datetime) -> None:
        with self.write():
            self.db.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [to_utc_text(now), token_id]
            )

    def remove_token(self, name: str) -> bool:
        with self.write():
            return self.db.execute("DELETE FROM api_tokens WHERE name = ?", [name]).rowcount == 1

    def tokens(self) -> list[ApiToken]:
        return [_token(row) for row in self.db.query("SELECT * FROM api_tokens ORDER BY name")]

    def record_sign_in_failure(self, key: str, *, now: dt.datetime) -> None:
        with self.write():
            self.db.execute("INSERT INTO sign_in_failures (key, at) VALUES (?, ?)", [key, to_utc_text(now)])

    def sign_in_failures(self, key: str, *, since: dt.datetime) -> int:
        row = next(
            self.db.query(
                "SELECT count(*) AS n FROM sign_in_failures WHERE key = ? AND at >= ?",
                [key, to_utc_text(since)],
            )
        )
        return row["n"]

    def clear_sign_in_failures(self, key: str, *, before: dt.datetime | None = None) -> None:
        """Forget a key's failures (after a good sign-in), or everyone's older than `before`."""
        with self.write():
            if before is not None:
                self.db.execute("DELETE FROM sign_in_failures WHERE at < ?", [to_utc_text(before)])
            else:
                self.db.execute("DELETE FROM sign_in_failures WHERE key = ?", [key])

    # -- dashboard queries --------------------------------------------------------------------------

    def status_counts(
        self, *, kind: str, started_before: dt.datetime, since: dt.date | None = None
    ) -> list[dict]:
        """Attendance records per (module, week, status) of one kind's sessions that have started
        (and, with `since`, that are on or after that date: the current cycle)."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT s.module, s.week, a.status, count(*) AS n FROM attendance a "
                "JOIN sessions s ON s.id = a.session_id WHERE s.kind = ? AND s.start_utc <= ? AND s.date >= ? "
                "GROUP BY s.module, s.week, a.status ORDER BY s.module, s.week",
                [kind, to_utc_text(started_before), (since or dt.date.min).isoformat()],
            )
        ]

    def unmatched_counts(self) -> list[dict]:
        """Sessions with unmatched participants waiting for a rep, newest first, with how many."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT s.key AS session_key, s.kind, s.module, s.week, s.date, count(*) AS n "
                "FROM unmatched_participants u JOIN sessions s ON s.id = u.session_id "
                "GROUP BY s.id ORDER BY s.start_utc DESC, s.module"
            )
        ]


def _student(row: dict, aliases: tuple[str, ...]) -> Student:
    return Student(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        module=row["module"],
        program=row["program"],
        group=row["group_number"],
        aliases=aliases,
        active=bool(row["active"]),
    )


def _where(
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


def _ident(key_kind: str, key: str) -> str:
    """The unmatched-participant key of a mapping (the format of core.matching.identity_key)."""
    prefix = {"zoom_user_id": "user", "email": "email", "name": "name"}[key_kind]
    return f"{prefix}:{key}"


def _meeting(row: dict) -> StoredMeeting:
    return StoredMeeting(
        key=row["key"],
        kind=row["kind"],
        module=row["module"],
        host=row["host"],
        zoom_meeting_id=row["zoom_meeting_id"],
        join_url=row["join_url"],
        spec=json.loads(row["spec"]),
    )


def _optional_time(text: str | None) -> dt.datetime | None:
    return parse_utc_text(text) if text else None


def _session(row: dict) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        key=row["key"],
        kind=row["kind"],
        module=row["module"],
        week=row["week"],
        date=dt.date.fromisoformat(row["date"]),
        start=parse_utc_text(row["start_utc"]),
        end=parse_utc_text(row["end_utc"]),
        meeting_key=row["meeting_key"],
        zoom_meeting_id=row.get("zoom_meeting_id"),
        join_url=row.get("join_url"),
        occurrence_id=row["occurrence_id"],
        zoom_uuid=row["zoom_uuid"],
        ended_at=_optional_time(row["ended_at"]),
        state=row["state"],
        final_at=_optional_time(row["final_at"]),
        backfill_attempts=row["backfill_attempts"],
        backfill_error=row["backfill_error"],
    )


def _user(row: dict) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=parse_utc_text(row["created_at"]),
    )


def _token(row: dict) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        created_at=parse_utc_text(row["created_at"]),
        last_used_at=_optional_time(row["last_used_at"]),
    )
