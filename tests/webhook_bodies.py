"""Zoom webhook bodies, signed here with a few lines of hmac (never with the code under test), and the
stored meeting and session they belong to."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from tests.conftest import TEST_WEBHOOK_SECRET
from tests.factories import utc
from zoom_homeroom.core.models import PlannedSession, SessionRecord, StoredMeeting
from zoom_homeroom.storage import Storage

URL = "/webhooks/zoom"
MEETING_ID = "85746065432"
MEETING_KEY = "homeroom:1:2027-01-04"
SESSION_KEY = "homeroom:1:2027-01-06"


def signed_headers(
    body: bytes,
    *,
    at: dt.datetime | None = None,
    timestamp: str | None = None,
    secret: str = TEST_WEBHOOK_SECRET,
) -> dict[str, str]:
    """Zoom's headers for `body`: HMAC-SHA256 of `v0:{timestamp}:{body}`; `timestamp` overrides `at`."""
    if timestamp is None:
        assert at is not None, "give at= or timestamp="
        timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest}",
        "content-type": "application/json",
    }


def participant_event(
    *,
    event: str = "meeting.participant_joined",
    user_id: str = "16778240",
    name: str = "Ada Lovelace",
    email: str = "ada@students.example.org",
    at: str = "2027-01-06T20:01:00Z",
) -> dict[str, Any]:
    """A `meeting.participant_joined` (or `_left`) body for module 1's week-1 session."""
    time_field = "join_time" if event.endswith("joined") else "leave_time"
    return {
        "event": event,
        "event_ts": 1799265660000,
        "payload": {
            "account_id": "acc",
            "object": {
                "id": MEETING_ID,
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "host_id": "x1",
                "topic": "Homeroom: Mod 1",
                "type": 8,
                "start_time": "2027-01-06T20:00:00Z",
                "timezone": "America/Denver",
                "duration": 60,
                "participant": {
                    "user_id": user_id,
                    "user_name": name,
                    "id": "",
                    "participant_uuid": f"p-{user_id}",
                    time_field: at,
                    "email": email,
                },
            },
        },
    }


def store_known_session(storage: Storage, *, now: dt.datetime) -> SessionRecord:
    """Module 1's meeting and its week-1 session (Wednesday 2027-01-06), as sync would have stored them."""
    storage.save_meeting(
        StoredMeeting(MEETING_KEY, "homeroom", 1, "mod1@x.org", MEETING_ID, "https://zoom.test/j/1", {}),
        now=now,
    )
    session = PlannedSession(
        "homeroom", 1, 1, dt.date(2027, 1, 6), utc("2027-01-06 20:00"), utc("2027-01-06 21:00")
    )
    storage.upsert_sessions([session], meeting_key=MEETING_KEY, occurrence_ids={})
    stored = storage.session(SESSION_KEY)
    assert stored is not None
    return stored


def delivery_digests(storage: Storage) -> set[str]:
    return {row[0] for row in storage.db.execute("SELECT digest FROM webhook_deliveries")}


def delivery_count(storage: Storage) -> int:
    return storage.db.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
