"""A realistic Wednesday, as a timed script of what people and hosts do in Zoom. Pure and seeded.

Students join (a few early, most on time, some late: straight into their room), the host opens the
breakout rooms (Zoom places students signed in to the app with their school email; guests and browser
users pick their room), people drop and rejoin, quit Zoom from their room, go back to the main meeting by
themselves, leave early or never come; one sits in the wrong room; the host closes the rooms before the
end. Some students join under a nickname (their roster alias), as "<name>'s iPad" signed in with their
school email, from a browser, or as a phone guest who renames themselves. A guest with an unknown name
wanders in; a few deliveries arrive twice; one module's host ends the meeting by mistake and restarts it.
In Mix It Up weeks the homeroom ends at 13:30 and everyone moves to the Mix It Up meeting and its rooms.

`intended_attendance` says, from the script's own actions, what each student's record should be.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from ..core.models import Student

ActionKind = Literal[
    "start", "join", "leave", "join_breakout", "leave_breakout", "open_rooms", "close_rooms", "rename", "end"
]
MINUTE = dt.timedelta(minutes=1)
Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Person:
    """Who Zoom sees: the Zoom sign-in (email, "" for a guest), the display name, the app they use."""

    name: str
    email: str = ""
    web_client: bool = False


@dataclass(frozen=True, order=True)
class Action:
    at: dt.datetime
    order: int  # keeps same-instant actions in script order
    kind: ActionKind = field(compare=False)
    meeting: str = field(compare=False)  # the meeting plan's key
    person: Person | None = field(default=None, compare=False)
    room: str = field(default="", compare=False)
    duplicate: bool = field(default=False, compare=False)
    how: str = field(default="left", compare=False)  # leave: "left" | "disconnected"
    name: str = field(default="", compare=False)  # rename: the new display name
    student: int | None = field(default=None, compare=False)  # whom the script means


@dataclass(frozen=True)
class MeetingPlan:
    """One meeting of the day: its window and the rooms people should sit in."""

    key: str
    start: dt.datetime  # aware UTC
    end: dt.datetime
    rooms: dict[int, str]  # student id -> breakout room name
    students: Sequence[Student]


@dataclass(frozen=True)
class Intended:
    """What the script meant for one student in one meeting."""

    status: str
    minutes: int
    in_assigned_room: bool | None


@dataclass(frozen=True)
class _Style:
    """How a student shows up in Zoom all day."""

    kind: Literal["app", "device", "web", "nickname", "renamer"]
    person: Person
    rename_to: str = ""


class _Script:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.actions: list[Action] = []

    def add(self, at: dt.datetime, kind: ActionKind, meeting: str, **fields: object) -> None:
        duplicate = kind in ("join", "leave") and self.rng.random() < 0.05
        self.actions.append(Action(at, len(self.actions), kind, meeting, duplicate=duplicate, **fields))


def script_day(
    homerooms: Sequence[MeetingPlan],
    mix_it_up: MeetingPlan | None,
    *,
    seed: int,
    wrong_room_student: int | None = None,
) -> list[Action]:
    """Every action of the day, in time order. The second homeroom's host ends it and restarts it."""
    script = _Script(random.Random(seed))
    styles = _styles([s for plan in homerooms for s in plan.students], script.rng)
    attends_mix: set[int] = set()
    for position, plan in enumerate(homerooms):
        restart = position == 1
        attends_mix |= _homeroom(script, plan, styles, mix_it_up, wrong_room_student, restart=restart)
        if position == 0:
            guest = Person("iPhone (2)")
            script.add(plan.start + 7 * MINUTE, "join", plan.key, person=guest)
            script.add(plan.start + 19 * MINUTE, "leave", plan.key, person=guest)
    if mix_it_up is not None:
        _mix_it_up(script, mix_it_up, styles, attends_mix)
    return sorted(script.actions)


def _styles(students: Sequence[Student], rng: random.Random) -> dict[int, _Style]:
    styles = {}
    for number, student in enumerate(students):
        nicknames = [alias for alias in student.aliases if "@" not in alias]
        roll = rng.random()
        if nicknames and roll < 0.7:
            styles[student.id] = _Style("nickname", Person(nicknames[0]))  # a guest under their alias
        elif roll < 0.08:
            first = student.name.split()[0]
            styles[student.id] = _Style("device", Person(f"{first}'s iPad", student.email))
        elif roll < 0.14:
            styles[student.id] = _Style("web", Person(student.name, student.email, web_client=True))
        elif roll < 0.19:
            styles[student.id] = _Style("renamer", Person(f"iPhone {number}"), rename_to=student.name)
        else:
            styles[student.id] = _Style("app", Person(student.name, student.email))
    return styles


