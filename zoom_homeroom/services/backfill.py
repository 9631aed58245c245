"""Backfill from Zoom's reports: a session's held instances and their participants, merged as presence
edges; the session becomes final once every fetch succeeded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.attendance import Edge
from ..core.matching import cap_zoom_id, zoom_identity
from ..core.models import Calendar, SessionRecord
from ..core.times import parse_utc_text, to_utc_text
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
        storage.set_session_instance(session.id, zoom_uuid=cap_zoom_id(uuid), ended_at=ended)
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
    no reports. Each row is one segment of one `user_id`; a breakout room's row carries `bo_mtg_id`, and
    a report row the `registrant_id` of the personal link it joined with (past-meeting rows cannot)."""
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
    identity = zoom_identity(
        str(row.get("name") or ""),
        str(row.get("user_email") or row.get("email") or ""),
        str(row.get("participant_user_id") or row.get("id") or ""),
        str(row.get("registrant_id") or ""),
    )
    # Rows of one instance are told apart by user_id; a row without one is its own stay.
    user_id = cap_zoom_id(str(row.get("user_id") or ""))
    connection = user_id or f"{identity.zoom_user_id or identity.name}@{to_utc_text(join)}"
    room = cap_zoom_id(str(row.get("bo_mtg_id") or ""))
    instance = cap_zoom_id(uuid)
    yield Edge(connection, source, room, "join", join, identity, instance=instance)
    if leave is not None:
        yield Edge(connection, source, room, "leave", leave, identity, instance=instance)


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
