"""Simulated meeting instances: who joined when, which rooms they visited, and the events Zoom sends.

The same stays feed the participant reports (past meetings, report API) and the webhook bodies,
so a test can lose a delivery and still find the join in the report, as with Zoom.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..core.times import to_utc_text
from . import ids
from .errors import SandboxError
from .meetings import Meeting

ENDED_REASON = "Host ended the meeting."


@dataclass(frozen=True)
class Participant:
    """A person in a simulated meeting. Signed-in Zoom users have a `zoom_user_id`."""

    name: str
    email: str = ""
    zoom_user_id: str = ""

    @property
    def key(self) -> str:
        """What makes two joins the same person (Zoom's participant_uuid stays the same)."""
        return self.zoom_user_id or self.email.lower() or self.name


@dataclass
class Stay:
    """One join: of the main meeting, or of one breakout room (`room` set)."""

    participant: Participant
    user_id: str  # Zoom's per-join participant id
    participant_uuid: str
    join_time: dt.datetime
    leave_time: dt.datetime | None = None
    leave_reason: str = ""
    room: str | None = None
    breakout_room_uuid: str = ""
    parent_user_id: str = ""

    def duration(self) -> int:
        end = self.leave_time or self.join_time
        return int((end - self.join_time).total_seconds())


@dataclass
class Instance:
    """One occurrence that really took place: a meeting UUID with its stays."""

    meeting_id: int
    uuid: str
    host_id: str
    topic: str
    type: int
    timezone: str
    duration: int
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    stays: list[Stay] = field(default_factory=list)
    room_stays: list[Stay] = field(default_factory=list)

    def open_stay(self, person: Participant) -> Stay | None:
        return next(
            (s for s in reversed(self.stays) if s.participant == person and s.leave_time is None), None
        )

    def open_room_stay(self, person: Participant) -> Stay | None:
        return next(
            (s for s in reversed(self.room_stays) if s.participant == person and s.leave_time is None), None
        )

    def object(self) -> dict[str, Any]:
        """The `payload.object` fields every meeting event carries."""
        return {
            "id": str(self.meeting_id),
            "uuid": self.uuid,
            "host_id": self.host_id,
            "topic": self.topic,
            "type": self.type,
            "start_time": to_utc_text(self.start_time),
            "timezone": self.timezone,
            "duration": self.duration,
        }

    def report_row(self, stay: Stay) -> dict[str, Any]:
        """One row of Get meeting participant reports."""
        person = stay.participant
        return {
            "id": person.zoom_user_id,
            "user_id": stay.user_id,
            "participant_user_id": person.zoom_user_id,
            "name": person.name,
            "user_email": person.email,
            "join_time": to_utc_text(stay.join_time),
            "leave_time": to_utc_text(stay.leave_time or stay.join_time),
            "duration": stay.duration(),
            "registrant_id": "",
            "failover": False,
            "status": "in_meeting",
            "customer_key": "",
        }

    def past_row(self, stay: Stay) -> dict[str, Any]:
        """One row of List past meeting participants."""
        person = stay.participant
        return {
            "id": person.zoom_user_id,
            "name": person.name,
            "user_id": stay.user_id,
            "user_email": person.email,
            "join_time": to_utc_text(stay.join_time),
            "leave_time": to_utc_text(stay.leave_time or stay.join_time),
            "duration": stay.duration(),
            "failover": False,
            "status": "in_meeting",
            "internal_user": bool(person.zoom_user_id),
        }


class Simulation:
    """Instances by meeting and UUID; each change returns the event bodies Zoom would send."""

    def __init__(self, account_id: str):
        self.account_id = account_id
        self._instances: dict[str, Instance] = {}
        self._by_meeting: dict[int, list[Instance]] = {}
        self._joins = 0

    # -- changes -------------------------------------------------------------------------------

    def start(self, meeting: Meeting, at: dt.datetime) -> tuple[Instance, dict[str, Any]]:
        if self.live(meeting.id) is not None:
            raise SandboxError(f"meeting {meeting.id} already has a live instance")
        instance = Instance(
            meeting_id=meeting.id,
            uuid=meeting.uuid,
            host_id=meeting.host["id"],
            topic=meeting.topic,
            type=meeting.type,
            timezone=meeting.timezone,
            duration=meeting.duration,
            start_time=_aware(at),
        )
        self._instances[instance.uuid] = instance
        self._by_meeting.setdefault(meeting.id, []).append(instance)
        return instance, self._event("meeting.started", at, instance.object())

    def join(self, meeting_id: int, person: Participant, at: dt.datetime) -> dict[str, Any]:
        instance = self._require_live(meeting_id)
        stay = Stay(person, self._next_join_id(), ids.participant_uuid(instance.uuid, person.key), _aware(at))
        instance.stays.append(stay)
        fields = {"join_time": to_utc_text(stay.join_time)}
        return self._participant_event("meeting.participant_joined", instance, stay, at, fields)

    def leave(
        self, meeting_id: int, person: Participant, at: dt.datetime, reason: str
    ) -> list[dict[str, Any]]:
        instance = self._require_live(meeting_id)
        stay = instance.open_stay(person)
        if stay is None:
            raise SandboxError(f"{person.name} is not in meeting {meeting_id}")
        events = []
        room_stay = instance.open_room_stay(person)
        if room_stay is not None:
            events.append(self._close_room_stay(instance, room_stay, at, reason))
        events.append(self._close_stay(instance, stay, at, reason))
        return events

    def join_breakout(
        self, meeting_id: int, person: Participant, room: str, at: dt.datetime
    ) -> list[dict[str, Any]]:
        instance = self._require_live(meeting_id)
        parent = instance.open_stay(person)
        if parent is None:
            raise SandboxError(f"{person.name} must join meeting {meeting_id} before a breakout room")
        events = []
        current = instance.open_room_stay(person)
        if current is not None:
            events.append(self._close_room_stay(instance, current, at, "left the breakout room"))
        stay = Stay(
            person,
            self._next_join_id(),
            parent.participant_uuid,
            _aware(at),
            room=room,
            breakout_room_uuid=ids.breakout_room_uuid(instance.uuid, room),
            parent_user_id=parent.user_id,
        )
        instance.room_stays.append(stay)
        fields = {"join_time": to_utc_text(stay.join_time), "parent_user_id": stay.parent_user_id}
        body = self._participant_event("meeting.participant_joined_breakout_room", instance, stay, at, fields)
        body["payload"]["object"]["breakout_room_uuid"] = stay.breakout_room_uuid
        events.append(body)
        return events

    def leave_breakout(
        self, meeting_id: int, person: Participant, room: str, at: dt.datetime
    ) -> dict[str, Any]:
        instance = self._require_live(meeting_id)
        stay = instance.open_room_stay(person)
        if stay is None or stay.room != room:
            raise SandboxError(f"{person.name} is not in breakout room {room!r} of meeting {meeting_id}")
        return self._close_room_stay(instance, stay, at, "left the breakout room")

    def end(self, meeting_id: int, at: dt.datetime) -> list[dict[str, Any]]:
        """Close every open stay (rooms first), then `meeting.ended`."""
        instance = self._require_live(meeting_id)
        events = [
            self._close_room_stay(instance, stay, at, ENDED_REASON)
            for stay in instance.room_stays
            if stay.leave_time is None
        ]
        events += [
            self._close_stay(instance, stay, at, ENDED_REASON)
            for stay in instance.stays
            if stay.leave_time is None
        ]
        instance.end_time = _aware(at)
        events.append(self._event("meeting.ended", at, {**instance.object(), "end_time": to_utc_text(at)}))
        return events

    # -- queries -------------------------------------------------------------------------------

    def live(self, meeting_id: int) -> Instance | None:
        return next((i for i in self._by_meeting.get(meeting_id, []) if i.end_time is None), None)

    def ended(self, meeting_id: int) -> list[Instance]:
        return [i for i in self._by_meeting.get(meeting_id, []) if i.end_time is not None]

    def has_history(self, meeting_id: int) -> bool:
        return meeting_id in self._by_meeting

    def ended_instance(self, uuid: str) -> Instance | None:
        instance = self._instances.get(uuid)
        return instance if instance is not None and instance.end_time is not None else None

    def all(self) -> list[Instance]:
        return list(self._instances.values())

    # -- helpers -------------------------------------------------------------------------------

    def _require_live(self, meeting_id: int) -> Instance:
        instance = self.live(meeting_id)
        if instance is None:
            raise SandboxError(f"meeting {meeting_id} has no live instance: call start_instance() first")
        return instance

    def _next_join_id(self) -> str:
        self._joins += 1
        return ids.join_id(self._joins)

    def _close_stay(self, instance: Instance, stay: Stay, at: dt.datetime, reason: str) -> dict[str, Any]:
        stay.leave_time, stay.leave_reason = _aware(at), reason
        fields = {"leave_time": to_utc_text(stay.leave_time), "leave_reason": reason}
        return self._participant_event("meeting.participant_left", instance, stay, at, fields)

    def _close_room_stay(
        self, instance: Instance, stay: Stay, at: dt.datetime, reason: str
    ) -> dict[str, Any]:
        stay.leave_time, stay.leave_reason = _aware(at), reason
        fields = {
            "leave_time": to_utc_text(stay.leave_time),
            "leave_reason": reason,
            "parent_user_id": stay.parent_user_id,
        }
        body = self._participant_event("meeting.participant_left_breakout_room", instance, stay, at, fields)
        body["payload"]["object"]["breakout_room_uuid"] = stay.breakout_room_uuid
        return body

    def _participant_event(
        self, name: str, instance: Instance, stay: Stay, at: dt.datetime, fields: dict[str, str]
    ) -> dict[str, Any]:
        person = stay.participant
        participant = {
            "user_id": stay.user_id,
            "user_name": person.name,
            "id": person.zoom_user_id,
            "participant_uuid": stay.participant_uuid,
            "email": person.email,
            "participant_user_id": person.zoom_user_id,
            "registrant_id": "",
            "customer_key": "",
            **fields,
        }
        return self._event(name, at, {**instance.object(), "participant": participant})

    def _event(self, name: str, at: dt.datetime, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": name,
            "event_ts": int(_aware(at).timestamp() * 1000),
            "payload": {"account_id": self.account_id, "object": obj},
        }


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise SandboxError(f"naive datetime {at!r}: pass aware UTC datetimes")
    return at.astimezone(dt.UTC).replace(microsecond=0)
