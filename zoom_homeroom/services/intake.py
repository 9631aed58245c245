"""Turning a stored delivery into presence edges and session facts. Idempotent: run twice, same state.

Each delivery is processed on its own: whatever one raises (a body too deep to parse, a bug, memory
running out) is kept with it as its error, never raised into the read or job that processes it, and
the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging

from ..core.attendance import Edge
from ..core.events import EventError, MeetingEvent, ParticipantEvent, load_body, parse_event
from ..core.models import Calendar
from ..storage import Storage

log = logging.getLogger(__name__)

OK, IGNORED, UNKNOWN_MEETING, INVALID, ERROR = "ok", "ignored", "unknown_meeting", "invalid", "error"
MAX_ERROR_CHARS = 500


def process(storage: Storage, calendar: Calendar, body: dict) -> str:
    """Apply one event to the store; returns its outcome. Runs inside the caller's transaction.

    Raises EventError for a handled event whose body lacks what it must carry."""
    event = parse_event(body)
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
    """Process a delivery in a savepoint of the caller's transaction; never raises.

    An unusable body is marked invalid with the reason (never tried again). Any other failure rolls
    back only the processing and marks the delivery for a retry at the next start-up: nothing is lost.
    """
    try:
        with storage.write():
            outcome = process(storage, calendar, body)
            storage.mark_delivery(delivery_id, outcome, now=now)
        return outcome
    except EventError as error:
        return _invalid(storage, delivery_id, error, now=now)
    except Exception as error:  # noqa: BLE001 - the edge of intake: keep the event, log, retry later
        log.exception("webhook delivery %s could not be processed; it stays pending", delivery_id)
        reason = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        storage.mark_delivery(delivery_id, ERROR, now=now, error=reason)
        return ERROR


def process_stored(
    storage: Storage, calendar: Calendar, delivery_id: int, raw: str, *, now: dt.datetime
) -> str:
    """Parse a stored body and process it (`process_in_transaction`); never raises. A body that cannot
    be parsed, whatever the caller's stack depth (see `events.load_body`), is marked invalid."""
    try:
        body = load_body(raw)
    except EventError as error:
        return _invalid(storage, delivery_id, error, now=now)
    return process_in_transaction(storage, calendar, delivery_id, body, now=now)


def _invalid(storage: Storage, delivery_id: int, error: EventError, *, now: dt.datetime) -> str:
    log.warning("webhook delivery %s kept but not usable: %s", delivery_id, error)
    storage.mark_delivery(delivery_id, INVALID, now=now, error=str(error)[:MAX_ERROR_CHARS])
    return INVALID


def process_pending(
    storage: Storage, calendar: Calendar, *, now: dt.datetime, retry_errors: bool = False, batch: int = 200
) -> int:
    """Process every stored delivery not processed yet, oldest first, `batch` per transaction.

    Each delivery runs in its own savepoint: one that fails is marked (invalid, or an error kept for a
    retry) without holding up the others or failing the caller; an error is tried again only with
    `retry_errors` (at start-up), not on every read. Safe to run from several processes at once: edges
    are unique.
    """
    done, last_id = 0, 0
    while pending := storage.pending_deliveries(after_id=last_id, limit=batch, retry_errors=retry_errors):
        with storage.write():
            for delivery_id, raw in pending:
                process_stored(storage, calendar, delivery_id, raw, now=now)
        done += len(pending)
        last_id = pending[-1][0]
    if done:
        log.debug("processed %d webhook deliveries", done)
    return done
