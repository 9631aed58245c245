"""Shared by bench/webhook_intake.py and bench/intake_pieces.py: distinct signed webhook bodies and the
database they are processed into (module 1's meeting and week-1 session of config/homeroom.toml)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoom_homeroom.core.models import HOMEROOM, PlannedSession, StoredMeeting, homeroom_key  # noqa: E402
from zoom_homeroom.core.planning import plan_sessions  # noqa: E402
from zoom_homeroom.settings import load_calendar  # noqa: E402
from zoom_homeroom.storage import Storage  # noqa: E402

CALENDAR_PATH = ROOT / "config" / "homeroom.toml"
WEBHOOK_PATH = "/webhooks/zoom"
MEETING_ID = "85746065432"
MODULE = 1


# -- signed bodies ---------------------------------------------------------------------------------

# A compact `meeting.participant_joined` body, as Zoom sends it, split around its variable parts.
# Python and the wrk Lua script assemble bodies from these same chunks, so the signatures match.
BODY_CHUNKS = (
    '{"event":"meeting.participant_joined","event_ts":1799265660000,"payload":{"account_id":"bench-account",'
    f'"object":{{"id":"{MEETING_ID}","uuid":"4444AAAiAAAAAiAiAiiAii==","host_id":"bench-host",'
    '"topic":"Homeroom: Mod 1","type":8,"start_time":"{start}","timezone":"America/Denver","duration":60,'
    '"participant":{"user_id":"bench-',
    '","user_name":"Bench Student ',
    '","id":"","participant_uuid":"bench-uuid-',
    '","join_time":"',
    '","email":"bench',
    '@students.example.org"}}}}',
)
SLOTS = ("index", "index", "index", "join_time", "index")  # what goes after each chunk but the last


@dataclass(frozen=True)
class BodyMaker:
    """Distinct signed bodies for one session: participant `i` joins `i` seconds into the local day."""

    secret: str = field(repr=False)
    timestamp: str
    session: PlannedSession
    day_start: dt.datetime

    def chunks(self) -> tuple[str, ...]:
        start = self.session.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        return tuple(chunk.replace("{start}", start) for chunk in BODY_CHUNKS)

    def join_time(self, index: int) -> str:
        # Wraps within the session's local date, so every event belongs to the session.
        moment = self.day_start + dt.timedelta(seconds=index % 86_000)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def body(self, index: int) -> bytes:
        values = {"index": str(index), "join_time": self.join_time(index)}
        chunks = self.chunks()
        parts = [chunk + values[slot] for chunk, slot in zip(chunks, SLOTS, strict=False)]
        return ("".join(parts) + chunks[-1]).encode("utf-8")

    def signature(self, body: bytes) -> str:
        message = b"v0:" + self.timestamp.encode("ascii") + b":" + body
        return "v0=" + hmac.new(self.secret.encode("utf-8"), message, hashlib.sha256).hexdigest()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "x-zm-request-timestamp": self.timestamp,
            "x-zm-signature": self.signature(body),
        }


# -- the database ----------------------------------------------------------------------------------


def prepare_database(path: Path) -> tuple[PlannedSession, dt.datetime]:
    """Migrate a fresh database and store module 1's meeting and week-1 session, as sync would."""
    calendar = load_calendar(CALENDAR_PATH)
    session = plan_sessions(calendar, module=MODULE, kinds=(HOMEROOM,))[0]
    module = calendar.module(MODULE)
    meeting_key = homeroom_key(MODULE, module.week1_monday)
    storage = Storage.open(path)
    try:
        now = dt.datetime.now(dt.UTC)
        storage.save_meeting(
            StoredMeeting(
                meeting_key,
                HOMEROOM,
                MODULE,
                module.host,
                MEETING_ID,
                "https://zoom.test/j/1",
                {},
            ),
            now=now,
        )
        storage.upsert_sessions([session], meeting_key=meeting_key, occurrence_ids={})
    finally:
        storage.close()
    local_midnight = dt.datetime.combine(session.date, dt.time(0, 0, 1), tzinfo=calendar.timezone)
    return session, local_midnight.astimezone(dt.UTC)
