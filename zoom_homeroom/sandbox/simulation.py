"""Simulated meeting instances as Zoom runs them: connections, room moves, and what Zoom says about them.

The same connections feed the webhook bodies and the participant reports, so a test can lose a delivery
and still find the stay in the report, as with Zoom. What Zoom does, and where we learned it (where the
evidence is silent the sandbox does the harsher thing):

- A room move (into a breakout room or back) is a main-meeting `participant_left` and `participant_joined`
  at the same instant under a new `user_id`, delivered in either order. A public capture of 162 real
  deliveries (documented in a project's `webhook-events.ndjson` notes) had 40 such pairs, the leave first 23
  times; only 14 of them gave a room reason, 26 said plainly "left the meeting".
- Breakout-room events (Zoom's Rivet typings, `MeetingParticipantJoinedBreakoutRoomEvent`) carry the main
  meeting's `id` and `uuid`, the room as `breakout_room_uuid` and no name, `participant.parent_user_id`,
  and a `user_id` that is the parent's followed by the join time (captured: "167782402026-08-30
  09:00:49:000"). The parent here is the `user_id` of the segment spent in the room: the report rows of
  the same capture family show that segment as its own row with `bo_mtg_id`.
- No breakout leave is sent when someone quits Zoom from inside a room or when the host closes the rooms
  (a capture: 32 breakout joins, 21 breakout leaves); when the host ends the meeting, everyone gets a
  `participant_left` ("... Reason : Host ended the meeting."), then `meeting.ended`.
- `participant_uuid` stays the same across room moves of one connection and changes after a reconnect; a
  display name can change within one (both from the capture notes).
- Emails and Zoom user ids show only for users of the host's account (Zoom's "email address display rules"),
  except an email the host gave Zoom, such as a breakout-room pre-assignment: the capture had no email on
  any main-meeting event and emails on some breakout events. Id fields were filled on 2 of 157 events.
- Reports (`GET /report/meetings/{uuid}/participants`) have one row per `user_id`: a main-meeting row
  ends when the person enters a room and the room time is the next row, with `bo_mtg_id` shared by the
  room and an empty `id` (a public report capture); rows show duration 0 while Zoom processes the report.
- Someone who joins through a registrant's personal link carries its `registrant_id` on every event
  (Zoom's Rivet typings of the participant events) and report row (the spec, with
  `include_fields=registrant_id`), and their registered email (Zoom's email display rules: an email
  entered into the registration flow is shown for that meeting). A registration made by the host
  through the API is neither entered by the participant nor in the rules' list of host-provided emails,
  and a developer-forum thread ("Unable to map meeting registrant id with live participant id") found
  registrants' emails returned scrambled but for the domain: so by default the sandbox shows none
  (`registrant_emails_shown=False`, the harsher case) and `True` plays Zoom showing it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from ..core.times import to_utc_text
from . import ids
from .errors import SandboxError
from .meetings import Meeting

# The leave_reason texts of the capture, verbatim.
LEFT = "left the meeting. Reason : left the meeting"
TO_ROOM = "left the meeting. Reason : left the meeting to join breakout room"
TO_MAIN = "left the meeting. Reason : left the meeting leave breakout room to join main meeting"
DISCONNECTED = "got disconnected from the meeting. Reason : Client Close."
HOST_ENDED = "left the meeting. Reason : Host ended the meeting."
LEFT_ROOM = "Leave breakout room."  # on meeting.participant_left_breakout_room
ROOM_REASON_SHARE = 14 / 40  # room moves that name the room in their leave_reason
LEAVE_REASONS = {"left": LEFT, "disconnected": DISCONNECTED}


@dataclass(frozen=True)
class Participant:
    """A person in simulated meetings: the Zoom account they are signed in with and the app they use.

    `email` and `zoom_user_id` are those of their Zoom sign-in ("" for a guest). Zoom shows them only when
    the person is a user of the host's account (`in_account`); a pre-assigned email also shows on breakout
    events. Pre-assigned rooms place only people signed in with that email in the desktop or mobile app,
    never `web_client` users. `join_url` is the link they join with: a registrant's personal link on a
    meeting that requires registration.
    """

    name: str
    email: str = ""
    zoom_user_id: str = ""
    in_account: bool = False
    web_client: bool = False
    join_url: str = ""

    @property
    def key(self) -> str:
        """Who the person is, for their connections' participant_uuid."""
        return self.zoom_user_id or self.email.lower() or self.name

    def shown_email(self) -> str:
        return self.email if self.in_account else ""

    def shown_id(self) -> str:
        return self.zoom_user_id if self.in_account else ""


