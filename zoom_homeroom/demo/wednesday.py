"""A realistic Wednesday, as a timed script of what people do in Zoom. Pure and seeded.

Students join (a few early, most on time, some late), move into their breakout room, drop and
rejoin, leave early or never come; one sits in the wrong breakout room; a guest with an unknown
name wanders in; some students join as a guest under a nickname (matched by their roster alias);
a few deliveries arrive twice. In Mix It Up weeks the homeroom half ends at 13:30 and everyone
moves to the Mix It Up meeting and its topic rooms.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..core.models import Student

ActionKind = Literal["start", "join", "leave", "join_breakout", "leave_breakout", "end"]


@dataclass(frozen=True)
class Person:
    """Who Zoom sees: a signed-in student (email), a nickname guest (no email), or a stranger."""

    name: str
    email: str = ""
    zoom_user_id: str = ""


@dataclass(frozen=True, order=True)
class Action:
    at: dt.datetime
    order: int  # keeps same-instant actions in script order
    kind: ActionKind = field(compare=False)
    meeting: str = field(compare=False)  # "homeroom:<module>" or "mix_it_up"
    person: Person | None = field(default=None, compare=False)
    room: str = field(default="", compare=False)
    duplicate: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class MeetingPlan:
    """One meeting of the day: its window and the rooms people should sit in."""

    key: str
    start: dt.datetime  # aware UTC
    end: dt.datetime
    rooms: dict[int, str]  # student id -> breakout room name
    students: Sequence[Student]


class _Script:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.actions: list[Action] = []

    def add(
        self, at: dt.datetime, kind: ActionKind, meeting: str, person: Person | None = None, room: str = ""
    ) -> None:
        duplicate = kind in ("join", "leave") and self.rng.random() < 0.05
        self.actions.append(Action(at, len(self.actions), kind, meeting, person, room, duplicate))


def script_day(
    homerooms: Sequence[MeetingPlan],
    mix_it_up: MeetingPlan | None,
    *,
    seed: int,
    wrong_room_student: int | None = None,
) -> list[Action]:
    """Every action of the day, in time order."""
    script = _Script(random.Random(seed))
    attends_mix: set[int] = set()
    for plan in homerooms:
        attends_mix |= _homeroom(script, plan, mix_it_up, wrong_room_student)
        if plan is homerooms[0]:
            guest = Person("iPhone (2)")
            script.add(plan.start + dt.timedelta(minutes=7), "join", plan.key, guest)
            script.add(plan.start + dt.timedelta(minutes=19), "leave", plan.key, guest)
    if mix_it_up is not None:
        _mix_it_up(script, mix_it_up, attends_mix)
    return sorted(script.actions)


def _person(student: Student, rng: random.Random) -> Person:
    nicknames = [alias for alias in student.aliases if "@" not in alias]
    if nicknames and rng.random() < 0.7:
        return Person(nicknames[0])  # joins from a personal device as a guest
    return Person(student.name, student.email)


def _homeroom(
    script: _Script, plan: MeetingPlan, mix_it_up: MeetingPlan | None, wrong_room_student: int | None
) -> set[int]:
    rng = script.rng
    start, end = plan.start, plan.end
    minute = dt.timedelta(minutes=1)
    script.add(start - 6 * minute, "start", plan.key)
    goes_to_mix: set[int] = set()
    for student in plan.students:
        fate = rng.random()
        if fate < 0.06:
            continue  # absent
        person = _person(student, rng)
        joined = start + rng.randint(-4, 4) * minute
        if fate > 0.9:
            joined = start + rng.randint(12, 24) * minute  # late
        left = end if mix_it_up is None else end
        if 0.06 <= fate < 0.11:
            left = start + rng.randint(18, 28) * minute  # leaves early
        script.add(joined, "join", plan.key, person)
        room = plan.rooms[student.id]
        if student.id == wrong_room_student:
            room = _other_room(plan.rooms, room)
        into_room = max(joined, start + 5 * minute) + rng.randint(0, 60) * dt.timedelta(seconds=1)
        in_room = into_room < left - minute
        if in_room:
            script.add(into_room, "join_breakout", plan.key, person, room)
        if 0.11 <= fate < 0.2 and left - into_room > 20 * minute:  # connection drops, then rejoins
            drop = into_room + rng.randint(3, 9) * minute
            back = drop + rng.randint(1, 4) * minute
            script.add(drop, "leave", plan.key, person)
            script.add(back, "join", plan.key, person)
            script.add(back + minute, "join_breakout", plan.key, person, room)
        script.add(left - rng.randint(0, 40) * dt.timedelta(seconds=1), "leave", plan.key, person)
        if mix_it_up is not None and left >= end - minute and rng.random() < 0.95:
            goes_to_mix.add(student.id)
    script.add(end + 2 * minute, "end", plan.key)
    return goes_to_mix


def _other_room(rooms: dict[int, str], mine: str) -> str:
    others = sorted({room for room in rooms.values() if room != mine})
    return others[0] if others else mine


def _mix_it_up(script: _Script, plan: MeetingPlan, attending: set[int]) -> None:
    rng = script.rng
    minute = dt.timedelta(minutes=1)
    script.add(plan.start - 2 * minute, "start", plan.key)
    for student in plan.students:
        if student.id not in attending:
            continue
        person = _person(student, rng)
        joined = plan.start + rng.randint(0, 3) * minute
        script.add(joined, "join", plan.key, person)
        script.add(joined + minute, "join_breakout", plan.key, person, plan.rooms[student.id])
        left = plan.end if rng.random() > 0.08 else plan.start + rng.randint(8, 14) * minute
        script.add(left, "leave", plan.key, person)
    script.add(plan.end + minute, "end", plan.key)
