"""Attendance per student and session, from Zoom's join and leave edges.

Edges come from webhooks and from Zoom's reports, possibly twice, out of order, or with a leave lost.
`presence` turns them into people and their stays (see there for what Zoom's ids mean); here a person is
matched to a student, and a student's minutes are the union of the presence of every person matched to
them, so duplicates, reconnects, room moves, second devices and both sources count once. Only the
events' own times matter: never the clock, never the order of arrival.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import astuple, dataclass
from fractions import Fraction
from typing import Literal

from .matching import Match, RosterIndex, ZoomIdentity, identity_key, match
from .models import AttendanceConfig, Status
from .presence import Edge, Person, Span, Stay, pair, people, room_aliases

__all__ = [
    "AttendanceError",
    "AttendanceRecord",
    "Edge",
    "Member",
    "Override",
    "SessionAttendance",
    "UnmatchedParticipant",
    "ZoomIdentity",
    "compute_session",
    "intervals",
]

REASON_OTHER_SESSION = "student of another session"
REASON_AMBIGUOUS = "display name shared by several students of this session"
REASON_NO_MATCH = "no email, alias, confirmed mapping or unique name matched"

# When one person carries several identities (a leave without the email its join had, a rename, a
# breakout event with the pre-assigned email, a personal link's registrant id), the identity a stricter
# rule matched decides who it is.
_RULE_RANK = {
    "registrant": 0,
    "email": 1,
    "alias": 2,
    "confirmed": 3,
    "name": 4,
    "ignored": 5,
    "unmatched": 6,
}
_MICROSECONDS_PER_MINUTE = 60_000_000


class AttendanceError(ValueError):
    """Impossible input for an attendance computation (naive datetimes, an empty window, ...)."""


@dataclass(frozen=True)
class Member:
    """A student expected at the session, with their group."""

    student_id: int
    group: int


@dataclass(frozen=True)
class Override:
    """A rep's decision that replaces the computed status."""

    status: Literal["excused", "present"]
    note: str
    set_by: str
    set_at: dt.datetime


@dataclass(frozen=True)
class AttendanceRecord:
    """One member's attendance; `status` is the override's when there is one, else `computed_status`."""

    student_id: int
    group: int
    status: Status
    computed_status: Status
    minutes: int
    first_join: dt.datetime | None
    last_leave: dt.datetime | None
    in_assigned_room: bool | None
    override: Override | None


@dataclass(frozen=True)
class UnmatchedParticipant:
    """A Zoom identity no rule tied to a member. `matched_elsewhere`: the students it is (matched by a
    rule, but not expected here), the likeliest picks for a rep; `matching.Suggestions` proposes more
    when a page shows the participant, outside this computation."""

    ident: str
    identity: ZoomIdentity
    minutes: int
    first_join: dt.datetime | None
    matched_elsewhere: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class SessionAttendance:
    """Records ordered by (group, student_id); unmatched participants ordered by first join."""

    records: tuple[AttendanceRecord, ...]
    unmatched: tuple[UnmatchedParticipant, ...]


@dataclass(frozen=True)
class _Window:
    start: dt.datetime
    end: dt.datetime

    def clip(self, span: Span) -> Span | None:
        """The part of the span inside [start, end), or None when there is none."""
        start, end = max(span[0], self.start), min(span[1], self.end)
        return (start, end) if start < end else None

    def touches(self, span: Span) -> bool:
        """Whether the stay happened in the window; an instant stay counts when strictly inside it."""
        return span[0] < self.end and span[1] > self.start


@dataclass
class _Unmatched:
    identity: ZoomIdentity
    stays: list[Stay]
    other_students: set[int]


def intervals(edges: Iterable[Edge], *, close_at: dt.datetime) -> list[Span]:
    """Pair edges per (source, instance, connection, room) into (join, leave) intervals, sorted.

    See `presence.pair` for the rules. Raises AttendanceError for a naive time or an unknown edge kind.
    """
    _check_aware(close_at=close_at)
    keyed: dict[tuple[str, str, str, str], list[Edge]] = defaultdict(list)
    for edge in _checked(edges):
        keyed[(edge.source, edge.instance, edge.connection, edge.room)].append(edge)
    return sorted(span for group in keyed.values() for span in pair(group, close_at))


def compute_session(
    *,
    start: dt.datetime,
    end: dt.datetime,
    ended_at: dt.datetime | None,
    members: Collection[Member],
    edges: Iterable[Edge],
    index: RosterIndex,
    overrides: Mapping[int, Override],
    config: AttendanceConfig,
    instance_ends: Mapping[str, dt.datetime] | None = None,
) -> SessionAttendance:
    """Attendance of every member over the window [start, end), and the participants left unmatched.

    Open stays close when their instance ended (`instance_ends`, by instance uuid), else at `ended_at`
    (when Zoom said the meeting ended) or else at `end`. Overrides are keyed by student id. Raises
    AttendanceError for naive times, an empty window or a member listed twice.
    """
    ends = dict(instance_ends or {})
    _check_aware(
        start=start, end=end, ended_at=ended_at, **{f"end of instance {k!r}": v for k, v in ends.items()}
    )
    if end <= start:
        raise AttendanceError(f"session window is empty: it ends at {end} but starts at {start}")
    groups = _member_groups(members)
    window = _Window(start, end)
    close_at = ended_at if ended_at is not None else end
    persons = people(_checked(edges), close_at=close_at, instance_ends=ends)
    member_stays, unmatched = _assign(persons, index, groups)
    rooms = _assigned_rooms(member_stays, groups, window, room_aliases(persons))
    records = tuple(
        _record(student_id, group, member_stays.get(student_id, []), window, config, rooms, overrides)
        for student_id, group in sorted(groups.items(), key=lambda item: (item[1], item[0]))
    )
    return SessionAttendance(records, _unmatched_participants(unmatched, window, index, groups))


