"""Zoom registrations: the registrant ids and personal join links Zoom issued students, whether the
stored ones are known to equal Zoom's, and the registrations sent per email and day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..core.registration import Registration
from ..core.times import to_utc_text
from .db import Connection

# A meeting's current registrations: those of the Zoom meeting the stored meeting now points at.
_CURRENT = (
    "SELECT r.student_id, r.email, r.registrant_id, r.join_url FROM registrations r "
    "JOIN meetings m ON m.key = r.meeting_key AND m.zoom_meeting_id = r.zoom_meeting_id "
    "WHERE r.meeting_key = ? AND r.status = 'approved'"
)


class RegistrationStore(Connection):
    """Registrations, their checks against Zoom, and the per-email daily count."""

    def registrations(self, meeting_key: str, zoom_meeting_id: str) -> list[Registration]:
        """The approved registrations recorded for one Zoom meeting, by student."""
        return [
            _registration(row)
            for row in self.db.query(
                "SELECT student_id, email, registrant_id, join_url FROM registrations "
                "WHERE meeting_key = ? AND zoom_meeting_id = ? AND status = 'approved' ORDER BY student_id, id",
                [meeting_key, zoom_meeting_id],
            )
        ]

    def current_registrations(self, meeting_key: str) -> dict[int, Registration]:
        """The meeting's approved registrations for the Zoom meeting it has now, by student id."""
        rows = self.db.query(_CURRENT + " ORDER BY r.student_id, r.id", [meeting_key])
        return {registration.student_id: registration for registration in map(_registration, rows)}

    def registration_of(self, meeting_key: str, student_id: int) -> Registration | None:
        """One student's current approved registration for a meeting, or None."""
        row = next(
            self.db.query(
                _CURRENT + " AND r.student_id = ? ORDER BY r.id DESC LIMIT 1", [meeting_key, student_id]
            ),
            None,
        )
        return _registration(row) if row else None

    def save_registrations(
        self,
        meeting_key: str,
        zoom_meeting_id: str,
        registrations: Iterable[Registration],
        *,
        now: dt.datetime,
    ) -> None:
        """Record registrations Zoom made (or has): approved, keyed by Zoom meeting and registrant id.

        Sessions whose presence already carries one of these registrant ids are recomputed.
        """
        stamp = to_utc_text(now)
        with self.write():
            for registration in registrations:
                self.db.execute(
                    "INSERT INTO registrations (meeting_key, zoom_meeting_id, student_id, email, registrant_id, "
                    "join_url, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'approved', ?, ?) "
                    "ON CONFLICT (zoom_meeting_id, registrant_id) DO UPDATE SET "
                    "student_id = excluded.student_id, email = excluded.email, join_url = excluded.join_url, "
                    "status = 'approved', updated_at = excluded.updated_at",
                    [
                        meeting_key,
                        zoom_meeting_id,
                        registration.student_id,
                        registration.email,
                        registration.registrant_id,
                        registration.join_url,
                        stamp,
                        stamp,
                    ],
                )
                self.db.execute(
                    "UPDATE sessions SET dirty = dirty + 1 WHERE id IN "
                    "(SELECT session_id FROM presence WHERE registrant_id = ?)",
                    [registration.registrant_id],
                )

    def cancel_registrations(
        self, zoom_meeting_id: str, registrant_ids: Iterable[str], *, now: dt.datetime
    ) -> None:
        """Mark registrations cancelled (by us, or found gone from Zoom); the rows stay for matching."""
        stamp = to_utc_text(now)
        with self.write():
            self.db.conn.executemany(
                "UPDATE registrations SET status = 'cancelled', updated_at = ? "
                "WHERE zoom_meeting_id = ? AND registrant_id = ?",
                [(stamp, zoom_meeting_id, registrant_id) for registrant_id in registrant_ids],
            )

    def registrant_ids(self) -> list[tuple[str, int]]:
        """Every (registrant id, student id) Zoom ever issued, cancelled ones too: who an edge is."""
        return [
            (row["registrant_id"], row["student_id"])
            for row in self.db.query("SELECT DISTINCT registrant_id, student_id FROM registrations")
        ]

    # -- whether the stored registrations are known to equal Zoom's ---------------------------------

    def registrations_checked(self, meeting_key: str) -> str | None:
        """The Zoom meeting id whose registrants the stored rows were last known to equal, or None."""
        row = next(
            self.db.query(
                "SELECT zoom_meeting_id FROM registration_checks WHERE meeting_key = ?", [meeting_key]
            ),
            None,
        )
        return row["zoom_meeting_id"] if row else None

    def mark_registrations_checked(self, meeting_key: str, zoom_meeting_id: str, *, now: dt.datetime) -> None:
        with self.write():
            self.db.execute(
                "INSERT INTO registration_checks (meeting_key, zoom_meeting_id, checked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (meeting_key) DO UPDATE SET zoom_meeting_id = excluded.zoom_meeting_id, "
                "checked_at = excluded.checked_at",
                [meeting_key, zoom_meeting_id, to_utc_text(now)],
            )

    def forget_registrations_check(self, meeting_key: str) -> None:
        """The stored registrations may no longer equal Zoom's (a write is under way, or it failed)."""
        with self.write():
            self.db.execute("DELETE FROM registration_checks WHERE meeting_key = ?", [meeting_key])

    # -- Zoom's limit of registrations per email, meeting and day -------------------------------------

    def registrant_calls_today(self, zoom_meeting_id: str, email: str, day: dt.date) -> int:
        row = next(
            self.db.query(
                "SELECT count FROM registrant_calls WHERE zoom_meeting_id = ? AND email = ? AND day = ?",
                [zoom_meeting_id, email, day.isoformat()],
            ),
            None,
        )
        return row["count"] if row else 0

    def count_registrant_calls(self, zoom_meeting_id: str, emails: Iterable[str], day: dt.date) -> None:
        with self.write():
            self.db.conn.executemany(
                "INSERT INTO registrant_calls (zoom_meeting_id, email, day, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (zoom_meeting_id, email, day) DO UPDATE SET count = count + 1",
                [(zoom_meeting_id, email, day.isoformat()) for email in emails],
            )


def _registration(row: dict) -> Registration:
    return Registration(
        student_id=row["student_id"],
        email=row["email"],
        registrant_id=row["registrant_id"],
        join_url=row["join_url"],
    )
