"""POST /webhooks/zoom: verify, parse, store durably, answer; the event is processed later.

The request does only what Zoom's answer depends on. It runs in the intake app (`web/app.py` sends
`/webhooks/` there before the dashboard's machinery: no session, no CSRF, no sign-in guard, no
security headers), checks the signature, parses the body as strictly as processing will, and hands
the delivery to the process's group commit (`Runtime.durable_writes`), which returns once the
transaction holding it is on disk: a 2xx answer means the delivery is stored. Turning it into
attendance (`services.intake.process_pending`) happens outside the request: before any attendance is
read, every minute in the scheduler, after a sync and at start-up. A crash between storing and
processing loses nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from zoom_homeroom.core.events import MAX_BODY_DEPTH, EventError, load_body, meeting_id_of
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.runtime import Runtime

from .body import read_body
from .verify import VerificationError, url_validation_answer, verify

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_BODY_BYTES = 256 * 1024
MAX_PLAIN_TOKEN_CHARS = 256
# A JSON escape of a UTF-16 surrogate: valid JSON, but a lone one is not text SQLite can store.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@bp.post("/zoom")
def zoom_event() -> Response | tuple[Response, int]:
    """Receive one Zoom event."""
    raw = read_body(MAX_BODY_BYTES)
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
    body = json_object(raw)
    if body is None or not isinstance(body.get("event"), str) or not body["event"]:
        return _error(
            400, f"the body must be a JSON object with an 'event', nested at most {MAX_BODY_DEPTH} levels"
        )
    if body["event"] == "endpoint.url_validation":
        return _url_validation(body, secret)
    delivery = Delivery(
        digest=hashlib.sha256(raw).hexdigest(),
        event=body["event"][:100],
        received_at=now,
        request_timestamp=timestamp,
        request_id=(request.headers.get("x-zm-request-id") or "")[:100] or None,
        body=raw.decode("utf-8"),
        zoom_meeting_id=meeting_id_of(body),
    )
    if runtime.durable_writes.write(lambda storage: storage.store_delivery(delivery)) is None:
        log.debug("webhook %s replayed (timestamp %s); already stored", delivery.event, timestamp)
    return Response(status=204)


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object if processing will be able to read it back; None otherwise: not UTF-8,
    not what processing's own `events.load_body` accepts (JSON, an object, nested at most
    MAX_BODY_DEPTH levels), or holding a lone surrogate."""
    try:
        # Zoom sends UTF-8; json.loads(bytes) would also guess UTF-16/32, which we do not store.
        body = load_body(raw.decode("utf-8"))
        if _SURROGATE_ESCAPE.search(raw):
            # A "\ud800" escape alone is not text: SQLite could not store the string it makes.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (EventError, ValueError):  # ValueError: UnicodeError's base
        return None
    return body


def _url_validation(body: dict[str, Any], secret: str) -> Response | tuple[Response, int]:
    payload = body.get("payload")
    plain = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(plain, str) or not 0 < len(plain) <= MAX_PLAIN_TOKEN_CHARS:
        return _error(400, "endpoint.url_validation needs payload.plainToken")
    return jsonify(url_validation_answer(plain, secret))


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status
