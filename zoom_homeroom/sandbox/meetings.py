"""Meetings as Zoom keeps them: validation of request bodies, PATCH merging, occurrences, the daily limit.

Nothing here does I/O; the HTTP layer (`app.py`) turns `ApiError` into Zoom's error answers.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.times import to_utc_text
from . import ids
from .errors import ApiError, meeting_not_found, validation_failed
from .recurrence import Recurrence, RecurrenceError, occurrence_id, occurrence_starts, parse_recurrence

UTC = dt.UTC
INSTANT, SCHEDULED, RECURRING_NO_TIME, RECURRING, SCREEN_SHARE = 1, 2, 3, 8, 10
MEETING_TYPES = (INSTANT, SCHEDULED, RECURRING_NO_TIME, RECURRING, SCREEN_SHARE)
LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
LIST_AGENDA_CHARS = 250  # Zoom truncates agendas in listings

DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "registration_type": 1,
    "audio": "voip",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "waiting_room": False,
    "registrants_email_notification": True,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "breakout_room": {"enable": False},
    "participant_focused_meeting": False,
    "email_notification": True,
    "device_testing": False,
    "focus_mode": False,
    "private_meeting": False,
    "email_in_attendee_report": False,
    "host_save_video_order": False,
    "alternative_host_update_polls": False,
    "internal_meeting": False,
    "push_change_to_calendar": False,
}
BOOLEAN_SETTINGS = frozenset(key for key, value in DEFAULT_SETTINGS.items() if isinstance(value, bool))
# The spec's enums; `approval_type` 0 or 1 requires registration.
CHOICE_SETTINGS = {"approval_type": (0, 1, 2), "registration_type": (1, 2, 3)}
NO_REGISTRATION = 2
BASIC_USER = 1


@dataclass(frozen=True)
class Occurrence:
    occurrence_id: str
    start: dt.datetime
    duration: int

    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.duration)

    def to_json(self) -> dict[str, Any]:
        return {
            "occurrence_id": self.occurrence_id,
            "start_time": to_utc_text(self.start),
            "duration": self.duration,
            "status": "available",
        }


@dataclass
class Meeting:
    """One meeting (a series, for type 8). `start` is aware UTC; `timezone` is its IANA name."""

    id: int
    host: dict[str, Any]
    created_at: dt.datetime
    base_url: str
    topic: str = "Zoom Meeting"
    type: int = SCHEDULED
    start: dt.datetime | None = None
    timezone: str = "UTC"
    duration: int = 60
    agenda: str = ""
    password: str = ""
    settings: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SETTINGS))
    recurrence: Recurrence | None = None
    uuid_serial: int = 0  # which instance UUID the next (or live) instance uses
    live: bool = False
    deleted_occurrences: set[str] = field(default_factory=set)
    overrides: dict[str, Occurrence] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return ids.instance_uuid(self.id, self.uuid_serial)

    def occurrences(self) -> list[Occurrence]:
        """Every occurrence not deleted, with per-occurrence changes applied."""
        if self.type != RECURRING or self.start is None or self.recurrence is None:
            return []
        found = []
        for start in occurrence_starts(self.start, ZoneInfo(self.timezone), self.recurrence):
            key = occurrence_id(start)
            if key not in self.deleted_occurrences:
                found.append(self.overrides.get(key, Occurrence(key, start, self.duration)))
        return found

    def occurrence(self, key: str) -> Occurrence:
        """One occurrence by id; Zoom's 400 (code 300) when the series has no such occurrence."""
        for item in self.occurrences():
            if item.occurrence_id == key:
                return item
        raise ApiError(400, 300, f"Invalid parameter: occurrence_id {key}.")

    def upcoming(self, now: dt.datetime) -> bool:
        """Live, or with an occurrence (or the one start) that has not ended yet."""
        if self.live or self.type == RECURRING_NO_TIME:
            return True
        if self.type == RECURRING:
            return any(item.end() > now for item in self.occurrences())
        return self.start is not None and self.start + dt.timedelta(minutes=self.duration) > now

    def to_json(
        self, now: dt.datetime, *, occurrence: str | None = None, previous: bool = False
    ) -> dict[str, Any]:
        """The Get a meeting answer: `start_time` in UTC plus `timezone`, as Zoom writes it."""
        body: dict[str, Any] = {
            "uuid": self.uuid,
            "id": self.id,
            "host_id": self.host["id"],
            "host_email": self.host["email"],
            "assistant_id": "",
            "topic": self.topic,
            "type": self.type,
            "status": "started" if self.live else "waiting",
            "timezone": self.timezone,
            "agenda": self.agenda,
            "created_at": to_utc_text(self.created_at),
            "duration": self.duration,
            "start_url": f"{self.base_url}/s/{self.id}?zak={ids.secret_text('zak', self.id)}",
            "join_url": f"{self.base_url}/j/{self.id}?pwd={ids.secret_text('pwd', self.id)}",
            "password": self.password,
            "h323_password": self.password,
            "pstn_password": self.password,
            "encrypted_password": ids.secret_text("pwd", self.id),
            "settings": copy.deepcopy(self.settings),
            "pre_schedule": False,
            "creation_source": "open_api",
        }
        if self.start is not None:
            body["start_time"] = to_utc_text(self.start)
        if self.recurrence is not None:
            body["recurrence"] = self.recurrence.to_json()
        if self.type == RECURRING:
            self._add_occurrences(body, now, occurrence, previous)
        return body

    def _add_occurrences(
        self, body: dict[str, Any], now: dt.datetime, key: str | None, previous: bool
    ) -> None:
        if key is not None:
            chosen = [self.occurrence(key)]
        else:
            # Zoom lists only occurrences that have not ended unless asked for previous ones.
            chosen = [item for item in self.occurrences() if previous or item.end() > now]
        if chosen:
            # A series' start_time is that of its next occurrence, as on Zoom.
            body["start_time"] = to_utc_text(chosen[0].start)
            body["occurrences"] = [item.to_json() for item in chosen]
        if key is not None:
            body["duration"] = chosen[0].duration

    def list_item(self, now: dt.datetime) -> dict[str, Any]:
        """The shorter object of List meetings."""
        full = self.to_json(now)
        keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "created_at")
        item = {key: full[key] for key in keys if key in full}
        item["agenda"] = self.agenda[:LIST_AGENDA_CHARS]
        item["join_url"] = full["join_url"]
        return item