@dataclass(order=True)
class _Step:
    at: dt.datetime
    rank: int  # host steps first at one instant
    order: int
    what: str = field(compare=False)


def _homeroom(
    script: _Script,
    plan: MeetingPlan,
    styles: Mapping[int, _Style],
    mix_it_up: MeetingPlan | None,
    wrong_room_student: int | None,
    *,
    restart: bool,
) -> set[int]:
    rng = script.rng
    start, end = plan.start, plan.end
    host = [(start - 6 * MINUTE, "start"), (start + 5 * MINUTE, "open"), (end - 5 * MINUTE, "close")]
    host.append((end + 2 * MINUTE, "end"))
    if restart:  # ended by mistake at 13:12, restarted a minute later, rooms opened again at 13:16
        host += [(start + 12 * MINUTE, "end"), (start + 13 * MINUTE, "start"), (start + 16 * MINUTE, "open")]
    for at, what in sorted(host):
        kind = {"start": "start", "open": "open_rooms", "close": "close_rooms", "end": "end"}[what]
        script.add(at, kind, plan.key)
    goes_to_mix: set[int] = set()
    for student in plan.students:
        fate = rng.random()
        if fate < 0.06:
            continue  # absent
        style = styles[student.id]
        joined = start + rng.randint(-4, 4) * MINUTE
        if fate > 0.9:  # late
            joined = start + rng.randint(15 if restart else 12, 24) * MINUTE
        left = start + rng.randint(18, 28) * MINUTE if 0.06 <= fate < 0.11 else None
        personal = [(joined, "join")]
        stays = left is None
        if 0.11 <= fate < 0.2 and not restart and style.kind in ("app", "web", "nickname"):
            drop = start + rng.randint(8, 14) * MINUTE
            personal += [(drop, "drop"), (drop + rng.randint(1, 4) * MINUTE, "back")]
        elif 0.2 <= fate < 0.26 and stays:
            personal.append((end - rng.randint(10, 15) * MINUTE, "return"))
        if style.kind == "device" and not stays:
            left = None  # a device-named student is told apart only in her room: she stays
        if left is not None:
            personal.append((left - rng.randint(0, 40) * dt.timedelta(seconds=1), "leave"))
        elif mix_it_up is not None:
            personal.append((end, "leave"))  # off to the Mix It Up meeting
            if rng.random() < 0.95:
                goes_to_mix.add(student.id)
        wrong = student.id == wrong_room_student
        _play_student(script, plan, student, style, host, personal, wrong=wrong)
    return goes_to_mix


def _play_student(
    script: _Script,
    plan: MeetingPlan,
    student: Student,
    style: _Style,
    host: list[tuple[dt.datetime, str]],
    personal: list[tuple[dt.datetime, str]],
    *,
    wrong: bool,
) -> None:
    """Walk one student through the day's host and personal steps, in time order, adding their actions."""
    steps = [_Step(at, 0, n, what) for n, (at, what) in enumerate(host)]
    steps += [_Step(at, 1, len(steps) + n, what) for n, (at, what) in enumerate(personal)]
    heapq.heapify(steps)
    person, room = style.person, plan.rooms[student.id]
    placed = style.kind in ("app", "device")  # signed in to the app with the pre-assigned email
    live = connected = rooms_open = False
    in_room = ""
    wants_back = False

    def add(at: dt.datetime, kind: ActionKind, **fields: object) -> None:
        script.add(at, kind, plan.key, person=person, student=student.id, **fields)

    def enter_rooms(at: dt.datetime) -> str:
        if placed:
            if wrong:
                heapq.heappush(steps, _Step(at + MINUTE, 1, -1, "switch"))
            return room
        heapq.heappush(steps, _Step(at + MINUTE, 1, -1, "pick"))
        return ""

    while steps:
        step = heapq.heappop(steps)
        at, what = step.at, step.what
        if what == "leave" and not connected:
            return  # gone for the day (the host had ended the meeting meanwhile)
        if what == "start":
            live = True
            if wants_back:
                heapq.heappush(steps, _Step(at + script.rng.randint(1, 2) * MINUTE, 1, -1, "join"))
                wants_back = False
        elif what == "open":
            rooms_open = True
            if connected:
                in_room = enter_rooms(at)
        elif what == "close":
            rooms_open, in_room = False, ""
        elif what == "end":
            wants_back = connected  # comes back if the host restarts the meeting
            live = connected = rooms_open = False
            in_room = ""
        elif what in ("join", "back") and live and not connected:
            add(at, "join")
            connected = True
            if style.rename_to:
                add(at, "rename", name=style.rename_to)
            if rooms_open:
                in_room = enter_rooms(at)
        elif what == "pick" and connected and rooms_open and not in_room:
            in_room = _other_room(plan.rooms, room) if wrong else room
            add(at, "join_breakout", room=in_room)
        elif what == "switch" and connected and in_room == room:
            in_room = _other_room(plan.rooms, room)
            add(at, "join_breakout", room=in_room)
        elif what == "return" and connected and in_room:
            add(at, "leave_breakout", room=in_room)
            in_room = ""
        elif what in ("drop", "leave") and connected:
            add(at, "leave", how="disconnected" if what == "drop" else "left")
            connected, in_room = False, ""
            if what == "leave":
                return


