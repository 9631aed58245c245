"""POST /webhooks/zoom: verify, store durably, answer; the event is processed right after.

A 2xx answer means the delivery is on disk (`Storage.write(durable=True)`). Turning it into
attendance (`services.intake.process_pending`) happens outside the request: before any attendance is read,
every minute in the scheduler, after a sync and at start-up. Zoom waits only for the one fsync it
needs, and a crash between storing and processing loses nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from flask import Response, current_app, jsonify, request

from zoom_homeroom.core.events import meeting_id_of
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.storage import Storage

from . import bp
from .verify import VerificationError, url_validation_answer, verify

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_PLAIN_TOKEN_CHARS = 256


@bp.post("/zoom")
def zoom_event() -> Response | tuple[Response, int]:
    """Receive one Zoom event."""
    request.max_content_length = MAX_BODY_BYTES  # larger bodies: 413 before anything is read
    raw = request.get_data(cache=False)
    # webhooks/ stands beside web/, not under it: the app's Runtime comes straight from the app.
    runtime = Runtime.of(current_app)
    secret = runtime.settings.zoom_webhook_secret_token
    if not secret:
        log.error("webhook refused: ZOOM_WEBHOOK_SECRET_TOKEN is not set")
        return _error(503, "the webhook secret token is not configured")
    now = runtime.now()
    window = dt.timedelta(minutes=runtime.calendar.webhooks.replay_window_minutes)
    try:
        timestamp = verify(request.headers, raw, secret=secret, now=now, window=window)
    except VerificationError as error:
        log.warning("webhook rejected: %s", error)
        return _error(401, "the request is not signed by Zoom")
    body = _json_object(raw)
    if body is None or not isinstance(body.get("event"), str) or not body["event"]:
        return _error(400, "the body must be a JSON object with an 'event'")
    if body["event"] == "endpoint.url_validation":
        return _url_validation(body, secret)
    _store(runtime.storage, raw, body, timestamp, now)
    return Response(status=204)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        # Zoom sends UTF-8; json.loads(bytes) would also guess UTF-16/32, which we do not store.
        body = json.loads(raw.decode("utf-8"))
        # A "\ud800" escape is valid JSON but not text: SQLite could not store the string it makes.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _url_validation(body: dict[str, Any], secret: str) -> Response | tuple[Response, int]:
    payload = body.get("payload")
    plain = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(plain, str) or not 0 < len(plain) <= MAX_PLAIN_TOKEN_CHARS:
        return _error(400, "endpoint.url_validation needs payload.plainToken")
    return jsonify(url_validation_answer(plain, secret))


def _store(storage: Storage, raw: bytes, body: dict[str, Any], timestamp: int, now: dt.datetime) -> None:
    delivery = Delivery(
        digest=hashlib.sha256(raw).hexdigest(),
        event=body["event"][:100],
        received_at=now,
        request_timestamp=timestamp,
        request_id=(request.headers.get("x-zm-request-id") or "")[:100] or None,
        body=raw.decode("utf-8"),
        zoom_meeting_id=meeting_id_of(body),
    )
    with storage.write(durable=True):
        if storage.store_delivery(delivery) is None:
            log.debug("webhook %s replayed (timestamp %s); already stored", delivery.event, timestamp)


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status