# -- request bodies ----------------------------------------------------------------------------


def parse_time(text: object, timezone: str, field_name: str = "start_time") -> dt.datetime:
    """`yyyy-MM-ddTHH:mm:ssZ` (UTC) or `yyyy-MM-ddTHH:mm:ss` (local to `timezone`) -> aware UTC."""
    if not isinstance(text, str):
        raise validation_failed(field_name, f"{field_name} must be a date-time string.")
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise validation_failed(field_name, f"{field_name} {text!r} is not a date-time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC).replace(microsecond=0)


def _zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise validation_failed("timezone", "timezone must be a time zone name such as America/Denver.")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise validation_failed("timezone", f"timezone {value!r} is not a time zone Zoom knows.") from None
    return value


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body[key]
    if not isinstance(value, str) or len(value) > limit:
        raise validation_failed(key, f"{key} must be text of at most {limit} characters.")
    return value


def _int(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise validation_failed(key, f"{key} must be an integer from {low} to {high}.")
    return value


def validate_rooms(value: object) -> list[dict[str, Any]]:
    """`settings.breakout_room.rooms`: a list of `{name, participants: [emails]}`."""
    if not isinstance(value, list):
        raise validation_failed("settings.breakout_room.rooms", "rooms must be a list.")
    rooms = []
    for index, room in enumerate(value):
        where = f"settings.breakout_room.rooms[{index}]"
        if not isinstance(room, dict) or not isinstance(room.get("name"), str) or not room["name"].strip():
            raise validation_failed(f"{where}.name", "every breakout room needs a name.")
        people = room.get("participants", [])
        if not isinstance(people, list) or not all(isinstance(p, str) and "@" in p for p in people):
            raise validation_failed(
                f"{where}.participants", "participants must be a list of email addresses."
            )
        rooms.append({"name": room["name"], "participants": list(people)})
    return rooms


def _breakout_room(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation_failed("settings.breakout_room", "breakout_room must be an object.")
    room: dict[str, Any] = {}
    if "enable" in value:
        if not isinstance(value["enable"], bool):
            raise validation_failed("settings.breakout_room.enable", "enable must be true or false.")
        room["enable"] = value["enable"]
    if "rooms" in value:
        room["rooms"] = validate_rooms(value["rooms"])
    return room


def validate_settings(value: object) -> dict[str, Any]:
    """A `settings` object: known booleans must be booleans; breakout rooms are checked in full."""
    if not isinstance(value, dict):
        raise validation_failed("settings", "settings must be an object.")
    settings = copy.deepcopy(value)
    for key in BOOLEAN_SETTINGS & settings.keys():
        if not isinstance(settings[key], bool):
            raise validation_failed(f"settings.{key}", f"settings.{key} must be true or false.")
    for key, choices in CHOICE_SETTINGS.items():
        value = settings.get(key, choices[0])
        if isinstance(value, bool) or value not in choices:
            raise validation_failed(f"settings.{key}", f"settings.{key} must be one of {choices}.")
    if "breakout_room" in settings:
        settings["breakout_room"] = _breakout_room(settings["breakout_room"])
    return settings


def _recurrence(value: object) -> Recurrence:
    try:
        return parse_recurrence(value)
    except RecurrenceError as error:
        raise validation_failed(error.field, str(error)) from None


def apply_body(meeting: Meeting, body: object, now: dt.datetime, *, creating: bool) -> Meeting:
    """A copy of `meeting` with a create or update body applied (Zoom's PATCH merge rules).

    Top-level fields are replaced, `settings` is merged key by key (so `settings.breakout_room`
    is replaced as a whole) and occurrences follow the new recurrence. Raises ApiError (400).
    """
    if not isinstance(body, dict):
        raise ApiError(400, 300, "Request Body should be a valid JSON object.")
    changes: dict[str, Any] = {}
    if "topic" in body:
        changes["topic"] = _text(body, "topic", 200)
    if "agenda" in body:
        changes["agenda"] = _text(body, "agenda", 2000)
    if "password" in body:
        changes["password"] = _text(body, "password", 10)
    if "duration" in body:
        changes["duration"] = _int(body, "duration", 1, 1440)
    if "type" in body:
        if body["type"] not in MEETING_TYPES or isinstance(body["type"], bool):
            raise validation_failed("type", f"type must be one of {', '.join(map(str, MEETING_TYPES))}.")
        changes["type"] = body["type"]
    if "timezone" in body:
        changes["timezone"] = _zone(body["timezone"])
    if "start_time" in body:
        start = parse_time(body["start_time"], changes.get("timezone", meeting.timezone))
        # Zoom ignores an update's start_time in the past (its docs say so), but takes it at creation.
        if creating or start >= now:
            changes["start"] = start
    if "recurrence" in body:
        changes["recurrence"] = _recurrence(body["recurrence"])
    if "settings" in body:
        changes["settings"] = {**meeting.settings, **validate_settings(body["settings"])}
        if meeting.host.get("type") == BASIC_USER:
            # The spec: "Registration cannot be enabled for a basic user." Zoom drops the setting
            # without an error (another project found it silently dropped): the harsher case.
            changes["settings"]["approval_type"] = NO_REGISTRATION
    updated = dataclasses.replace(meeting, **changes)
    return _settle_type(updated, now, creating=creating)


def _settle_type(meeting: Meeting, now: dt.datetime, *, creating: bool) -> Meeting:
    if meeting.type in (SCHEDULED, SCREEN_SHARE) and meeting.start is None and creating:
        # Zoom: a scheduled meeting without start_time becomes an instant meeting starting now.
        return dataclasses.replace(meeting, type=INSTANT, start=now.replace(microsecond=0))
    if meeting.type == INSTANT and meeting.start is None:
        return dataclasses.replace(meeting, start=now.replace(microsecond=0), recurrence=None)
    if meeting.type == RECURRING_NO_TIME:
        return dataclasses.replace(meeting, start=None)
    if meeting.type == RECURRING:
        if meeting.start is None:
            raise validation_failed(
                "start_time", "a recurring meeting with fixed time (type 8) needs start_time."
            )
        if meeting.recurrence is None:
            raise validation_failed(
                "recurrence", "a recurring meeting with fixed time (type 8) needs recurrence."
            )
        return meeting
    return dataclasses.replace(meeting, recurrence=None)


def apply_occurrence_body(meeting: Meeting, key: str, body: object) -> Meeting:
    """PATCH with `occurrence_id`: change that occurrence's start_time or duration only."""
    if not isinstance(body, dict):
        raise ApiError(400, 300, "Request Body should be a valid JSON object.")
    current = meeting.occurrence(key)
    start = parse_time(body["start_time"], meeting.timezone) if "start_time" in body else current.start
    duration = _int(body, "duration", 1, 1440) if "duration" in body else current.duration
    overrides = {**meeting.overrides, key: Occurrence(key, start, duration)}
    return dataclasses.replace(meeting, overrides=overrides)


# -- the book of meetings -----------------------------------------------------------------------


class DailyLimit:
    """Zoom's per-host limit on meeting creates and updates per UTC day (its "Rate limits" page: 100 a
    day per user, reset at 00:00 UTC). The answer names the user level and sends no `Retry-After`; its
    text is as quoted from Zoom by another project that hit it."""

    def __init__(self, limit: int):
        self.limit = limit
        self._counts: dict[tuple[str, dt.date], int] = {}

    def check(self, host_id: str, now: dt.datetime) -> None:
        """Raise Zoom's 429 when the host has used up today's writes."""
        if self._counts.get((host_id, now.astimezone(UTC).date()), 0) >= self.limit:
            raise ApiError(
                429,
                429,
                f"You have exceeded the daily rate limit ({self.limit}) of Meeting Create/Update API requests "
                "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
            )

    def record(self, host_id: str, now: dt.datetime) -> None:
        key = (host_id, now.astimezone(UTC).date())
        self._counts[key] = self._counts.get(key, 0) + 1


class MeetingBook:
    """Every meeting of the sandbox, by id."""

    def __init__(self, base_url: str, daily_write_limit: int):
        self.base_url = base_url
        self.limit = DailyLimit(daily_write_limit)
        self._meetings: dict[int, Meeting] = {}
        self._created = 0

    def create(self, host: dict[str, Any], body: object, now: dt.datetime) -> Meeting:
        """Create a meeting for `host` (Zoom's 201). Raises ApiError (400, 429)."""
        if host["status"] != "active":
            raise ApiError(
                400, 3161, "Your user account is not allowed meeting hosting and scheduling capabilities."
            )
        self.limit.check(host["id"], now)
        number = ids.meeting_id(self._created)
        draft = Meeting(
            id=number,
            host=host,
            created_at=now.replace(microsecond=0),
            base_url=self.base_url,
            timezone=host["timezone"],
            password=ids.secret_text("password", number)[:6],
        )
        meeting = apply_body(draft, body, now, creating=True)
        self._created += 1
        self._meetings[meeting.id] = meeting
        self.limit.record(host["id"], now)
        return meeting

    def get(self, ref: object) -> Meeting:
        """The meeting with this id (int or decimal text), or Zoom's 404 (code 3001)."""
        try:
            number = int(str(ref))
        except ValueError:
            raise meeting_not_found(ref) from None
        meeting = self._meetings.get(number)
        if meeting is None:
            raise meeting_not_found(ref)
        return meeting

    def exists(self, number: int) -> bool:
        return number in self._meetings

    def update(self, ref: object, body: object, now: dt.datetime, occurrence: str | None = None) -> Meeting:
        """PATCH a meeting (or one occurrence). Raises ApiError (400, 404, 429)."""
        meeting = self.get(ref)
        self.limit.check(meeting.host["id"], now)
        if occurrence is not None:
            updated = apply_occurrence_body(meeting, occurrence, body)
        else:
            updated = apply_body(meeting, body, now, creating=False)
        self._meetings[meeting.id] = updated
        self.limit.record(meeting.host["id"], now)
        return updated

    def delete(self, ref: object, occurrence: str | None = None) -> None:
        """DELETE a meeting, or only one of its occurrences. Raises ApiError (400, 404)."""
        meeting = self.get(ref)
        if occurrence is None:
            del self._meetings[meeting.id]
            return
        meeting.occurrence(occurrence)
        meeting.deleted_occurrences.add(occurrence)

    def for_host(self, host_id: str, kind: str, now: dt.datetime) -> list[Meeting]:
        """A host's meetings for List meetings' `type`. Raises ApiError for an unknown type."""
        if kind not in LIST_TYPES:
            raise validation_failed("type", f"type must be one of {', '.join(LIST_TYPES)}.")
        mine = [meeting for meeting in self._meetings.values() if meeting.host["id"] == host_id]
        if kind == "live":
            return [meeting for meeting in mine if meeting.live]
        if kind in ("upcoming", "upcoming_meetings"):
            return [meeting for meeting in mine if meeting.upcoming(now)]
        if kind == "previous_meetings":
            return [meeting for meeting in mine if not meeting.upcoming(now)]
        return mine

    def all(self) -> list[Meeting]:
        return list(self._meetings.values())