def _other_room(rooms: Mapping[int, str], mine: str) -> str:
    others = sorted({room for room in rooms.values() if room != mine})
    return others[0] if others else mine


def _mix_it_up(script: _Script, plan: MeetingPlan, styles: Mapping[int, _Style], attending: set[int]) -> None:
    """The Mix It Up meeting: rooms open at once; the host ends it with the rooms still open."""
    rng = script.rng
    host = [(plan.start - 2 * MINUTE, "start"), (plan.start + MINUTE, "open"), (plan.end + MINUTE, "end")]
    for at, what in host:
        script.add(at, {"start": "start", "open": "open_rooms", "end": "end"}[what], plan.key)
    for student in plan.students:
        if student.id not in attending:
            continue
        joined = plan.start + rng.randint(0, 3) * MINUTE
        personal = [(joined, "join")]
        if rng.random() < 0.08 and styles[student.id].kind != "device":
            personal.append((plan.start + rng.randint(8, 14) * MINUTE, "leave"))
        _play_student(script, plan, student, styles[student.id], host, personal, wrong=False)


# -- what the script means -------------------------------------------------------------------------


def intended_attendance(
    actions: Sequence[Action],
    plans: Sequence[MeetingPlan],
    *,
    present_fraction: float,
    late_after_minutes: int,
) -> dict[tuple[str, int], Intended]:
    """Each planned student's intended record per meeting (keyed by plan key and student id), from the
    actions alone.

    A student is present from each join to their next leave or the meeting's end; room moves do not
    interrupt that. They are in a room from entering it (picking it, or Zoom placing them there when
    the host opens the rooms or as they join while the rooms are open: the app, signed in with their
    pre-assigned email) until they leave it, leave Zoom, or the host closes the rooms or ends the meeting.
    """
    replay = Replay(plans)
    for action in sorted(actions):
        replay.apply(action)
    fraction = Fraction(str(present_fraction))
    return {
        (plan.key, student.id): _intended(
            plan,
            plan.rooms[student.id],
            replay.presence[(plan.key, student.id)],
            replay.rooms[(plan.key, student.id)],
            fraction,
            late_after_minutes,
        )
        for plan in plans
        for student in plan.students
    }


