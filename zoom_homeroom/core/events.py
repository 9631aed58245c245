"""Zoom webhook bodies -> dataclasses. Pure; unknown event types give None.

Participant events name one stay (see `core.presence`): `participant.user_id` within the instance
`object.uuid`, the connection's `participant_uuid`, and for breakout-room events the room
(`object.breakout_room_uuid`; `object.uuid` stays the main meeting's) and the main-meeting stay
(`participant.parent_user_id`). A participant who joined through a registrant's personal link carries
its `participant.registrant_id` (Zoom's Rivet typings of these events). Display names are cut to
Zoom's own limit, emails and ids to sane ones (`matching.zoom_identity`, `matching.cap_zoom_id`), before
anything stores or compares them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from .matching import ZoomIdentity, cap_zoom_id, zoom_identity
from .times import parse_utc_text

PARTICIPANT_EVENTS = {
    "meeting.participant_joined": ("join", False),
    "meeting.participant_left": ("leave", False),
    "meeting.participant_joined_breakout_room": ("join", True),
    "meeting.participant_left_breakout_room": ("leave", True),
}
MEETING_EVENTS = {"meeting.started": "started", "meeting.ended": "ended"}
HANDLED_EVENTS = frozenset(PARTICIPANT_EVENTS) | frozenset(MEETING_EVENTS)
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST_EVENT = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
# Zoom's event bodies nest 4 or 5 levels deep. json.loads recurses once per level, so a body nested
# near the interpreter's limit parses in a shallow caller and blows the stack of a deeper one.
MAX_BODY_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class EventError(ValueError):
    """A known event type whose body lacks what it must carry."""


@dataclass(frozen=True)
class ParticipantEvent:
    meeting_id: str
    meeting_uuid: str  # the instance
    kind: Literal["join", "leave"]
    room: str  # "" for the main meeting, else the breakout room's uuid
    connection: str  # Zoom's user_id (of the breakout stay, for room events)
    at: dt.datetime
    identity: ZoomIdentity
    participant_uuid: str = ""
    parent: str = ""  # breakout events: the main-meeting user_id (parent_user_id)


@dataclass(frozen=True)
class MeetingEvent:
    meeting_id: str
    meeting_uuid: str
    kind: Literal["started", "ended"]
    at: dt.datetime


def load_body(text: str) -> dict[str, Any]:
    """A webhook body's JSON object; EventError when it is not JSON, not an object, or nests deeper than
    MAX_BODY_DEPTH (checked before parsing, so the result never depends on the caller's stack)."""
    if nests_deeper_than(text, MAX_BODY_DEPTH):
        raise EventError(f"the body nests deeper than {MAX_BODY_DEPTH} levels; no Zoom event does")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise EventError(f"the body is not JSON: {str(error)[:100]}") from None
    if not isinstance(body, dict):
        raise EventError("the body is not a JSON object")
    return body


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than `limit` levels deep (brackets inside strings
    do not count), found without parsing it."""
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to nest that deep
    depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def meeting_id_of(body: dict[str, Any]) -> str | None:
    """The Zoom meeting id an event is about, as text, or None."""
    obj = (body.get("payload") or {}).get("object") if isinstance(body.get("payload"), dict) else None
    if not isinstance(obj, dict) or obj.get("id") in (None, ""):
        return None
    return str(obj["id"])


def parse_event(body: dict[str, Any]) -> ParticipantEvent | MeetingEvent | None:
    """The event as a dataclass; None for event types this service does not handle."""
    name = body.get("event")
    if name not in HANDLED_EVENTS:
        return None
    obj = _object(body)
    meeting_id = meeting_id_of(body)
    if meeting_id is None:
        raise EventError(f"{name}: payload.object.id is missing")
    meeting_uuid = cap_zoom_id(_text(obj.get("uuid")))
    if name in MEETING_EVENTS:
        kind = MEETING_EVENTS[name]
        at = _time(obj.get("start_time" if kind == "started" else "end_time"), body, name)
        return MeetingEvent(meeting_id, meeting_uuid, kind, at)
    kind, breakout = PARTICIPANT_EVENTS[name]
    participant = obj.get("participant")
    if not isinstance(participant, dict):
        raise EventError(f"{name}: payload.object.participant is missing")
    # Breakout events name the room only by its uuid; object.uuid is the main meeting's instance.
    room = cap_zoom_id(_text(obj.get("breakout_room_uuid"))) if breakout else ""
    if breakout and not room:
        raise EventError(f"{name}: the breakout room's uuid is missing")
    at = _time(participant.get("join_time" if kind == "join" else "leave_time"), body, name)
    identity = zoom_identity(
        _text(participant.get("user_name")),
        _text(participant.get("email")),
        _text(participant.get("participant_user_id") or participant.get("id")),
        _text(participant.get("registrant_id")),
    )
    participant_uuid = cap_zoom_id(_text(participant.get("participant_uuid")))
    connection = cap_zoom_id(_text(participant.get("user_id"))) or participant_uuid
    if not connection:
        connection = f"{identity.zoom_user_id}|{identity.email}|{identity.name}"
    parent = cap_zoom_id(_text(participant.get("parent_user_id"))) if breakout else ""
    return ParticipantEvent(
        meeting_id, meeting_uuid, kind, room, connection, at, identity, participant_uuid, parent
    )


def _object(body: dict[str, Any]) -> dict[str, Any]:
    payload = body.get("payload")
    obj = payload.get("object") if isinstance(payload, dict) else None
    if not isinstance(obj, dict):
        raise EventError(f"{body.get('event')}: payload.object is missing")
    return obj


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _time(value: Any, body: dict[str, Any], name: str) -> dt.datetime:
    """The event's own time; falls back to event_ts (milliseconds) when the field is absent."""
    if isinstance(value, str) and value:
        try:
            return _plausible(parse_utc_text(value), name)
        except (ValueError, OverflowError):  # "0001-01-01T00:00+01:00" overflows when made UTC
            raise EventError(f"{name}: {value[:40]!r} is not an ISO-8601 time") from None
    event_ts = body.get("event_ts")
    if isinstance(event_ts, int | float) and not isinstance(event_ts, bool) and 0 < event_ts < 10**14:
        return _plausible(dt.datetime.fromtimestamp(event_ts / 1000, dt.UTC), name)
    raise EventError(f"{name}: no time in the event")


def _plausible(at: dt.datetime, name: str) -> dt.datetime:
    # Zoom stamps events with the present. A time near year 1 or 9999 would also overflow when
    # converted to the school's time zone, leaving the delivery failing at every start-up.
    if not EARLIEST_EVENT <= at < LATEST_EVENT:
        raise EventError(f"{name}: {at:%Y-%m-%d} is not a plausible time for a Zoom event")
    return at
