"""Turning a stored delivery into presence edges and session facts. Idempotent: run twice, same state."""

from __future__ import annotations

import datetime as dt
import json
import logging

from ..core.attendance import Edge
from ..core.events import EventError, MeetingEvent, ParticipantEvent, parse_event
from ..core.models import Calendar
from ..storage import Storage

log = logging.getLogger(__name__)

OK, IGNORED, UNKNOWN_MEETING, INVALID = "ok", "ignored", "unknown_meeting", "invalid"


def process(storage: Storage, calendar: Calendar, body: dict) -> str:
    """Apply one event to the store; returns its outcome. Runs inside the caller's transaction."""
    try:
        event = parse_event(body)
    except EventError as error:
        log.warning("webhook kept but not usable: %s", error)
        return INVALID
    if event is None:
        return IGNORED
    local_date = event.at.astimezone(calendar.timezone).date()
    session = storage.session_for_zoom_meeting(event.meeting_id, local_date)
    if session is None:
        log.info(
            "webhook %s for unknown meeting %s on %s kept", body.get("event"), event.meeting_id, local_date
        )
        return UNKNOWN_MEETING
    if isinstance(event, ParticipantEvent):
        edge = Edge(
            connection=event.connection,
            source="webhook",
            room=event.room,
            kind=event.kind,
            at=event.at,
            identity=event.identity,
            instance=event.meeting_uuid,
            participant_uuid=event.participant_uuid,
            parent=event.parent,
        )
        storage.add_presence(session.id, [edge])
    elif isinstance(event, MeetingEvent):
        ended_at = event.at if event.kind == "ended" else None
        storage.set_session_instance(session.id, zoom_uuid=event.meeting_uuid, ended_at=ended_at)
    return OK


def process_in_transaction(
    storage: Storage, calendar: Calendar, delivery_id: int, body: dict, *, now: dt.datetime
) -> str:
    """Process a stored delivery in a savepoint of the caller's transaction.

    A failure rolls back only the processing and marks the delivery for a retry: nothing is lost.
    """
    try:
        with storage.write():
            outcome = process(storage, calendar, body)
            storage.mark_delivery(delivery_id, outcome, now=now)
        return outcome
    except Exception as error:  # noqa: BLE001 - the edge of intake: keep the event, log, retry later
        log.exception("webhook delivery %s could not be processed; it stays pending", delivery_id)
        storage.mark_delivery(delivery_id, "error", now=now, error=f"{type(error).__name__}: {error}"[:500])
        return "error"


def process_pending(
    storage: Storage, calendar: Calendar, *, now: dt.datetime, retry_errors: bool = False, batch: int = 200
) -> int:
    """Process every stored delivery not processed yet, oldest first, `batch` per transaction.

    Each delivery runs in its own savepoint: one that fails stays pending (and is logged) without
    holding up the others; it is tried again only with `retry_errors` (at start-up), not on every
    read. Safe to run from several processes at once: edges are unique.
    """
    done, last_id = 0, 0
    while pending := storage.pending_deliveries(after_id=last_id, limit=batch, retry_errors=retry_errors):
        with storage.write():
            for delivery_id, raw in pending:
                process_in_transaction(storage, calendar, delivery_id, json.loads(raw), now=now)
        done += len(pending)
        last_id = pending[-1][0]
    if done:
        log.debug("processed %d webhook deliveries", done)
    return done
