"""What the demo prints while a day plays: what just happened, at the simulated time, never quiet for long.

The narrator replays the script's own actions on the script's model of a meeting (`Replay`), so its
counts are what the script meant ("13:05  Mod 1: rooms opened, 20 of 28 students in their rooms"),
told a simulated minute at a time: the hosts' steps one line each, the joins and room picks of the
minute counted, and what single people did named ("13:20  Ada Lopez (Mod 1) left from Breakout Room 1").
When nothing was printed for `quiet_seconds` of real time, a tick says who is in Zoom.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .wednesday import MINUTE, Action, MeetingPlan, Person, Replay

QUIET_SECONDS = 5.0  # the longest real silence while a day plays (the promise is 10 s)
EVENTS_PER_LINE = 2
Echo = Callable[[str], None]


@dataclass
class _Minute:
    """What happened in one simulated minute, told when the minute is over."""

    at: dt.datetime
    host: dict[str, list[str]] = field(default_factory=dict)  # what a host did -> the meetings' labels
    joined: int = 0
    picked: Counter[str] = field(default_factory=Counter)  # meeting key -> students who picked their room
    moved_on: Counter[str] = field(default_factory=Counter)  # next meeting's label -> students off to it
    events: list[str] = field(default_factory=list)


class Narrator:
    """Tells a day's play, fed each action as the play performs it; `detail=False` only ticks."""

    def __init__(
        self,
        echo: Echo,
        plans: Sequence[MeetingPlan],
        labels: Mapping[str, str],
        *,
        timezone: ZoneInfo,
        late_after: dt.timedelta,
        detail: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        quiet_seconds: float = QUIET_SECONDS,
    ):
        self.echo = echo
        self.plans = {plan.key: plan for plan in plans}
        self.labels = labels
        self.timezone = timezone
        self.late_after = late_after
        self.detail = detail
        self.monotonic = monotonic
        self.quiet_seconds = quiet_seconds
        self.replay = Replay(plans)
        self.students = {student.id: student for plan in plans for student in plan.students}
        self.last_line = monotonic()
        self.minute: _Minute | None = None
        self.joined_before: set[tuple[str, int]] = set()
        self.dropped: set[tuple[str, Person]] = set()
        self.live: set[str] = set()
        self.ended: set[str] = set()
        self.opened: set[str] = set()
        self.renamed: set[int] = set()
        # A meeting that starts as another ends is where that one's students go (homeroom -> Mix It Up).
        self.next_meeting = {
            plan.key: labels[later.key] for plan in plans for later in plans if later.start == plan.end
        }

    def performed(self, action: Action) -> None:
        """Take in one performed action (told when its minute is over)."""
        at = action.at.replace(second=0, microsecond=0)
        if self.minute is not None and self.minute.at != at:
            self._flush()
        if self.minute is None:
            self.minute = _Minute(at)
        room_before = self.replay.room_of(action.meeting, action.person) if action.person else ""
        in_zoom_before = self.replay.in_zoom(action.meeting)
        self.replay.apply(action)
        if action.kind in ("start", "open_rooms", "close_rooms", "end"):
            self._host(action, in_zoom_before)
        elif self.detail:
            self._person(action, room_before)

    def tick(self, now: dt.datetime) -> None:
        """Tell the minute once it is over, and who is in Zoom after a quiet while."""
        if self.minute is not None and now >= self.minute.at + MINUTE:
            self._flush()
        if self.monotonic() - self.last_line >= self.quiet_seconds:
            self._say(now, self._status())

    def finish(self) -> None:
        """Tell what is still untold."""
        self._flush()

    # -- taking actions in ------------------------------------------------------------------------

    def _host(self, action: Action, in_zoom_before: int) -> None:
        meeting, label = action.meeting, self.labels[action.meeting]
        plan = self.plans[meeting]
        if action.kind == "start":
            again = " again" if meeting in self.ended else ""
            self.live.add(meeting)
            line = f"the host started the meeting{again}"
        elif action.kind == "open_rooms":
            again = " again" if meeting in self.opened else ""
            self.opened.add(meeting)
            placed = self.replay.in_their_rooms(meeting)
            line = f"rooms opened{again}, {placed} of {len(plan.students)} students in their rooms"
        elif action.kind == "close_rooms":
            line = "the host closed the rooms, everyone is back in the main meeting"
        else:
            self.live.discard(meeting)
            self.ended.add(meeting)
            still = f" with {_students(in_zoom_before)} in it" if in_zoom_before else ""
            line = f"the host ended the meeting{still}"
        if self.detail:
            self._this_minute().host.setdefault(line, []).append(label)

    def _person(self, action: Action, room_before: str) -> None:
        meeting, person = action.meeting, action.person
        minute = self._this_minute()
        if action.student is None:  # a stranger: nobody the roster knows
            label = self.labels[meeting]
            if action.kind == "join":
                minute.events.append(f"{label}: a guest nobody knows joined as {person.name!r}")
            else:
                minute.events.append(f"{label}: the guest {person.name!r} left")
            return
        who = f"{self.students[action.student].name} ({self.labels[meeting]})"
        plan = self.plans[meeting]
        assigned = plan.rooms[action.student]
        if action.kind == "join":
            minute.events.extend(self._joined(action, who))
        elif action.kind == "rename" and action.student not in self.renamed:  # again at each join: told once
            self.renamed.add(action.student)
            minute.events.append(f"{person.name!r} renamed themselves {action.name}")
        elif action.kind == "join_breakout" and action.room == assigned and not room_before:
            minute.picked[meeting] += 1
        elif action.kind == "join_breakout":
            minute.events.append(f"{who} sat down in {action.room}, not {assigned}")
        elif action.kind == "leave_breakout":
            minute.events.append(f"{who} went back to the main meeting from {room_before}")
        elif action.kind == "leave" and action.how == "disconnected":
            self.dropped.add((meeting, person))
            minute.events.append(f"{who} lost the connection" + (f" in {room_before}" if room_before else ""))
        elif action.kind == "leave" and action.at == plan.end and meeting in self.next_meeting:
            minute.moved_on[self.next_meeting[meeting]] += 1
        elif action.kind == "leave":
            minute.events.append(f"{who} left" + (f" from {room_before}" if room_before else ""))

    def _joined(self, action: Action, who: str) -> list[str]:
        key = (action.meeting, action.student)
        first = key not in self.joined_before
        self.joined_before.add(key)
        if (action.meeting, action.person) in self.dropped:
            self.dropped.discard((action.meeting, action.person))
            return [f"{who} is back"]
        if first and action.at > self.plans[action.meeting].start + self.late_after:
            return [f"{who} joined late"]
        self._this_minute().joined += 1
        return []

    def _this_minute(self) -> _Minute:
        assert self.minute is not None  # performed() opens the minute first
        return self.minute

    # -- telling ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        minute, self.minute = self.minute, None
        if minute is None:
            return
        for line, labels in minute.host.items():
            self._say(minute.at, f"{_listed(labels)}: {line}")
        for label, count in minute.moved_on.items():
            self._say(minute.at, f"{_students(count)} left their homeroom for {label}")
        if minute.joined:
            in_zoom = sum(self.replay.in_zoom(meeting) for meeting in self.plans)
            self._say(minute.at, f"{_students(minute.joined)} joined ({in_zoom} in Zoom now)")
        for meeting, count in sorted(minute.picked.items(), key=lambda item: self.labels[item[0]]):
            total = len(self.plans[meeting].students)
            seated = self.replay.in_their_rooms(meeting)
            self._say(
                minute.at,
                f"{self.labels[meeting]}: {count} picked their room, {seated} of {total} students in their rooms",
            )
        for start in range(0, len(minute.events), EVENTS_PER_LINE):
            self._say(minute.at, "; ".join(minute.events[start : start + EVENTS_PER_LINE]))

    def _status(self) -> str:
        live = sorted(self.live, key=self.labels.__getitem__)
        if not live:
            return "no meeting running"
        counts = ", ".join(
            f"{self.labels[meeting]} {self.replay.in_zoom(meeting)} of {len(self.plans[meeting].students)}"
            for meeting in live
        )
        seated = sum(self.replay.in_their_rooms(meeting) for meeting in live)
        return f"in Zoom: {counts}; {_students(seated)} in their rooms"

    def _say(self, at: dt.datetime, text: str) -> None:
        self.echo(f"  {at.astimezone(self.timezone):%H:%M}  {text}")
        self.last_line = self.monotonic()


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _students(count: int) -> str:
    return f"{count} student{'' if count == 1 else 's'}"
