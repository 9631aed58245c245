"""Attendance per student and session, from Zoom's join and leave edges.

Edges come from webhooks and from Zoom's reports, possibly twice, out of order, or with a leave lost.
Each device's stay (a connection) is paired into intervals per source and room; a student's minutes are
the union of every interval matched to them, so duplicates, reconnects and second devices count once.
Only the events' own times matter: never the clock, never the order of arrival.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from fractions import Fraction
from itertools import groupby
from typing import Literal

from .matching import Match, RosterIndex, ZoomIdentity, candidates, identity_key, match
from .models import AttendanceConfig, Status

Span = tuple[dt.datetime, dt.datetime]

REASON_OTHER_SESSION = "student of another session"
REASON_AMBIGUOUS = "display name shared by several students of this session"
REASON_NO_MATCH = "no email, alias, confirmed mapping or unique name matched"

# When one connection carries several identities (a leave without the email its join had), the
# identity a stricter rule matched decides who the stay belongs to.
_RULE_RANK = {"email": 0, "alias": 1, "confirmed": 2, "name": 3, "ignored": 4, "unmatched": 5}
_MICROSECONDS_PER_MINUTE = 60_000_000
CANDIDATE_LIMIT = 3


class AttendanceError(ValueError):
    """Impossible input for an attendance computation (naive datetimes, an empty window, ...)."""


@dataclass(frozen=True)
class Edge:
    """A join or a leave of one device's stay (`connection`) in the main meeting or a breakout room."""

    connection: str  # Zoom's per-join user_id or participant_uuid, or a report row id
    source: str  # "webhook" | "report" | "past_participants"
    room: str  # "" = main meeting, else the breakout room's uuid
    kind: Literal["join", "leave"]
    at: dt.datetime  # aware UTC, the event's own time
    identity: ZoomIdentity


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
    """A Zoom identity no rule tied to a member, with students a rep may pick from, best first."""

    ident: str
    identity: ZoomIdentity
    minutes: int
    first_join: dt.datetime | None
    candidates: tuple[int, ...]
    reason: str


@dataclass(frozen=True)
class SessionAttendance:
    """Records ordered by (group, student_id); unmatched participants ordered by first join."""

    records: tuple[AttendanceRecord, ...]
    unmatched: tuple[UnmatchedParticipant, ...]


@dataclass(frozen=True)
class _Stay:
    room: str
    start: dt.datetime
    end: dt.datetime

    @property
    def span(self) -> Span:
        return (self.start, self.end)


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
    stays: list[_Stay]
    other_students: set[int]


def intervals(edges: Iterable[Edge], *, close_at: dt.datetime) -> list[Span]:
    """Pair edges per (source, connection, room) into (join, leave) intervals, sorted.

    In time order a join opens (a second join while open keeps the earlier one), a leave closes, a leave
    with nothing open is ignored, and a stay still open at the end closes at `close_at` (or at its own
    join when that is later). Raises AttendanceError for a naive time or an unknown edge kind.
    """
    _check_aware(close_at=close_at)
    return sorted(stay.span for stay in _stays(_checked(edges), close_at))


def _stays(edges: Sequence[Edge], close_at: dt.datetime) -> list[_Stay]:
    by_key: dict[tuple[str, str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        by_key[(edge.source, edge.connection, edge.room)].append(edge)
    return [
        _Stay(room, start, end)
        for (_, _, room), keyed in by_key.items()
        for start, end in _pair(keyed, close_at)
    ]


def _pair(edges: list[Edge], close_at: dt.datetime) -> list[Span]:
    """Pair one connection's edges in one room.

    Edges at the same instant are taken together so arrival order cannot matter: while open, a leave
    and a join at one instant are a reconnect (close, reopen); while closed, they are an instant stay.
    """
    spans: list[Span] = []
    opened: dt.datetime | None = None
    for at, same_instant in groupby(sorted(edges, key=lambda edge: edge.at), key=lambda edge: edge.at):
        kinds = {edge.kind for edge in same_instant}
        if opened is not None and "leave" in kinds:
            spans.append((opened, at))
            opened = at if "join" in kinds else None
        elif opened is None and "join" in kinds:
            opened = at
            if "leave" in kinds:
                spans.append((at, at))
                opened = None
    if opened is not None:
        spans.append((opened, max(opened, close_at)))
    return spans


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
) -> SessionAttendance:
    """Attendance of every member over the window [start, end), and the participants left unmatched.

    Open stays close at `ended_at` (when Zoom said the meeting ended) or else at `end`. Overrides are keyed
    by student id. Raises AttendanceError for naive times, an empty window or a member listed twice.
    """
    _check_aware(start=start, end=end, ended_at=ended_at)
    if end <= start:
        raise AttendanceError(f"session window is empty: it ends at {end} but starts at {start}")
    groups = _member_groups(members)
    window = _Window(start, end)
    close_at = ended_at if ended_at is not None else end
    member_stays, unmatched = _assign(_checked(edges), close_at, index, groups)
    rooms = _assigned_rooms(member_stays, groups, window)
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
    edges: list[Edge], close_at: dt.datetime, index: RosterIndex, groups: Mapping[int, int]
) -> tuple[dict[int, list[_Stay]], dict[str, _Unmatched]]:
    """Give each connection's stays to the member it matches, or to an unmatched identity."""
    by_connection: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        by_connection[(edge.source, edge.connection)].append(edge)
    matches: dict[ZoomIdentity, Match] = {}
    member_stays: dict[int, list[_Stay]] = defaultdict(list)
    unmatched: dict[str, _Unmatched] = {}
    # Earliest connections first, so an unmatched identity is shown as it first appeared.
    for connection_edges in sorted(by_connection.values(), key=_first_edge_key):
        owner, identity = _owner(connection_edges, index, groups, matches)
        stays = _stays(connection_edges, close_at)
        if owner.student_id in groups:
            member_stays[owner.student_id].extend(stays)
        elif owner.rule != "ignored":
            entry = unmatched.setdefault(identity_key(identity), _Unmatched(identity, [], set()))
            entry.stays.extend(stays)
            if owner.student_id is not None:
                entry.other_students.add(owner.student_id)
    return member_stays, unmatched


