"""Who was where, from Zoom's join and leave edges: stays, the people they belong to, and their rooms.

Zoom accounts for a meeting by `user_id`, and a `user_id` means something only within one instance:
every instance counts from 16778240 again, so after a host ends and restarts the meeting the same ids
go to other people. Each device's connection gets a new `user_id` whenever it moves into a breakout room
or back. So:

- a main-meeting stay is keyed by (source, instance, user_id). A room move ends one stay and starts the
  next at the same instant, so presence, the union of main-meeting stays, never stops for it;
- a breakout-room stay (webhooks) only says where someone was. It ends no later than the main-meeting
  stay that covers its start, because Zoom sends no breakout leave when someone quits from a room or
  the host closes the rooms;
- a report row is one such segment of its own, a room segment carrying `bo_mtg_id`: in reports, every
  row's time is presence.

Stays that belong together form one person: the stays of one connection (`participant_uuid`), a
breakout stay and its parent (`parent_user_id`), and a report row and the webhook stay with the same
instance and `user_id` (reports and webhooks number segments alike: a captured report runs 16778240,
16779264, ... in the steps captured webhooks use), and stays that carry one registrant id (Zoom
registration: everyone who joins through a registrant's personal link carries its `registrant_id`, in
every instance and on every device). An identity seen on any stay of a person, such as the email on a
pre-assigned student's breakout event or a registrant id, speaks for all of them. New keys join the
chain in `_chain_keys`.

Pure: callers check the edges (aware times, known kinds) first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import attrgetter
from typing import Generic, Literal, TypeVar

from .matching import ZoomIdentity

Key = TypeVar("Key", bound=tuple | str)

Span = tuple[dt.datetime, dt.datetime]
WEBHOOK = "webhook"
# Events of one room move carry one time; a little slack covers a second of rounding between sources.
SAME_INSTANT = dt.timedelta(seconds=2)
# A webhook breakout stay and a report room row of the same person starting this close are one room visit.
SAME_VISIT = dt.timedelta(seconds=5)
_AT = attrgetter("at")


@dataclass(frozen=True, slots=True)
class Edge:
    """A join or a leave of one stay: a main-meeting `user_id`, a breakout-room stay, or a report row."""

    connection: str  # webhooks: Zoom's user_id (the breakout user_id for room events); reports: the row's
    source: str  # "webhook" | "report" | "past_participants"
    room: str  # "" = main meeting; webhooks: breakout_room_uuid; reports: bo_mtg_id
    kind: Literal["join", "leave"]
    at: dt.datetime  # aware UTC, the event's own time
    identity: ZoomIdentity
    instance: str = ""  # the meeting instance's uuid
    participant_uuid: str = ""  # one device's connection, across its room moves (webhooks)
    parent: str = ""  # breakout edges: the main-meeting user_id of the stay (parent_user_id)


@dataclass(frozen=True, slots=True)
class Stay:
    """One paired interval of one key (source, instance, connection, room)."""

    source: str
    instance: str
    connection: str
    room: str
    start: dt.datetime
    end: dt.datetime
    participant_uuid: str = ""
    parent: str = ""
    registrant_id: str = ""

    @property
    def span(self) -> Span:
        return (self.start, self.end)

    @property
    def is_presence(self) -> bool:
        """Main-meeting time, or any report row; a webhook breakout stay only says where."""
        return self.source != WEBHOOK or not self.room

    @property
    def is_breakout_event_stay(self) -> bool:
        return self.source == WEBHOOK and bool(self.room)


@dataclass
class Person:
    """Stays that belong to one person, and every identity Zoom showed on them (first seen when)."""

    stays: list[Stay] = field(default_factory=list)
    identities: dict[ZoomIdentity, dt.datetime] = field(default_factory=dict)

    def first_seen(self) -> tuple[dt.datetime, str, str]:
        first = min(self.stays, key=lambda stay: (stay.start, stay.source, stay.connection))
        return (first.start, first.source, first.connection)


class _Groups(Generic[Key]):
    """Union-find: keys joined together end up with one representative, the smallest of them."""

    def __init__(self) -> None:
        self._parents: dict[Key, Key] = {}

    def find(self, key: Key) -> Key:
        self._parents.setdefault(key, key)
        while self._parents[key] != key:
            self._parents[key] = self._parents[self._parents[key]]
            key = self._parents[key]
        return key

    def join(self, one: Key, other: Key) -> None:
        first, second = self.find(one), self.find(other)
        if first != second:
            self._parents[max(first, second)] = min(first, second)

    def keys(self) -> list[Key]:
        return list(self._parents)


@dataclass
class _Keyed:
    """The edges of one key, before pairing."""

    edges: list[Edge] = field(default_factory=list)

    def attribute(self, name: str) -> str:
        return next((value for edge in self.edges if (value := getattr(edge, name))), "")

    def registrant_id(self) -> str:
        return next((value for edge in self.edges if (value := edge.identity.registrant_id)), "")


def pair(edges: Sequence[Edge], close_at: dt.datetime) -> list[Span]:
    """Pair one key's edges in time order into intervals.

    A join opens (a second join while open keeps the earlier one), a leave closes, a leave with nothing
    open is ignored, a stay still open at the end closes at `close_at` (or at its own join when that is
    later). Edges at one instant are taken together so arrival order cannot matter: while open, a leave
    and a join at one instant are a reconnect (close, reopen); while closed, they are an instant stay.
    """
    if len(edges) == 2:  # most stays: one join, one leave later (what the loop below makes of them)
        first, second = sorted(edges, key=_AT)
        if first.kind == "join" and second.kind == "leave" and first.at < second.at:
            return [(first.at, second.at)]
    spans: list[Span] = []
    opened: dt.datetime | None = None
    for at, same_instant in groupby(sorted(edges, key=_AT), key=_AT):
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


def people(
    edges: Iterable[Edge], *, close_at: dt.datetime, instance_ends: Mapping[str, dt.datetime]
) -> list[Person]:
    """The people the edges describe, each with their stays, ordered by when they were first seen.

    A stay still open closes when its instance ended (`instance_ends`, else before the next instance
    began), else at `close_at`.
    """
    keyed = _keyed(edges)
    closes = _close_times(keyed, close_at, instance_ends)
    stays: list[tuple[Stay, _Keyed]] = []
    for (source, instance, connection, room), group in sorted(keyed.items()):
        for start, end in pair(group.edges, closes[instance]):
            stay = Stay(
                source,
                instance,
                connection,
                room,
                start,
                end,
                participant_uuid=group.attribute("participant_uuid"),
                parent=group.attribute("parent"),
                registrant_id=group.registrant_id(),
            )
            stays.append((stay, group))
    return _chained(_clip_breakout_stays(stays))


def room_aliases(persons: Iterable[Person]) -> dict[str, str]:
    """One name for each room that webhooks and reports call by different ids.

    What the evidence shows: Zoom's spec calls `bo_mtg_id` "the breakout room ID. Each breakout room is
    assigned a unique ID"; a captured report shows it as a base64 id ("C0Vqcg+k7BWzcIf2vU7Phg==")
    shared by everyone in that room; the webhook typings name the room `breakout_room_uuid`; no capture
    shows both ids for one room, so whether they are equal is unknown (in the sandbox they differ, the
    harsher case). A person's breakout stay and report room row that start together are one visit, so
    their ids are one room. The name is the smallest id.
    """
    rooms: _Groups[str] = _Groups()
    for person in persons:
        hooks = [stay for stay in person.stays if stay.is_breakout_event_stay]
        rows = [stay for stay in person.stays if stay.room and stay.source != WEBHOOK]
        for hook in hooks:
            for row in rows:
                if hook.instance == row.instance and abs(hook.start - row.start) <= SAME_VISIT:
                    rooms.join(hook.room, row.room)
    return {room: rooms.find(room) for room in rooms.keys()}


def _keyed(edges: Iterable[Edge]) -> dict[tuple[str, str, str, str], _Keyed]:
    keyed: dict[tuple[str, str, str, str], _Keyed] = defaultdict(_Keyed)
    for edge in edges:
        keyed[(edge.source, edge.instance, edge.connection, edge.room)].edges.append(edge)
    return keyed


def _close_times(
    keyed: Mapping[tuple[str, str, str, str], _Keyed],
    close_at: dt.datetime,
    instance_ends: Mapping[str, dt.datetime],
) -> dict[str, dt.datetime]:
    """When each instance's open stays close: its end, never after the next instance's first event
    (one meeting has one live instance at a time), else `close_at`."""
    first: dict[str, dt.datetime] = {}
    for (_, instance, _, _), group in keyed.items():
        earliest = min(edge.at for edge in group.edges)
        first[instance] = min(first.get(instance, earliest), earliest)
    ordered = sorted(first, key=lambda instance: (first[instance], instance))
    closes: dict[str, dt.datetime] = {}
    for position, instance in enumerate(ordered):
        close = instance_ends.get(instance, close_at)
        later = [
            first[other]
            for other in ordered[position + 1 :]
            if instance and other and first[other] > first[instance]
        ]
        closes[instance] = min([close, *later[:1]])
    return closes


def _clip_breakout_stays(stays: list[tuple[Stay, _Keyed]]) -> list[tuple[Stay, _Keyed]]:
    """End each webhook breakout stay no later than the main-meeting stay covering its start.

    The covering stay is one of the same connection (participant_uuid) or the parent itself, which
    started by then and had not ended. When that connection's main stays are known but none covers the
    start, the breakout stay is dropped; when none are known (lost deliveries), it is kept as it is.
    """
    by_connection: dict[tuple[str, str], list[Stay]] = defaultdict(list)
    by_user_id: dict[tuple[str, str], list[Stay]] = defaultdict(list)
    for stay, _ in stays:
        if stay.source == WEBHOOK and not stay.room:
            by_user_id[(stay.instance, stay.connection)].append(stay)
            if stay.participant_uuid:
                by_connection[(stay.instance, stay.participant_uuid)].append(stay)
    clipped = []
    for stay, group in stays:
        if not stay.is_breakout_event_stay:
            clipped.append((stay, group))
            continue
        mains = (
            list(by_connection.get((stay.instance, stay.participant_uuid), []))
            if stay.participant_uuid
            else []
        )
        mains += by_user_id.get((stay.instance, stay.parent), []) if stay.parent else []
        if not mains:
            clipped.append((stay, group))
            continue
        covering = [
            main for main in mains if main.start <= stay.start + SAME_INSTANT and main.end > stay.start
        ]
        if covering:
            cover = max(covering, key=lambda main: main.start)
            clipped.append((replace(stay, end=max(stay.start, min(stay.end, cover.end))), group))
    return clipped


def _chain_keys(stay: Stay) -> list[tuple[str, ...]]:
    """What ties a stay to the others of its person (add a key here to extend the chain)."""
    keys: list[tuple[str, ...]] = [("stay", stay.source, stay.instance, stay.connection, stay.room)]
    if stay.is_breakout_event_stay:
        if stay.parent:
            keys.append(("user", stay.instance, stay.parent))
    else:
        keys.append(("user", stay.instance, stay.connection))
    if stay.participant_uuid:
        keys.append(("connection", stay.instance, stay.participant_uuid))
    if stay.registrant_id:
        # One personal link is one person across instances and devices (`registrant_id` is issued per
        # meeting registration, not per connection).
        keys.append(("registrant", stay.registrant_id))
    return keys


def _chained(stays: list[tuple[Stay, _Keyed]]) -> list[Person]:
    """Stays joined by any shared key are one person's."""
    chains: _Groups[tuple[str, ...]] = _Groups()
    owns = []
    for stay, _ in stays:
        own, *others = _chain_keys(stay)
        owns.append(own)
        chains.find(own)
        for other in others:
            chains.join(own, other)
    persons: dict[tuple[str, ...], Person] = defaultdict(Person)
    for own, (stay, group) in zip(owns, stays, strict=True):
        person = persons[chains.find(own)]
        person.stays.append(stay)
        for edge in group.edges:
            seen = person.identities.get(edge.identity)
            person.identities[edge.identity] = edge.at if seen is None else min(seen, edge.at)
    for person in persons.values():
        person.stays.sort(key=lambda stay: (stay.start, stay.source, stay.connection, stay.room))
    return sorted(persons.values(), key=Person.first_seen)