@dataclass
class Segment:
    """One main-meeting `user_id`, Zoom's unit of accounting: time in the main meeting or in one room."""

    user_id: str
    join_time: dt.datetime
    name: str
    room: str = ""  # the breakout room's name when this segment is spent in a room
    bo_mtg_id: str = ""
    leave_time: dt.datetime | None = None

    def seconds(self) -> int:
        end = self.leave_time or self.join_time
        return int((end - self.join_time).total_seconds())


@dataclass
class RoomStay:
    """A stay in a breakout room as breakout events describe it."""

    user_id: str  # the parent's user_id followed by the join time
    parent_user_id: str
    room: str
    breakout_room_uuid: str


@dataclass
class Connection:
    """One device's connection (one participant_uuid), from its join until it leaves."""

    person: Participant
    participant_uuid: str
    name: str
    segments: list[Segment] = field(default_factory=list)
    room_stay: RoomStay | None = None
    registrant_id: str = ""  # of the personal link the connection joined through
    registered_email: str = ""  # that registration's email, when Zoom shows it

    @property
    def segment(self) -> Segment:
        return self.segments[-1]

    def shown_email(self) -> str:
        """The email Zoom shows: a registrant's registered one, else a host-account user's sign-in."""
        return self.registered_email or self.person.shown_email()

    @property
    def is_open(self) -> bool:
        return self.segment.leave_time is None