def _check_aware(**moments: dt.datetime | None) -> None:
    for label, moment in moments.items():
        if moment is not None and moment.tzinfo is None:
            raise AttendanceError(f"{label} is a naive datetime ({moment}); attendance needs aware UTC times")


def _checked(edges: Iterable[Edge]) -> list[Edge]:
    checked = list(edges)
    for edge in checked:
        if edge.kind not in ("join", "leave"):
            raise AttendanceError(f"edge of connection {edge.connection!r} has unknown kind {edge.kind!r}")
        if edge.at.tzinfo is None:
            _check_aware(**{f"the time of an edge of connection {edge.connection!r}": edge.at})
    return checked


def _member_groups(members: Collection[Member]) -> dict[int, int]:
    groups: dict[int, int] = {}
    for member in members:
        if member.student_id in groups:
            raise AttendanceError(f"student {member.student_id} is listed twice among the session's members")
        groups[member.student_id] = member.group
    return groups


def _assign(
    persons: list[Person], index: RosterIndex, groups: Mapping[int, int]
) -> tuple[dict[int, list[Stay]], dict[str, _Unmatched]]:
    """Give each person's stays to the member they match, or to an unmatched identity.

    Persons come earliest first, so an unmatched identity is shown as it first appeared.
    """
    matches: dict[ZoomIdentity, Match] = {}
    member_stays: dict[int, list[Stay]] = defaultdict(list)
    unmatched: dict[str, _Unmatched] = {}
    for person in persons:
        owner, identity = _owner(person.identities, index, groups, matches)
        if owner.student_id in groups:
            member_stays[owner.student_id].extend(person.stays)
        elif owner.rule != "ignored":
            entry = unmatched.setdefault(identity_key(identity), _Unmatched(identity, [], set()))
            entry.stays.extend(person.stays)
            if owner.student_id is not None:
                entry.other_students.add(owner.student_id)
    return member_stays, unmatched


def _owner(
    first_seen: Mapping[ZoomIdentity, dt.datetime],
    index: RosterIndex,
    groups: Mapping[int, int],
    matches: dict[ZoomIdentity, Match],
) -> tuple[Match, ZoomIdentity]:
    """Who a person is: the identity the strictest rule matched, then the fullest, then the first seen."""
    for identity in first_seen:
        if identity not in matches:
            matches[identity] = match(identity, index, groups.keys())
    if len(first_seen) == 1:
        (only,) = first_seen
        return matches[only], only

    def rank(identity: ZoomIdentity) -> tuple:
        specificity = (
            0 if identity.registrant_id else 1 if identity.zoom_user_id else 2 if identity.email else 3
        )
        return (_RULE_RANK[matches[identity].rule], specificity, first_seen[identity], astuple(identity))

    best = min(first_seen, key=rank)
    return matches[best], best


def _record(
    student_id: int,
    group: int,
    stays: list[Stay],
    window: _Window,
    config: AttendanceConfig,
    rooms: Mapping[int, bool],
    overrides: Mapping[int, Override],
) -> AttendanceRecord:
    spans = [stay.span for stay in stays if stay.is_presence and window.touches(stay.span)]
    minutes = _minutes(spans, window)
    first_join = min((span[0] for span in spans), default=None)
    computed = _status(minutes, first_join, window, config)
    override = overrides.get(student_id)
    return AttendanceRecord(
        student_id=student_id,
        group=group,
        status=override.status if override else computed,
        computed_status=computed,
        minutes=minutes,
        first_join=first_join,
        last_leave=max((span[1] for span in spans), default=None),
        in_assigned_room=rooms.get(student_id),
        override=override,
    )


def _status(
    minutes: int, first_join: dt.datetime | None, window: _Window, config: AttendanceConfig
) -> Status:
    if first_join is None:
        return "absent"
    session_minutes = Fraction(
        (window.end - window.start) // dt.timedelta(microseconds=1), _MICROSECONDS_PER_MINUTE
    )
    # Fraction(str(...)) takes the fraction as the admin wrote it: 0.1 * 30 must be 3, not 3.0000000000000004.
    if minutes < Fraction(str(config.present_fraction)) * session_minutes:
        return "partial"
    if first_join > window.start + dt.timedelta(minutes=config.late_after_minutes):
        return "late"
    return "present"


