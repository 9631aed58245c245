"""Attendance and its evidence: presence edges, the computed records and unmatched participants, and
reps' corrections (remembered matches, overrides). A session's `dirty` count says how many changes its
stored attendance lacks (every change adds one); its `attendance_version` counts the computations saved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..core.attendance import Edge, Override, SessionAttendance, ZoomIdentity
from ..core.models import SessionKind, SessionRecord, Status
from ..core.times import parse_utc_text, to_utc_text
from .db import Connection, where
from .sessions import SESSION_SELECT, session_record


@dataclass(frozen=True)
class AttendanceRow:
    """One student's computed attendance in one session, with the student, the session and any
    rep's override (the rows of `attendance_rows`). Times stay the stored ISO-8601 UTC text
    (`core.times.to_utc_text`'s form): exports send them as they are, pages parse the few they show.
    """

    student_id: int
    email: str
    name: str
    program: str
    student_module: int  # the student's module now; `module` is the session's (None for Mix It Up)
    session_id: int
    session_key: str
    module: int | None
    group: int
    week: int
    date: dt.date
    kind: SessionKind
    state: str
    status: Status
    computed_status: Status
    minutes: int
    first_join: str | None
    last_leave: str | None
    in_assigned_room: bool | None
    override_note: str | None
    override_by: str | None
    override_at: str | None

    @classmethod
    def of(cls, row: dict) -> AttendanceRow:
        room = row["in_assigned_room"]
        row.update(
            date=dt.date.fromisoformat(row["date"]), in_assigned_room=None if room is None else bool(room)
        )
        return cls(**row)


@dataclass(frozen=True)
class UnmatchedRow:
    """A Zoom participant no rule matched to a student, with its session and the students it matched
    elsewhere (`first_join` as stored: ISO-8601 UTC text)."""

    session_id: int
    ident: str  # the key a rep's decision is stored under (core.matching.identity_key)
    name: str
    email: str
    zoom_user_id: str
    minutes: int
    first_join: str | None
    matched_elsewhere: tuple[int, ...]  # student ids a rule matched, not expected in this session
    reason: str
    session_key: str
    module: int | None
    week: int
    date: dt.date
    kind: SessionKind

    @classmethod
    def of(cls, row: dict) -> UnmatchedRow:
        row.update(
            matched_elsewhere=tuple(json.loads(row["matched_elsewhere"])),
            date=dt.date.fromisoformat(row["date"]),
        )
        return cls(**row)


@dataclass(frozen=True)
class AttendanceState:
    """Where a session's stored attendance stands: changes not in it yet (`dirty`), computations saved."""

    dirty: int
    version: int


@dataclass(frozen=True)
class StatusCount:
    """How many records of one kind's sessions of a module and week have a status."""

    module: int | None
    week: int
    status: Status
    count: int


@dataclass(frozen=True)
class UnmatchedCount:
    """A session with unmatched participants waiting for a rep, and how many."""

    session_key: str
    kind: SessionKind
    module: int | None
    week: int
    date: dt.date
    count: int


class AttendanceStore(Connection):
    """Presence, attendance and corrections."""

    # -- presence ---------------------------------------------------------------------------------

    def add_presence(self, session_id: int, edges: Iterable[Edge]) -> int:
        """Store join/leave edges (duplicates ignored) and mark the session for recomputation."""
        with self.write(savepoint=False):
            added = self._insert_presence(session_id, edges)
            if added:
                self.db.execute("UPDATE sessions SET dirty = dirty + 1 WHERE id = ?", [session_id])
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
                edge.identity.registrant_id,
            )
            for edge in edges
        ]
        before = self.db.conn.total_changes
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO presence (session_id, source, instance, connection, room, edge, at, name, "
            "email, zoom_user_id, participant_uuid, parent, registrant_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return self.db.conn.total_changes - before

    def has_presence(self, session_id: int) -> bool:
        return (
            self.db.execute("SELECT 1 FROM presence WHERE session_id = ? LIMIT 1", [session_id]).fetchone()
            is not None
        )

    def presence(self, session_id: int) -> list[Edge]:
        """The session's edges in time order. Plain tuples and each distinct time parsed once: a
        session with thousands of participants is read at every recomputation."""
        times: dict[str, dt.datetime] = {}
        identities: dict[tuple[str, str, str, str], ZoomIdentity] = {}
        edges = []
        for (
            connection,
            source,
            room,
            kind,
            at,
            name,
            email,
            user_id,
            registrant_id,
            instance,
            uuid,
            parent,
        ) in self.db.execute(
            "SELECT connection, source, room, edge, at, name, email, zoom_user_id, registrant_id, instance, "
            "participant_uuid, parent FROM presence WHERE session_id = ? ORDER BY at, id",
            [session_id],
        ):
            moment = times.get(at) or times.setdefault(at, parse_utc_text(at))
            key = (name, email, user_id, registrant_id)
            identity = identities.get(key)
            if identity is None:
                identity = identities.setdefault(key, ZoomIdentity(*key))
            edges.append(Edge(connection, source, room, kind, moment, identity, instance, uuid, parent))
        return edges

    # -- attendance ---------------------------------------------------------------------------------

    def dirty_sessions(self, *, before: dt.datetime | None = None) -> list[SessionRecord]:
        """Sessions whose attendance must be recomputed (optionally only those started before)."""
        sql = SESSION_SELECT + " WHERE s.dirty > 0"
        params: list[object] = []
        if before is not None:
            sql += " AND s.start_utc < ?"
            params.append(to_utc_text(before))
        return [session_record(row) for row in self.db.query(sql + " ORDER BY s.start_utc", params)]

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

    def attendance_state(self, session_id: int) -> AttendanceState:
        """The session's dirty count and attendance version: read them before a computation's inputs."""
        row = next(
            self.db.query("SELECT dirty, attendance_version FROM sessions WHERE id = ?", [session_id]), None
        )
        return AttendanceState(row["dirty"], row["attendance_version"]) if row else AttendanceState(0, 0)

    def save_attendance(self, session_id: int, result: SessionAttendance, *, seen: AttendanceState) -> bool:
        """Replace a session's computed attendance, computed from inputs read after `seen`.

        Changes made since `seen` stay counted in `dirty`, so the session is computed again at the next
        read. False, and nothing stored, when another computation was saved since `seen`: it read its
        inputs later (or at the same time), so this one may be older.
        """
        with self.write():
            if self.attendance_state(session_id).version != seen.version:
                return False
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
                "first_join, matched_elsewhere, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        u.ident,
                        u.identity.name,
                        u.identity.email,
                        u.identity.zoom_user_id,
                        u.minutes,
                        to_utc_text(u.first_join) if u.first_join else None,
                        json.dumps(list(u.matched_elsewhere)),
                        u.reason,
                    )
                    for u in result.unmatched
                ],
            )
            self.db.execute(
                "UPDATE sessions SET dirty = max(dirty - ?, 0), attendance_version = attendance_version + 1 "
                "WHERE id = ?",
                [seen.dirty, session_id],
            )
        return True

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
    ) -> list[AttendanceRow]:
        """Computed attendance joined with its student and session, ordered by session, group, name."""
        clause, params = where(
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
            # Sessions first (CROSS JOIN keeps that order): whatever the filter, only the chosen sessions'
            # records are read, through the primary key; left to itself SQLite scanned a year's records
            # for one session's 500 (45 ms against 10, bench/reading.py).
            "FROM sessions s CROSS JOIN attendance a ON a.session_id = s.id JOIN students st ON st.id = a.student_id "
            "LEFT JOIN overrides o ON o.session_id = a.session_id AND o.student_id = a.student_id"
        ) + clause
        sql += " ORDER BY s.start_utc, s.module, a.group_number, st.name, st.id"
        return [AttendanceRow.of(row) for row in self.db.query(sql, params)]

    def unmatched_rows(
        self,
        *,
        module: int | None = None,
        week: int | None = None,
        session_id: int | None = None,
        ident: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[UnmatchedRow]:
        """Unmatched participants with their session, newest session first, then by first join;
        `limit` and `offset` take one page of them."""
        clause, params = where({"s.module": module, "s.week": week, "s.id": session_id, "u.ident": ident})
        sql = (
            "SELECT u.*, s.key AS session_key, s.module, s.week, s.date, s.kind FROM unmatched_participants u "
            "JOIN sessions s ON s.id = u.session_id"
        ) + clause
        sql += " ORDER BY s.start_utc DESC, u.first_join, u.ident LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
        return [UnmatchedRow.of(row) for row in self.db.query(sql, params)]

    def unmatched_participant(self, session_id: int, ident: str) -> UnmatchedRow | None:
        rows = self.unmatched_rows(session_id=session_id, ident=ident)
        return rows[0] if rows else None

    def status_counts(
        self, *, kind: str, started_before: dt.datetime, since: dt.date | None = None
    ) -> list[StatusCount]:
        """Attendance records per (module, week, status) of one kind's sessions that have started
        (and, with `since`, that are on or after that date: the current cycle)."""
        # CROSS JOIN keeps the sessions as the outer loop, so only the chosen sessions' records are read
        # (through the primary key): left to itself SQLite scanned every record of the year, 32 ms of
        # the overview's 52 against 9 ms this way (bench/reading.py).
        return [
            StatusCount(row["module"], row["week"], row["status"], row["n"])
            for row in self.db.query(
                "SELECT s.module, s.week, a.status, count(*) AS n FROM sessions s "
                "CROSS JOIN attendance a ON a.session_id = s.id "
                "WHERE s.kind = ? AND s.start_utc <= ? AND s.date >= ? "
                "GROUP BY s.module, s.week, a.status ORDER BY s.module, s.week",
                [kind, to_utc_text(started_before), (since or dt.date.min).isoformat()],
            )
        ]

    def unmatched_counts(self, *, session_id: int | None = None) -> list[UnmatchedCount]:
        """Sessions with unmatched participants waiting for a rep (or only this one), newest first,
        with how many."""
        clause, params = where({"s.id": session_id})
        return [
            UnmatchedCount(
                row["session_key"],
                row["kind"],
                row["module"],
                row["week"],
                dt.date.fromisoformat(row["date"]),
                row["n"],
            )
            for row in self.db.query(
                "SELECT s.key AS session_key, s.kind, s.module, s.week, s.date, count(*) AS n "
                "FROM unmatched_participants u JOIN sessions s ON s.id = u.session_id"
                + clause
                + " GROUP BY s.id ORDER BY s.start_utc DESC, s.module",
                params,
            )
        ]


def _ident(key_kind: str, key: str) -> str:
    """The unmatched-participant key of a mapping (the format of core.matching.identity_key)."""
    prefix = {"zoom_user_id": "user", "email": "email", "name": "name"}[key_kind]
    return f"{prefix}:{key}"
