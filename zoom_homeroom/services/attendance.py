"""Attendance as reps see it: recomputed from stored edges when stale (Zoom's reports come in through
`backfill`), corrected by reps (overrides, matches). Loads, calls `core.attendance`, saves.

Every read goes through `read`, which brings the attendance it may show up to date first: pages, the
API, the CLI and the demo never call `refresh` themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ..clock import utc_now
from ..core.attendance import Member, Override, SessionAttendance, ZoomIdentity, compute_session
from ..core.matching import RosterIndex, Suggestions, normalise_email, normalise_name
from ..core.models import HOMEROOM, Calendar, SessionRecord, Student
from ..errors import HomeroomError
from ..runtime import Runtime
from ..storage import Storage
from ..storage.attendance import AttendanceRow, UnmatchedRow
from .intake import process_pending

CANDIDATE_LIMIT = 3  # students suggested for an unmatched participant
RECORD_FIELDS = (
    "email",
    "name",
    "module",
    "group",
    "week",
    "date",
    "kind",
    "status",
    "minutes",
    "first_join",
    "last_leave",
    "in_assigned_room",
)


class CorrectionError(HomeroomError):
    """A rep's or admin's correction cannot be carried out; the message says why."""


# -- computing --------------------------------------------------------------------------------------


def read(runtime: Runtime, sessions: Iterable[SessionRecord] | None = None) -> Attendance:
    """Bring attendance up to date (of `sessions`, or of every stale session), then read it."""
    refresh(runtime.storage, runtime.calendar, sessions, now=runtime.now())
    return Attendance(runtime.storage)


class Attendance:
    """Attendance just brought up to date by `read`, and the reads of it: storage's attendance
    queries (typed rows), plus who a session expects and who an unmatched participant may be."""

    def __init__(self, storage: Storage):
        self._storage = storage
        self._suggestions: dict[int, Suggestions] = {}  # by session id, built when first asked
        self.rows = storage.attendance_rows
        self.unmatched = storage.unmatched_rows
        self.status_counts = storage.status_counts
        self.unmatched_counts = storage.unmatched_counts

    def candidates(self, participant: UnmatchedRow) -> list[Student]:
        """The students an unmatched participant most likely is, best first: those it matched in other
        sessions, then the session's students most like it (scored now, for the rows a page shows)."""
        elsewhere = participant.matched_elsewhere
        likely = self._session_suggestions(participant.session_id).best(
            ZoomIdentity(participant.name, participant.email, participant.zoom_user_id),
            limit=CANDIDATE_LIMIT,
            exclude=elsewhere,
        )
        students = (self._storage.student(student_id) for student_id in (*elsewhere, *likely))
        return [student for student in students if student is not None][:CANDIDATE_LIMIT]

    def _session_suggestions(self, session_id: int) -> Suggestions:
        if session_id not in self._suggestions:
            session = self._storage.session(session_id)
            expected = {m.student_id for m in expected_members(self._storage, session)} if session else set()
            roster = self._storage.students(active_only=False)
            self._suggestions[session_id] = Suggestions(s for s in roster if s.id in expected)
        return self._suggestions[session_id]

    def expected(self, session: SessionRecord) -> list[tuple[Student, int]]:
        """The students a session expects, with their group: what a page shows before any record."""
        students = (
            (self._storage.student(member.student_id), member.group)
            for member in expected_members(self._storage, session)
        )
        return [(student, group) for student, group in students if student is not None]