@dataclass
class Instance:
    """One occurrence that really took place: a meeting UUID with its connections."""

    meeting_id: int
    uuid: str
    host_id: str
    topic: str
    type: int
    timezone: str
    duration: int
    start_time: dt.datetime
    assignments: dict[str, str]  # pre-assigned email (lower-cased) -> breakout room name
    end_time: dt.datetime | None = None
    connections: list[Connection] = field(default_factory=list)
    report_ready_at: dt.datetime | None = None  # report rows show duration 0 before (None: processed)
    rooms_open: bool = False
    openings: int = 0  # room ids are new each time the host opens the rooms
    user_ids: int = 0

    def new_user_id(self) -> str:
        """The next per-join id: every instance counts from 16778240 again."""
        self.user_ids += 1
        return ids.join_id(self.user_ids - 1)

    def open_connection(self, person: Participant) -> Connection | None:
        return next((c for c in self.connections if c.person == person and c.is_open), None)

    def assigned_room(self, person: Participant) -> str:
        """The room Zoom places this person in: pre-assigned email, signed in, in the app."""
        if person.web_client or not person.email:
            return ""
        return self.assignments.get(person.email.lower(), "")

    def breakout_email(self, person: Participant) -> str:
        if person.in_account or person.email.lower() in self.assignments:
            return person.email
        return ""

    def segments(self) -> list[tuple[Connection, Segment]]:
        """Every segment in the order Zoom numbered them."""
        pairs = [(connection, segment) for connection in self.connections for segment in connection.segments]
        return sorted(pairs, key=lambda pair: int(pair[1].user_id))

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

    def report_rows(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Rows of Get meeting participant reports: one per segment, room segments with `bo_mtg_id`."""
        processed = self.report_ready_at is None or now >= self.report_ready_at
        return [_report_row(connection, segment, processed) for connection, segment in self.segments()]

    def past_rows(self) -> list[dict[str, Any]]:
        """Rows of List past meeting participants: one per segment, without room ids."""
        return [_past_row(connection, segment) for connection, segment in self.segments()]


def _report_row(connection: Connection, segment: Segment, processed: bool) -> dict[str, Any]:
    person = connection.person
    # A captured room row had an empty `id` although its main-meeting rows had one: always so here.
    signed_in = "" if segment.room else person.shown_id()
    row: dict[str, Any] = {
        "id": signed_in,
        "user_id": segment.user_id,
        "participant_user_id": signed_in,
        "name": segment.name,
        "user_email": connection.shown_email(),
        "join_time": to_utc_text(segment.join_time),
        "leave_time": to_utc_text(segment.leave_time or segment.join_time),
        "duration": segment.seconds() if processed else 0,
        "registrant_id": connection.registrant_id,
        "failover": False,
        "status": "in_meeting",
        "customer_key": "",
    }
    if segment.room:
        row["bo_mtg_id"] = segment.bo_mtg_id
    return row


def _past_row(connection: Connection, segment: Segment) -> dict[str, Any]:
    person = connection.person
    return {
        "id": "" if segment.room else person.shown_id(),
        "name": segment.name,
        "user_id": segment.user_id,
        "user_email": connection.shown_email(),
        "join_time": to_utc_text(segment.join_time),
        "leave_time": to_utc_text(segment.leave_time or segment.join_time),
        "duration": segment.seconds(),
        "failover": False,
        "status": "in_meeting",
        "internal_user": person.in_account,
    }


class Simulation:
    """Instances by meeting and UUID; each change returns the event bodies Zoom would send, in the order
    they arrive: events of one instant are shuffled (seeded), as Zoom delivers them in either order."""

    def __init__(
        self,
        account_id: str,
        *,
        seed: int = 0,
        report_delay: dt.timedelta | None = None,
        registrant_emails_shown: bool = False,
    ):
        self.account_id = account_id
        self.report_delay = report_delay
        self.registrant_emails_shown = registrant_emails_shown
        self._rng = random.Random(seed)
        self._instances: dict[str, Instance] = {}
        self._by_meeting: dict[int, list[Instance]] = {}

    # -- changes -------------------------------------------------------------------------------

    def start(self, meeting: Meeting, at: dt.datetime) -> tuple[Instance, list[dict[str, Any]]]:
        if self.live(meeting.id) is not None:
            raise SandboxError(f"meeting {meeting.id} already has a live instance")
        if meeting.uuid in self._instances:
            raise SandboxError(f"meeting {meeting.id} already held instance {meeting.uuid}")
        instance = Instance(
            meeting_id=meeting.id,
            uuid=meeting.uuid,
            host_id=meeting.host["id"],
            topic=meeting.topic,
            type=meeting.type,
            timezone=meeting.timezone,
            duration=meeting.duration,
            start_time=_aware(at),
            assignments=_assignments(meeting),
        )
        self._instances[instance.uuid] = instance
        self._by_meeting.setdefault(meeting.id, []).append(instance)
        return instance, [self._event("meeting.started", at, instance.object())]

    def join(
        self,
        meeting_id: int,
        person: Participant,
        at: dt.datetime,
        *,
        registrant: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """A new connection; with the rooms open, Zoom places a pre-assigned person in their room at once.

        `registrant`: (registrant id, registered email) of the personal link the person joins through.
        """
        instance = self._require_live(meeting_id)
        at = _aware(at)
        if instance.open_connection(person) is not None:
            raise SandboxError(f"{person.name} is already in meeting {meeting_id}")
        serial = sum(1 for connection in instance.connections if connection.person == person)
        connection = Connection(person, ids.participant_uuid(instance.uuid, person.key, serial), person.name)
        if registrant is not None:
            connection.registrant_id = registrant[0]
            connection.registered_email = registrant[1] if self.registrant_emails_shown else ""
        connection.segments.append(Segment(instance.new_user_id(), at, person.name))
        instance.connections.append(connection)
        events = [self._main_event("meeting.participant_joined", instance, connection, at)]
        room = instance.assigned_room(person)
        if instance.rooms_open and room:
            events += self._move(instance, connection, at, room)
        return self._shuffled(events)

    def leave(
        self, meeting_id: int, person: Participant, at: dt.datetime, how: str = "left"
    ) -> list[dict[str, Any]]:
        """The connection ends (`how`: "left" or "disconnected"); from a room, no breakout leave is sent."""
        if how not in LEAVE_REASONS:
            raise SandboxError(f"leave how {how!r}: use {' or '.join(LEAVE_REASONS)}")
        instance = self._require_live(meeting_id)
        connection = self._require_connection(instance, person, "is not in meeting")
        connection.room_stay = None
        return [self._close_segment(instance, connection, _aware(at), LEAVE_REASONS[how])]

    def join_breakout(
        self, meeting_id: int, person: Participant, room: str, at: dt.datetime
    ) -> list[dict[str, Any]]:
        """The person picks a room (or moves to another one) while the host has the rooms open."""
        instance = self._require_live(meeting_id)
        connection = self._require_connection(instance, person, "must join meeting before a breakout room:")
        at = _aware(at)
        if not room:
            raise SandboxError("a breakout room needs a name")
        if not instance.rooms_open:
            raise SandboxError(
                f"the host has not opened the breakout rooms of meeting {meeting_id}: open_rooms()"
            )
        events = []
        if connection.room_stay is not None:
            if connection.room_stay.room == room:
                raise SandboxError(f"{person.name} is already in breakout room {room!r}")
            events.append(self._breakout_left(instance, connection, at))
        events += self._move(instance, connection, at, room)
        return self._shuffled(events)

    def leave_breakout(
        self, meeting_id: int, person: Participant, room: str, at: dt.datetime
    ) -> list[dict[str, Any]]:
        """The person goes back to the main meeting by themselves."""
        instance = self._require_live(meeting_id)
        connection = self._require_connection(instance, person, "is not in meeting")
        if connection.room_stay is None or connection.room_stay.room != room:
            raise SandboxError(f"{person.name} is not in breakout room {room!r} of meeting {meeting_id}")
        at = _aware(at)
        events = [self._breakout_left(instance, connection, at), *self._move(instance, connection, at, "")]
        return self._shuffled(events)

    def open_rooms(self, meeting_id: int, at: dt.datetime) -> list[dict[str, Any]]:
        """The host opens the rooms: Zoom places everyone whose pre-assignment applies."""
        instance = self._require_live(meeting_id)
        if instance.rooms_open:
            raise SandboxError(f"the breakout rooms of meeting {meeting_id} are already open")
        instance.rooms_open, instance.openings = True, instance.openings + 1
        at = _aware(at)
        events = []
        for connection in list(instance.connections):
            room = instance.assigned_room(connection.person)
            if connection.is_open and connection.room_stay is None and room:
                events += self._move(instance, connection, at, room)
        return self._shuffled(events)

    def close_rooms(self, meeting_id: int, at: dt.datetime) -> list[dict[str, Any]]:
        """The host closes the rooms: everyone moves back, and no breakout leave is sent."""
        instance = self._require_live(meeting_id)
        if not instance.rooms_open:
            raise SandboxError(f"the breakout rooms of meeting {meeting_id} are not open")
        instance.rooms_open = False
        at = _aware(at)
        events = []
        for connection in list(instance.connections):
            if connection.is_open and connection.room_stay is not None:
                events += self._move(instance, connection, at, "")
        return self._shuffled(events)

    def rename(self, meeting_id: int, person: Participant, name: str, at: dt.datetime) -> None:
        """The person renames themselves: Zoom sends nothing, later events carry the new name."""
        instance = self._require_live(meeting_id)
        connection = self._require_connection(instance, person, "is not in meeting")
        _aware(at)
        if not name.strip():
            raise SandboxError("a display name cannot be empty")
        connection.name = connection.segment.name = name

    def end(self, meeting_id: int, at: dt.datetime) -> list[dict[str, Any]]:
        """Everyone still connected gets `participant_left` (no breakout leaves), then `meeting.ended`."""
        instance = self._require_live(meeting_id)
        at = _aware(at)
        events = []
        for connection in instance.connections:
            if connection.is_open:
                connection.room_stay = None
                events.append(self._close_segment(instance, connection, at, HOST_ENDED))
        instance.end_time, instance.rooms_open = at, False
        if self.report_delay:
            instance.report_ready_at = at + self.report_delay
        events.append(self._event("meeting.ended", at, {**instance.object(), "end_time": to_utc_text(at)}))
        return self._shuffled(events)

    def process_reports(self, meeting_id: int) -> None:
        """Zoom has finished processing the reports of the meeting's ended instances."""
        for instance in self.ended(meeting_id):
            instance.report_ready_at = None

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

    def _require_connection(self, instance: Instance, person: Participant, problem: str) -> Connection:
        connection = instance.open_connection(person)
        if connection is None:
            raise SandboxError(f"{person.name} {problem} {instance.meeting_id}")
        return connection

    def _move(self, instance: Instance, connection: Connection, at: dt.datetime, room: str) -> list[dict]:
        """A room move: the segment ends and a new one begins under a new user_id (`room` "" = main)."""
        specific = TO_ROOM if room else TO_MAIN
        reason = specific if self._rng.random() < ROOM_REASON_SHARE else LEFT
        events = [self._close_segment(instance, connection, at, reason)]
        segment = Segment(instance.new_user_id(), at, connection.name, room=room)
        if room:
            segment.bo_mtg_id = ids.bo_mtg_id(instance.uuid, room, instance.openings)
        connection.segments.append(segment)
        events.append(self._main_event("meeting.participant_joined", instance, connection, at))
        connection.room_stay = None
        if room:
            stay = RoomStay(
                user_id=f"{segment.user_id}{at:%Y-%m-%d %H:%M:%S}:000",
                parent_user_id=segment.user_id,
                room=room,
                breakout_room_uuid=ids.breakout_room_uuid(instance.uuid, room, instance.openings),
            )
            connection.room_stay = stay
            name = "meeting.participant_joined_breakout_room"
            events.append(self._breakout_event(name, instance, connection, stay, at))
        return events

    def _close_segment(
        self, instance: Instance, connection: Connection, at: dt.datetime, reason: str
    ) -> dict[str, Any]:
        connection.segment.leave_time = at
        return self._main_event("meeting.participant_left", instance, connection, at, reason)

    def _breakout_left(self, instance: Instance, connection: Connection, at: dt.datetime) -> dict[str, Any]:
        stay = connection.room_stay
        if stay is None:
            raise SandboxError(f"{connection.name} is in no breakout room")
        connection.room_stay = None
        name = "meeting.participant_left_breakout_room"
        return self._breakout_event(name, instance, connection, stay, at, LEFT_ROOM)

    def _main_event(
        self, name: str, instance: Instance, connection: Connection, at: dt.datetime, reason: str = ""
    ) -> dict[str, Any]:
        person, segment = connection.person, connection.segment
        participant = {
            "user_id": segment.user_id,
            "user_name": connection.name,
            "id": person.shown_id(),
            "participant_uuid": connection.participant_uuid,
            **_moment(at, reason),
            "email": connection.shown_email(),
            "registrant_id": connection.registrant_id,
            "participant_user_id": person.shown_id(),
            "customer_key": "",
            "phone_number": "",
        }
        return self._event(name, at, {**instance.object(), "participant": participant})

    def _breakout_event(
        self,
        name: str,
        instance: Instance,
        connection: Connection,
        stay: RoomStay,
        at: dt.datetime,
        reason: str = "",
    ) -> dict[str, Any]:
        person = connection.person
        participant = {
            "user_id": stay.user_id,
            "parent_user_id": stay.parent_user_id,
            "user_name": connection.name,
            "id": person.shown_id(),
            "participant_uuid": connection.participant_uuid,
            **_moment(at, reason),
            "email": connection.registered_email or instance.breakout_email(person),
            "registrant_id": connection.registrant_id,
            "participant_user_id": person.shown_id(),
            "phone_number": "",
            "customer_key": "",
        }
        obj = {**instance.object(), "breakout_room_uuid": stay.breakout_room_uuid, "participant": participant}
        return self._event(name, at, obj)

    def _event(self, name: str, at: dt.datetime, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": name,
            "event_ts": int(_aware(at).timestamp() * 1000),
            "payload": {"account_id": self.account_id, "object": obj},
        }

    def _shuffled(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._rng.shuffle(events)
        return events


def _moment(at: dt.datetime, reason: str) -> dict[str, str]:
    """A join's `join_time`, or a leave's `leave_time` and `leave_reason`."""
    if reason:
        return {"leave_time": to_utc_text(at), "leave_reason": reason}
    return {"join_time": to_utc_text(at)}


def _assignments(meeting: Meeting) -> dict[str, str]:
    """Pre-assigned emails of the meeting's breakout rooms, as they stood when the instance started."""
    settings = meeting.settings.get("breakout_room") or {}
    if not settings.get("enable"):
        return {}
    return {
        email.lower(): room["name"]
        for room in settings.get("rooms", [])
        for email in room.get("participants", [])
    }


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise SandboxError(f"naive datetime {at!r}: pass aware UTC datetimes")
    return at.astimezone(dt.UTC).replace(microsecond=0)