class Replay:
    """The actions replayed on a plain model of a meeting: who is connected, and who sits in which room."""

    def __init__(self, plans: Sequence[MeetingPlan]):
        self.plans = {plan.key: plan for plan in plans}
        self.emails = {plan.key: {s.email: plan.rooms[s.id] for s in plan.students} for plan in plans}
        self.presence: dict[tuple[str, int], list[Span]] = defaultdict(list)
        self.rooms: dict[tuple[str, int], dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
        self.connected: dict[tuple[str, Person], tuple[int, dt.datetime]] = {}
        self.in_room: dict[tuple[str, Person], tuple[str, dt.datetime]] = {}
        self.opened: set[str] = set()

    def apply(self, action: Action) -> None:
        meeting, person, at = action.meeting, action.person, action.at
        if action.kind in ("open_rooms", "close_rooms", "end"):
            self._host(action)
        elif person is None or action.student is None:
            return  # the meeting starting, or a stranger
        elif action.kind == "join":
            self.connected[(meeting, person)] = (action.student, at)
            if meeting in self.opened and (room := self._placed(meeting, person)):
                self.in_room[(meeting, person)] = (room, at)
        elif action.kind == "join_breakout":
            self._leave_room(meeting, person, at)
            self.in_room[(meeting, person)] = (action.room, at)
        elif action.kind == "leave_breakout":
            self._leave_room(meeting, person, at)
        elif action.kind == "leave":
            self._leave_room(meeting, person, at)
            student, since = self.connected.pop((meeting, person))
            self.presence[(meeting, student)].append((since, at))

    def in_zoom(self, meeting: str) -> int:
        """Students connected to the meeting now."""
        return sum(1 for where, _ in self.connected if where == meeting)

    def in_their_rooms(self, meeting: str) -> int:
        """Students sitting in the breakout room they are assigned to now."""
        rooms = self.plans[meeting].rooms
        return sum(
            1
            for (where, person), (room, _) in self.in_room.items()
            if where == meeting and rooms.get(self.connected[(where, person)][0]) == room
        )

    def room_of(self, meeting: str, person: Person) -> str:
        """The breakout room `person` sits in now, "" in the main meeting or when not connected."""
        return self.in_room.get((meeting, person), ("", None))[0]

    def is_connected(self, meeting: str, person: Person) -> bool:
        return (meeting, person) in self.connected

    def _host(self, action: Action) -> None:
        meeting, at = action.meeting, action.at
        for (where, person), (student, since) in list(self.connected.items()):
            if where != meeting:
                continue
            if action.kind == "open_rooms":
                if (meeting, person) not in self.in_room and (room := self._placed(meeting, person)):
                    self.in_room[(meeting, person)] = (room, at)
                continue
            self._leave_room(meeting, person, at)
            if action.kind == "end":
                self.presence[(meeting, student)].append((since, at))
                del self.connected[(meeting, person)]
        if action.kind == "open_rooms":
            self.opened.add(meeting)
        else:
            self.opened.discard(meeting)

    def _placed(self, meeting: str, person: Person) -> str:
        """Where Zoom puts someone when the rooms open: the app, signed in with a pre-assigned email."""
        return "" if person.web_client else self.emails[meeting].get(person.email, "")

    def _leave_room(self, meeting: str, person: Person, at: dt.datetime) -> None:
        if (meeting, person) in self.in_room:
            room, since = self.in_room.pop((meeting, person))
            student, _ = self.connected[(meeting, person)]
            self.rooms[(meeting, student)][room].append((since, at))


def _intended(
    plan: MeetingPlan,
    assigned: str,
    spans: list[Span],
    rooms: Mapping[str, list[Span]],
    present_fraction: Fraction,
    late_after_minutes: int,
) -> Intended:
    """A record as the calendar's rules make it: minutes inside the window, half a minute rounding up."""
    inside = _inside(spans, plan)
    if not inside:
        return Intended("absent", 0, None)
    minutes = int((_covered(inside) + 30) // 60)
    length_minutes = Fraction(int((plan.end - plan.start).total_seconds()), 60)
    joined = min(a for a, b in spans if a < plan.end and b > plan.start)
    if minutes < present_fraction * length_minutes:
        status = "partial"
    elif joined > plan.start + late_after_minutes * MINUTE:
        status = "late"
    else:
        status = "present"
    room_time = {
        room: covered for room, visits in rooms.items() if (covered := _covered(_inside(visits, plan)))
    }
    if not room_time:
        return Intended(status, minutes, None)
    best = max(room_time, key=lambda room: (room_time[room], room))
    return Intended(status, minutes, best == assigned)


def _inside(spans: list[Span], plan: MeetingPlan) -> list[Span]:
    return [(max(a, plan.start), min(b, plan.end)) for a, b in spans if a < plan.end and b > plan.start]


def _covered(spans: list[Span]) -> float:
    """Seconds covered by the union of the spans."""
    total, current = 0.0, None
    for start, end in sorted(spans):
        if current and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current:
            total += (current[1] - current[0]).total_seconds()
        current = (start, end)
    if current:
        total += (current[1] - current[0]).total_seconds()
    return total
