"""Attendance as reps see it: recomputed from stored edges when stale, backfilled from Zoom's reports,
corrected by reps (overrides, matches). Loads, calls `core.attendance`, saves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .core.attendance import Edge, Member, Override, SessionAttendance, ZoomIdentity, compute_session
from .core.matching import RosterIndex, cap_display_name, normalise_email, normalise_name
from .core.models import HOMEROOM, Calendar, SessionRecord
from .core.times import parse_utc_text, to_utc_text
from .runtime import Runtime, utc_now
from .storage import Storage
from .zoom import ZoomAPIError, ZoomError, ZoomNotFound

log = logging.getLogger(__name__)

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
# A session whose meeting never took place is closed as final (everyone absent) after this long.
NO_INSTANCE_GRACE = dt.timedelta(hours=24)
# The scheduler retries a pending session hourly for about two days, then leaves it to an admin.
MAX_AUTOMATIC_BACKFILLS = 48


class AttendanceError(Exception):
    """A rep's or admin's request cannot be carried out; the message says why."""


# -- computing --------------------------------------------------------------------------------------


def refresh(storage: Storage, calendar: Calendar, sessions: Iterable[SessionRecord] | None = None) -> int:
    """Recompute the attendance of stale sessions (all stale ones, or those given that are stale).

    A session gets attendance once there is evidence it took place: Zoom events, its end, or a final
    backfill. Until then it has none, rather than everyone absent (it may not have happened yet).
    """
    from webhooks.process import process_pending

    process_pending(storage, calendar, now=utc_now())  # deliveries stored since the last read
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
    """Compute one session's attendance from its edges and store it (under the write lock, so an edge
    arriving meanwhile marks it stale again rather than being lost)."""
    with storage.write():
        seen = storage.dirty_count(session.id)
        fresh = storage.session(session.id) or session
        result = compute_session(
            start=fresh.start,
            end=fresh.end,
            ended_at=fresh.ended_at,
            members=expected_members(storage, fresh),
            edges=storage.presence(fresh.id),
            index=RosterIndex.build(
                storage.students(active_only=False), confirmed=storage.confirmed_matches()
            ),
            overrides=storage.overrides(fresh.id),
            config=calendar.attendance,
            instance_ends=storage.instance_ends(fresh.id),
        )
        storage.save_attendance(fresh.id, result, seen_dirty=seen)
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
    storage: Storage,
    calendar: Calendar,
    *,
    module: int | None = None,
    week: int | None = None,
    kind: str | None = None,
    date: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Attendance records (the fields of `homeroom attendance --format json`), fresh.

    A week number recurs in every cycle of the calendar; `date` picks one Wednesday.
    """
    refresh(storage, calendar, storage.sessions(kind=kind, module=module, week=week, date=date))
    rows = storage.attendance_rows(module=module, week=week, kind=kind, date=date)
    return [record_of(row) for row in rows]


def record_of(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in RECORD_FIELDS}


# -- reps' corrections ------------------------------------------------------------------------------


def find_session(storage: Storage, key: str) -> SessionRecord:
    session = storage.session(key)
    if session is None:
        raise AttendanceError(f"no session {key!r} (see `homeroom attendance` for session keys)")
    return session


def assign_participant(
    storage: Storage,
    *,
    session: SessionRecord,
    ident: str,
    student_email: str | None,
    set_by: str,
    now: dt.datetime,
) -> str:
    """Tie an unmatched participant to a student (or, with None, mark them not a student).

    The decision is remembered for later sessions, keyed by the participant's Zoom user id when
    they have one, else their email, else their display name. Returns a sentence for the rep.
    """
    participant = storage.unmatched_participant(session.id, ident)
    if participant is None:
        raise AttendanceError(f"no unmatched participant {ident!r} in session {session.key}")
    student_id = None
    if student_email:
        student = storage.student_by_email(student_email)
        if student is None:
            raise AttendanceError(f"no student with email {student_email!r}")
        student_id = student.id
    key_kind, key = _match_key(participant)
    storage.save_match(key_kind, key, student_id, set_by=set_by, now=now)
    who = student_email if student_email else "not a student"
    return f"{participant['name'] or ident} is now {who} in every session"


def _match_key(participant: dict[str, Any]) -> tuple[str, str]:
    if participant["zoom_user_id"]:
        return "zoom_user_id", participant["zoom_user_id"]
    if participant["email"]:
        return "email", normalise_email(participant["email"])
    return "name", normalise_name(participant["name"])


def set_override(
    storage: Storage,
    *,
    session: SessionRecord,
    student_email: str,
    status: str | None,
    note: str,
    set_by: str,
    now: dt.datetime,
) -> None:
    """Mark a student excused or present for a session (None removes the override)."""
    student = storage.student_by_email(student_email)
    if student is None:
        raise AttendanceError(f"no student with email {student_email!r}")
    if status not in (None, "excused", "present"):
        raise AttendanceError(f"status must be excused or present, not {status!r}")
    if status is not None and not note.strip():
        raise AttendanceError("say why in a note (it is kept with who set it and when)")
    expected = {student_id for student_id, _ in storage.session_members(session.id)}
    if expected and student.id not in expected:
        raise AttendanceError(f"{student.email} is not expected in session {session.key}")
    override = Override(status, note.strip()[:500], set_by, now) if status else None
    storage.save_override(session.id, student.id, override)


# -- backfill from Zoom's reports --------------------------------------------------------------------


@dataclass
class BackfillResult:
    session_key: str
    final: bool
    rows: int
    message: str


