"""Zoom webhook bodies -> dataclasses. Pure; unknown event types give None.

Participant events name one stay (see `core.presence`): `participant.user_id` within the instance
`object.uuid`, the connection's `participant_uuid`, and for breakout-room events the room
(`object.breakout_room_uuid`; `object.uuid` stays the main meeting's) and the main-meeting stay
(`participant.parent_user_id`). A participant who joined through a registrant's personal link carries
its `participant.registrant_id` (Zoom's Rivet typings of these events). Display names are cut to
Zoom's own limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from .attendance import ZoomIdentity
from .matching import cap_display_name
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
    meeting_uuid = _text(obj.get("uuid"))
    if name in MEETING_EVENTS:
        kind = MEETING_EVENTS[name]
        at = _time(obj.get("start_time" if kind == "started" else "end_time"), body, name)
        return MeetingEvent(meeting_id, meeting_uuid, kind, at)
    kind, breakout = PARTICIPANT_EVENTS[name]
    participant = obj.get("participant")
    if not isinstance(participant, dict):
        raise EventError(f"{name}: payload.object.participant is missing")
    # Breakout events name the room only by its uuid; object.uuid is the main meeting's instance.
    room = _text(obj.get("breakout_room_uuid")) if breakout else ""
    if breakout and not room:
        raise EventError(f"{name}: the breakout room's uuid is missing")
    at = _time(participant.get("join_time" if kind == "join" else "leave_time"), body, name)
    identity = ZoomIdentity(
        name=cap_display_name(_text(participant.get("user_name"))),
        email=_text(participant.get("email")).lower(),
        zoom_user_id=_text(participant.get("participant_user_id") or participant.get("id")),
        registrant_id=_text(participant.get("registrant_id")),
    )
    participant_uuid = _text(participant.get("participant_uuid"))
    connection = _text(participant.get("user_id")) or participant_uuid
    if not connection:
        connection = f"{identity.zoom_user_id}|{identity.email}|{identity.name}"
    parent = _text(participant.get("parent_user_id")) if breakout else ""
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