def _minutes(spans: Iterable[Span], window: _Window) -> int:
    """Whole minutes covered by the union of the spans inside the window, half a minute rounding up."""
    covered = _union_length(clipped for span in spans if (clipped := window.clip(span)))
    microseconds = covered // dt.timedelta(microseconds=1)
    return (microseconds + _MICROSECONDS_PER_MINUTE // 2) // _MICROSECONDS_PER_MINUTE


def _union_length(spans: Iterable[Span]) -> dt.timedelta:
    total = dt.timedelta(0)
    current: Span | None = None
    for start, end in sorted(spans):
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            total += current[1] - current[0]
        current = (start, end)
    if current is not None:
        total += current[1] - current[0]
    return total


Room = tuple[str, str]  # (instance uuid, room id): a restarted meeting's rooms have new ids
_GROUP_ROOM: Room = ("", "")  # stands for "the room of the student's group" in `_assigned_rooms`


def _assigned_rooms(
    member_stays: Mapping[int, list[Stay]],
    groups: Mapping[int, int],
    window: _Window,
    aliases: Mapping[str, str],
) -> dict[int, bool]:
    """Whether each member with breakout time spent most of it in the room most of their group used.

    Zoom names rooms only by ids (webhooks and reports by different ones, see `room_aliases`; new ones
    in every instance) and nothing maps an id to "Breakout Room N", so a group's room is inferred, per
    instance: the room most of its members have as their dominant room there (ties: most seconds of the
    group there, then the smallest id). A member is in their room when more of their room time was in
    their group's rooms than in any other one.
    """
    room_time = {
        student_id: seconds
        for student_id, stays in member_stays.items()
        if (seconds := _room_time(stays, window, aliases))
    }
    group_rooms = _group_rooms(room_time, groups)
    assigned: dict[int, bool] = {}
    for student_id, seconds in room_time.items():
        labelled: dict[Room, dt.timedelta] = defaultdict(dt.timedelta)
        for room, spent in seconds.items():
            labelled[_GROUP_ROOM if room in group_rooms[groups[student_id]] else room] += spent
        assigned[student_id] = _top(labelled) == _GROUP_ROOM
    return assigned


def _group_rooms(
    room_time: Mapping[int, Mapping[Room, dt.timedelta]], groups: Mapping[int, int]
) -> dict[int, set[Room]]:
    """Each group's inferred room in each instance."""
    votes: dict[tuple[int, str], Counter[Room]] = defaultdict(Counter)
    totals: dict[tuple[int, str], dict[Room, dt.timedelta]] = defaultdict(lambda: defaultdict(dt.timedelta))
    for student_id, seconds in room_time.items():
        by_instance: dict[str, dict[Room, dt.timedelta]] = defaultdict(dict)
        for room, spent in seconds.items():
            by_instance[room[0]][room] = spent
            totals[(groups[student_id], room[0])][room] += spent
        for instance, rooms in by_instance.items():
            votes[(groups[student_id], instance)][_top(rooms)] += 1
    chosen: dict[int, set[Room]] = defaultdict(set)
    for (group, instance), counted in votes.items():
        spent = totals[(group, instance)]
        chosen[group].add(min(counted, key=lambda room: (-counted[room], -spent[room], room)))
    return chosen


def _room_time(
    stays: Iterable[Stay], window: _Window, aliases: Mapping[str, str]
) -> dict[Room, dt.timedelta]:
    """Time in each breakout room inside the window, devices and sources counted once."""
    by_room: dict[Room, list[Span]] = defaultdict(list)
    for stay in stays:
        clipped = window.clip(stay.span)
        if stay.room and clipped:
            by_room[(stay.instance, aliases.get(stay.room, stay.room))].append(clipped)
    return {room: _union_length(spans) for room, spans in by_room.items()}


def _top(seconds: Mapping[Room, dt.timedelta]) -> Room:
    return min(seconds, key=lambda room: (-seconds[room], room))


def _unmatched_participants(
    unmatched: Mapping[str, _Unmatched], window: _Window, index: RosterIndex, groups: Mapping[int, int]
) -> tuple[UnmatchedParticipant, ...]:
    participants = []
    for ident, entry in unmatched.items():
        spans = [stay.span for stay in entry.stays if stay.is_presence and window.touches(stay.span)]
        if not spans:
            continue  # present only outside this session's window: not part of it
        participants.append(
            UnmatchedParticipant(
                ident=ident,
                identity=entry.identity,
                minutes=_minutes(spans, window),
                first_join=min(span[0] for span in spans),
                matched_elsewhere=tuple(sorted(entry.other_students)),
                reason=_reason(entry, index, groups),
            )
        )
    return tuple(sorted(participants, key=lambda participant: (participant.first_join, participant.ident)))


def _reason(entry: _Unmatched, index: RosterIndex, groups: Mapping[int, int]) -> str:
    if entry.other_students:
        return REASON_OTHER_SESSION
    if len([sid for sid in index.students_named(entry.identity.name) if sid in groups]) > 1:
        return REASON_AMBIGUOUS
    return REASON_NO_MATCH