def backfill(runtime: Runtime, session: SessionRecord) -> BackfillResult:
    """Fetch the session's held instance(s) and participants from Zoom and merge them as edges.

    The session becomes final only when every fetch succeeded and Zoom had finished processing every
    report; otherwise it stays pending, with the reason, nothing of this run is kept, and the next run
    tries again. A complete backfill replaces the report rows stored by an earlier one.
    """
    storage = runtime.storage
    if session.zoom_meeting_id is None:
        return _pending(storage, session, "not synced: there is no Zoom meeting for it yet")
    try:
        instances = _instances_on(runtime, session)
        if not instances:
            return _no_instance(runtime, session)
        reports = [(instance["uuid"], _report(runtime, instance["uuid"])) for instance in instances]
    except ZoomError as error:
        return _pending(storage, session, str(error))
    unsettled = [(uuid, report) for uuid, report in reports if report.unsettled]
    if unsettled:
        uuid, report = unsettled[0]
        return _pending(
            storage,
            session,
            f"Zoom is still processing the report of instance {uuid}: "
            f"{report.unsettled} of its {report.rows} rows have duration 0",
        )
    storage.replace_report_presence(session.id, [edge for _, report in reports for edge in report.edges])
    for uuid, report in reports:
        ended = max((edge.at for edge in report.edges if edge.kind == "leave"), default=None)
        storage.set_session_instance(session.id, zoom_uuid=uuid, ended_at=ended)
    storage.finalize_session(session.id, now=runtime.now())
    refresh_session(storage, runtime.calendar, storage.session(session.id) or session)
    rows = sum(report.rows for _, report in reports)
    return BackfillResult(session.key, True, rows, f"final: {rows} participant rows from Zoom")


def _instances_on(runtime: Runtime, session: SessionRecord) -> list[dict[str, Any]]:
    tz = runtime.calendar.timezone
    try:
        instances = runtime.zoom.list_past_instances(session.zoom_meeting_id)
    except ZoomNotFound:
        return []  # Zoom answers 404 for a meeting that was never held
    return [
        instance
        for instance in instances
        if instance.get("uuid")
        and instance.get("start_time")
        and parse_utc_text(instance["start_time"]).astimezone(tz).date() == session.date
    ]


@dataclass(frozen=True)
class _Report:
    """One instance's participant rows as edges, and how many rows Zoom had not finished processing."""

    edges: list[Edge]
    rows: int
    unsettled: int


def _report(runtime: Runtime, uuid: str) -> _Report:
    """Participants of one instance: the report API, or the past-meeting API when the account's plan has
    no reports. Each row is one segment of one `user_id`; a breakout room's row carries `bo_mtg_id`."""
    try:
        rows, source = list(runtime.zoom.iter_report_participants(uuid)), "report"
    except ZoomAPIError as error:
        if error.status not in (400, 403, 404):
            raise
        log.info("report API unavailable for %s (%s); using past-meeting participants", uuid, error)
        rows, source = list(runtime.zoom.iter_past_participants(uuid)), "past_participants"
    edges = [edge for row in rows for edge in _row_edges(row, uuid, source)]
    return _Report(edges, len(rows), _unsettled(rows))


def _unsettled(rows: list[dict[str, Any]]) -> int:
    """Rows Zoom is still processing: a stay that has ended shows duration 0 until then. When every row
    says 0, none is trusted either, whatever its times say."""
    zero = [row for row in rows if row.get("duration") == 0]
    if rows and len(zero) == len(rows):
        return len(zero)
    return sum(1 for row in zero if _row_time(row.get("leave_time")) != _row_time(row.get("join_time")))


def _row_time(value: Any) -> dt.datetime | None:
    try:
        return parse_utc_text(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _row_edges(row: dict[str, Any], uuid: str, source: str) -> Iterator[Edge]:
    join, leave = _row_time(row.get("join_time")), _row_time(row.get("leave_time"))
    if join is None:
        return
    identity = ZoomIdentity(
        name=cap_display_name(str(row.get("name") or "")),
        email=normalise_email(str(row.get("user_email") or row.get("email") or "")),
        zoom_user_id=str(row.get("participant_user_id") or row.get("id") or ""),
    )
    # Rows of one instance are told apart by user_id; a row without one is its own stay.
    connection = str(row.get("user_id") or f"{identity.zoom_user_id or identity.name}@{to_utc_text(join)}")
    room = str(row.get("bo_mtg_id") or "")
    yield Edge(connection, source, room, "join", join, identity, instance=uuid)
    if leave is not None:
        yield Edge(connection, source, room, "leave", leave, identity, instance=uuid)


def _no_instance(runtime: Runtime, session: SessionRecord) -> BackfillResult:
    storage = runtime.storage
    if runtime.now() - session.end > NO_INSTANCE_GRACE and not storage.presence(session.id):
        storage.finalize_session(session.id, now=runtime.now())
        refresh_session(storage, runtime.calendar, session)
        return BackfillResult(session.key, True, 0, "final: the meeting was not held (everyone absent)")
    return _pending(storage, session, "Zoom has no ended instance of the meeting on this date yet")


def _pending(storage: Storage, session: SessionRecord, reason: str) -> BackfillResult:
    storage.note_backfill_failure(session.id, reason)
    return BackfillResult(session.key, False, 0, f"pending: {reason}")


def due_for_backfill(storage: Storage, calendar: Calendar, now: dt.datetime) -> list[SessionRecord]:
    """Pending sessions whose end plus the configured delay has passed, until they have used up their
    automatic attempts (`homeroom backfill` still tries them; the session page shows why they stopped)."""
    delay = dt.timedelta(minutes=calendar.scheduler.finalize_after_minutes)
    return [
        session
        for session in storage.sessions(state="pending")
        if session.end + delay <= now and session.backfill_attempts < MAX_AUTOMATIC_BACKFILLS
    ]