def refresh(
    storage: Storage,
    calendar: Calendar,
    sessions: Iterable[SessionRecord] | None = None,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Recompute the attendance of stale sessions (all stale ones, or those given that are stale).

    A session gets attendance once there is evidence it took place: Zoom events, its end, or a final
    backfill. Until then it has none, rather than everyone absent (it may not have happened yet).
    `now` stamps the deliveries processed first (the real clock when not given).
    """
    process_pending(storage, calendar, now=now or utc_now())  # deliveries stored since the last read
    wanted = {session.id for session in sessions} if sessions is not None else None
    count = 0
    for session in storage.dirty_sessions():
        if wanted is not None and session.id not in wanted:
            continue
        if session.final or session.ended_at or storage.has_presence(session.id):
            refresh_session(storage, calendar, session)
            count += 1
    return count


def refresh_session(storage: Storage, calendar: Calendar, session: SessionRecord) -> SessionAttendance:
    """Compute one session's attendance from its edges and store it.

    The computation runs outside the write lock, so webhooks are stored meanwhile; only the save takes
    it. The session's dirty count is read before the inputs: an edge arriving meanwhile adds to it, so
    the save leaves the session stale and the next read computes it again. A save is dropped when another
    computation of the session was saved meanwhile (see `save_attendance`): the older never wins.
    """
    seen = storage.attendance_state(session.id)
    fresh = storage.session(session.id) or session
    result = compute_session(
        start=fresh.start,
        end=fresh.end,
        ended_at=fresh.ended_at,
        members=expected_members(storage, fresh),
        edges=storage.presence(fresh.id),
        index=RosterIndex.build(
            storage.students(active_only=False),
            confirmed=storage.confirmed_matches(),
            registrants=storage.registrant_ids(),
        ),
        overrides=storage.overrides(fresh.id),
        config=calendar.attendance,
        instance_ends=storage.instance_ends(fresh.id),
    )
    storage.save_attendance(fresh.id, result, seen=seen)
    return result


def expected_members(storage: Storage, session: SessionRecord) -> list[Member]:
    """Who a session expects: the members frozen at sync, else the module's roster (homeroom) or the
    formed groups (Mix It Up)."""
    stored = storage.session_members(session.id)
    if stored:
        return [Member(student_id, group) for student_id, group in stored]
    if session.kind == HOMEROOM and session.module is not None:
        return [Member(s.id, s.group) for s in storage.students(module=session.module)]
    return [Member(student_id, number) for student_id, number in storage.mixitup_members(session.date)]


def records(
    runtime: Runtime,
    *,
    module: int | None = None,
    week: int | None = None,
    kind: str | None = None,
    date: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Attendance records (the fields of `homeroom attendance --format json`), fresh.

    A week number recurs in every cycle of the calendar; `date` picks one Wednesday.
    """
    fresh = read(runtime, runtime.storage.sessions(kind=kind, module=module, week=week, date=date))
    return [record_of(row) for row in fresh.rows(module=module, week=week, kind=kind, date=date)]


def record_of(row: AttendanceRow) -> dict[str, Any]:
    """The exported fields of a record, JSON-ready (the date as ISO text)."""
    record = {name: getattr(row, name) for name in RECORD_FIELDS}
    record["date"] = row.date.isoformat()
    return record


# -- reps' corrections ------------------------------------------------------------------------------


def find_session(runtime: Runtime, key: str) -> SessionRecord:
    """The session with this key; CorrectionError naming where to find the keys."""
    session = runtime.storage.session(key)
    if session is None:
        raise CorrectionError(f"no session {key!r} (see `homeroom attendance` for session keys)")
    return session


def assign_participant(
    runtime: Runtime, *, session: SessionRecord, ident: str, student_email: str | None, set_by: str
) -> str:
    """Tie an unmatched participant to a student (or, with None, mark them not a student).

    The decision is remembered for later sessions, keyed by the participant's Zoom user id when
    they have one, else their email, else their display name. Returns a sentence for the rep.
    """
    storage = runtime.storage
    participant = storage.unmatched_participant(session.id, ident)
    if participant is None:
        raise CorrectionError(f"no unmatched participant {ident!r} in session {session.key}")
    student_id = None
    if student_email:
        student = storage.student_by_email(student_email)
        if student is None:
            raise CorrectionError(f"no student with email {student_email!r}")
        student_id = student.id
    key_kind, key = _match_key(participant)
    storage.save_match(key_kind, key, student_id, set_by=set_by, now=runtime.now())
    who = student_email if student_email else "not a student"
    return f"{participant.name or ident} is now {who} in every session"


def _match_key(participant: UnmatchedRow) -> tuple[str, str]:
    if participant.zoom_user_id:
        return "zoom_user_id", participant.zoom_user_id
    if participant.email:
        return "email", normalise_email(participant.email)
    return "name", normalise_name(participant.name)


def set_override(
    runtime: Runtime,
    *,
    session: SessionRecord,
    student_email: str,
    status: str | None,
    note: str,
    set_by: str,
) -> None:
    """Mark a student excused or present for a session (None removes the override)."""
    storage = runtime.storage
    student = storage.student_by_email(student_email)
    if student is None:
        raise CorrectionError(f"no student with email {student_email!r}")
    if status not in (None, "excused", "present"):
        raise CorrectionError(f"status must be excused or present, not {status!r}")
    if status is not None and not note.strip():
        raise CorrectionError("say why in a note (it is kept with who set it and when)")
    expected = {student_id for student_id, _ in storage.session_members(session.id)}
    if expected and student.id not in expected:
        raise CorrectionError(f"{student.email} is not expected in session {session.key}")
    override = Override(status, note.strip()[:500], set_by, runtime.now()) if status else None
    storage.save_override(session.id, student.id, override)
