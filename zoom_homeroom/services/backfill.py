"""Backfill from Zoom's reports: a session's held instances and their participants, merged as presence
edges; the session becomes final once every fetch succeeded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.attendance import Edge, ZoomIdentity
from ..core.matching import normalise_email
from ..core.models import Calendar, SessionRecord
from ..core.times import parse_utc_text
from ..runtime import Runtime
from ..storage import Storage
from ..zoom import ZoomAPIError, ZoomError, ZoomNotFound
from .attendance import refresh_session

log = logging.getLogger(__name__)

# A session whose meeting never took place is closed as final (everyone absent) after this long.
NO_INSTANCE_GRACE = dt.timedelta(hours=24)
# The scheduler retries a pending session hourly for about two days, then leaves it to an admin.
MAX_AUTOMATIC_BACKFILLS = 48


@dataclass
class BackfillResult:
    session_key: str
    final: bool
    rows: int
    message: str


def backfill(runtime: Runtime, session: SessionRecord) -> BackfillResult:
    """Fetch the session's held instance(s) and participants from Zoom and merge them as edges.

    The session becomes final only when every fetch succeeded; otherwise it stays pending, with the
    reason, and the next run tries again.
    """
    storage = runtime.storage
    if session.zoom_meeting_id is None:
        return _pending(storage, session, "not synced: there is no Zoom meeting for it yet")
    try:
        instances = _instances_on(runtime, session)
        if not instances:
            return _no_instance(runtime, session)
        rows = 0
        for instance in instances:
            edges = list(_report_edges(runtime, instance["uuid"]))
            storage.add_presence(session.id, edges)
            rows += len(edges) // 2
            ended = max((edge.at for edge in edges if edge.kind == "leave"), default=None)
            storage.set_session_instance(
                session.id, zoom_uuid=instance["uuid"], ended_at=None if session.ended_at else ended
            )
    except ZoomError as error:
        return _pending(storage, session, str(error))
    storage.finalize_session(session.id, now=runtime.now())
    refresh_session(storage, runtime.calendar, storage.session(session.id) or session)
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


def _report_edges(runtime: Runtime, uuid: str) -> Iterator[Edge]:
    """Participants of one instance as join/leave edges: the report API, or the past-meeting API
    when the account's plan has no reports."""
    try:
        rows, source = list(runtime.zoom.iter_report_participants(uuid)), "report"
    except ZoomAPIError as error:
        if error.status not in (400, 403, 404):
            raise
        log.info("report API unavailable for %s (%s); using past-meeting participants", uuid, error)
        rows, source = list(runtime.zoom.iter_past_participants(uuid)), "past_participants"
    for row in rows:
        join, leave = row.get("join_time"), row.get("leave_time")
        if not join:
            continue
        identity = ZoomIdentity(
            name=str(row.get("name") or ""),
            email=normalise_email(str(row.get("user_email") or row.get("email") or "")),
            zoom_user_id=str(row.get("participant_user_id") or row.get("id") or ""),
        )
        connection = f"{row.get('user_id') or row.get('id') or identity.name}@{join}"
        yield Edge(connection, source, "", "join", parse_utc_text(join), identity)
        if leave:
            yield Edge(connection, source, "", "leave", parse_utc_text(leave), identity)


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
