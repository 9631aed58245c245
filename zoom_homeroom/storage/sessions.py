"""Meetings the service owns in Zoom, the sessions planned in them and what Zoom said about each session,
and the daily budget of meeting writes per host."""

from __future__ import annotations

import datetime as dt
import json

from ..core.models import PlannedSession, SessionRecord, StoredMeeting
from ..core.times import parse_utc_text, to_utc_text
from .db import Connection, optional_time, where

# A session with its meeting's Zoom id and join link.
SESSION_SELECT = (
    "SELECT s.*, m.zoom_meeting_id, m.join_url FROM sessions s LEFT JOIN meetings m ON m.key = s.meeting_key"
)


class SessionStore(Connection):
    """Meetings and sessions."""

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
                    "OR sessions.end_utc != excluded.end_utc THEN sessions.dirty + 1 ELSE sessions.dirty END",
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
            self.db["session_members"].delete_where("session_id = ?", [session_id])
            self.db["session_members"].insert_all(
                {"session_id": session_id, "student_id": student_id, "group_number": group}
                for student_id, group in members
            )
            self.db.execute("UPDATE sessions SET dirty = dirty + 1 WHERE id = ?", [session_id])

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
        clause, params = where(
            {"s.kind": kind, "s.module": module, "s.week": week, "s.state": state, "s.date": date},
            since=("s.date", since),
        )
        sql = SESSION_SELECT + clause
        return [session_record(row) for row in self.db.query(sql + " ORDER BY s.start_utc, s.module", params)]

    def session(self, key_or_id: str | int) -> SessionRecord | None:
        column = "s.id" if isinstance(key_or_id, int) else "s.key"
        row = next(self.db.query(f"{SESSION_SELECT} WHERE {column} = ?", [key_or_id]), None)
        return session_record(row) if row else None

    def session_for_zoom_meeting(self, zoom_meeting_id: str, local_date: dt.date) -> SessionRecord | None:
        """The session a Zoom event belongs to: its meeting id and the occurrence's local date."""
        row = next(
            self.db.query(
                f"{SESSION_SELECT} WHERE m.zoom_meeting_id = ? AND s.date = ? "
                "ORDER BY s.kind = 'mix_it_up' DESC LIMIT 1",
                [zoom_meeting_id, local_date.isoformat()],
            ),
            None,
        )
        return session_record(row) if row else None

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

    # -- what Zoom said about a session ---------------------------------------------------------

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
                "ELSE ended_at END, dirty = dirty + 1 WHERE id = ?",
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


def session_record(row: dict) -> SessionRecord:
    """A row of SESSION_SELECT as a SessionRecord."""
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
        ended_at=optional_time(row["ended_at"]),
        state=row["state"],
        final_at=optional_time(row["final_at"]),
        backfill_attempts=row["backfill_attempts"],
        backfill_error=row["backfill_error"],
    )