def _first_edge_key(edges: list[Edge]) -> tuple[dt.datetime, str, str]:
    first = min(edges, key=lambda edge: edge.at)
    return (first.at, first.source, first.connection)


def _owner(
    edges: list[Edge], index: RosterIndex, groups: Mapping[int, int], matches: dict[ZoomIdentity, Match]
) -> tuple[Match, ZoomIdentity]:
    """Who a connection's stays belong to: the strictest rule, then the fullest identity."""
    first_seen: dict[ZoomIdentity, dt.datetime] = {}
    for edge in edges:
        seen = first_seen.get(edge.identity)
        first_seen[edge.identity] = edge.at if seen is None else min(seen, edge.at)
    for identity in first_seen:
        if identity not in matches:
            matches[identity] = match(identity, index, groups.keys())

    def rank(identity: ZoomIdentity) -> tuple:
        specificity = 0 if identity.zoom_user_id else 1 if identity.email else 2
        return (_RULE_RANK[matches[identity].rule], specificity, first_seen[identity], astuple(identity))

    best = min(first_seen, key=rank)
    return matches[best], best


def _record(
    student_id: int,
    group: int,
    stays: list[_Stay],
    window: _Window,
    config: AttendanceConfig,
    rooms: Mapping[int, bool],
    overrides: Mapping[int, Override],
) -> AttendanceRecord:
    spans = [stay.span for stay in stays if window.touches(stay.span)]
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


def _assigned_rooms(
    member_stays: Mapping[int, list[_Stay]], groups: Mapping[int, int], window: _Window
) -> dict[int, bool]:
    """Whether each member with breakout time spent most of it in the room most of their group used.

    Zoom names rooms only by uuid, so a group's room is inferred: the room most of its members have as
    their dominant room (ties: most seconds of the group there, then the smallest uuid).
    """
    room_time = {
        student_id: seconds
        for student_id, stays in member_stays.items()
        if (seconds := _room_time(stays, window))
    }
    dominant = {student_id: _top(seconds) for student_id, seconds in room_time.items()}
    by_group: dict[int, list[int]] = defaultdict(list)
    for student_id in dominant:
        by_group[groups[student_id]].append(student_id)
    assigned: dict[int, bool] = {}
    for student_ids in by_group.values():
        votes = Counter(dominant[student_id] for student_id in student_ids)
        totals: dict[str, dt.timedelta] = defaultdict(dt.timedelta)
        for student_id in student_ids:
            for room, seconds in room_time[student_id].items():
                totals[room] += seconds
        group_room = min(votes, key=lambda room: (-votes[room], -totals[room], room))
        assigned.update((student_id, dominant[student_id] == group_room) for student_id in student_ids)
    return assigned


def _room_time(stays: Iterable[_Stay], window: _Window) -> dict[str, dt.timedelta]:
    """Time in each breakout room inside the window, devices and sources counted once."""
    by_room: dict[str, list[Span]] = defaultdict(list)
    for stay in stays:
        clipped = window.clip(stay.span)
        if stay.room and clipped:
            by_room[stay.room].append(clipped)
    return {room: _union_length(spans) for room, spans in by_room.items()}


def _top(seconds: Mapping[str, dt.timedelta]) -> str:
    return min(seconds, key=lambda room: (-seconds[room], room))


def _unmatched_participants(
    unmatched: Mapping[str, _Unmatched], window: _Window, index: RosterIndex, groups: Mapping[int, int]
) -> tuple[UnmatchedParticipant, ...]:
    session_students = [
        index.students[student_id] for student_id in sorted(groups) if student_id in index.students
    ]
    participants = []
    for ident, entry in unmatched.items():
        spans = [stay.span for stay in entry.stays if window.touches(stay.span)]
        if not spans:
            continue  # present only outside this session's window: not part of it
        others = tuple(sorted(entry.other_students))
        likely = [sid for sid in candidates(entry.identity, session_students) if sid not in others]
        participants.append(
            UnmatchedParticipant(
                ident=ident,
                identity=entry.identity,
                minutes=_minutes(spans, window),
                first_join=min(span[0] for span in spans),
                candidates=(*others, *likely)[:CANDIDATE_LIMIT],
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
