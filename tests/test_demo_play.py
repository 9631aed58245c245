"""The demo's play of a day on a fake real-time clock: it starts at its first action, keeps to its
pace (and catches up when processing is slow), never goes quiet, stops on its stop event, and tells
what the script did."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from zoom_homeroom.core.models import Student
from zoom_homeroom.demo.cohort import sample_students
from zoom_homeroom.demo.narrator import QUIET_SECONDS, Narrator
from zoom_homeroom.demo.play import TICK_SECONDS, DemoClock, Pacer, Stopped, play
from zoom_homeroom.demo.wednesday import Action, MeetingPlan, script_day

DENVER = ZoneInfo("America/Denver")
WEDNESDAY = dt.date(2027, 1, 13)
LINE = re.compile(r"^  (\d\d):(\d\d)  (.+)$")


def at(hour: int, minute: int, day: dt.date = WEDNESDAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=DENVER).astimezone(dt.UTC)


STUDENTS = [
    Student(
        email=s.email,
        name=s.name,
        module=s.module,
        program=s.program,
        group=s.group,
        aliases=tuple(alias for alias in s.aliases.split(";") if alias),
        id=number,
    )
    for number, s in enumerate(sample_students(), start=1)
]


def day(*, mix_it_up: bool) -> tuple[list[MeetingPlan], dict[str, str], list[Action]]:
    """The demo's kind of Wednesday: four homerooms (to 13:30 before a Mix It Up, else 14:00)."""
    end = at(13, 30) if mix_it_up else at(14, 0)
    labels, plans = {}, []
    for module in (1, 2, 3, 4):
        members = [s for s in STUDENTS if s.module == module]
        rooms = {s.id: f"Breakout Room {s.group}" for s in members}
        plans.append(MeetingPlan(f"8100{module}", at(13, 0), end, rooms, members))
        labels[f"8100{module}"] = f"Mod {module}"
    mix = None
    if mix_it_up:
        rooms = {s.id: f"{s.id % 20 + 1} · Topic" for s in STUDENTS}
        mix = MeetingPlan("mix", at(13, 30), at(14, 0), rooms, STUDENTS)
        labels["mix"] = "Mix It Up"
    actions = script_day(plans, mix, seed=7, wrong_room_student=plans[0].students[0].id)
    return [*plans, *([mix] if mix else [])], labels, actions


class FakeTime:
    """Real time for the play: a monotonic clock that only waits move, and the demo's stop event."""

    def __init__(self, *, stop_at: float | None = None):
        self.now = 0.0
        self.stop_at = stop_at

    def monotonic(self) -> float:
        return self.now

    def is_set(self) -> bool:
        return self.stop_at is not None and self.now >= self.stop_at

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None and timeout > 0
        if self.stop_at is not None and self.now + timeout >= self.stop_at:
            self.now = max(self.now, self.stop_at)
            return True
        self.now += timeout
        return False


class Run:
    """One play on fake time: the lines printed and when, and when each action was performed."""

    def __init__(self, *, speed: float | None, mix_it_up: bool = True, cost: float = 0.0, stop_at=None):
        self.plans, self.labels, self.actions = day(mix_it_up=mix_it_up)
        self.time = FakeTime(stop_at=stop_at)
        self.clock = DemoClock(at(12, 0, WEDNESDAY - dt.timedelta(days=1)))  # noon the day before
        self.lines: list[tuple[float, str]] = []
        self.performed: list[tuple[float, dt.datetime]] = []
        self.cost = cost
        self.narrator = Narrator(
            lambda text: self.lines.append((self.time.now, text)),
            self.plans,
            self.labels,
            timezone=DENVER,
            late_after=dt.timedelta(minutes=10),
            monotonic=self.time.monotonic,
        )
        self.pacer = Pacer(self.clock, self.time, speed=speed, monotonic=self.time.monotonic)

    def play(self) -> Run:
        play(self.actions, self.pacer, self.narrator, self._perform)
        self.narrator.finish()
        return self

    def _perform(self, action: Action) -> None:
        self.performed.append((self.time.now, self.clock.now))
        self.time.now += self.cost  # the sandbox and the service at work

    @property
    def span(self) -> float:
        return (self.actions[-1].at - self.actions[0].at).total_seconds()

    def gaps(self) -> list[float]:
        times = [0.0, *(when for when, _ in self.lines), self.time.now]
        return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def test_the_play_starts_at_its_first_action_with_no_wait():
    run = Run(speed=240).play()

    first = run.actions[0]
    assert first.at == at(12, 54)  # the first host starts six minutes early
    assert run.performed[0] == (0.0, first.at)  # the clock jumped the day: nothing waited for it


@pytest.mark.parametrize("speed", [240, 24])
def test_a_paced_play_keeps_its_pace_and_never_goes_quiet(speed):
    run = Run(speed=speed).play()

    for (real, simulated), action in zip(run.performed, run.actions, strict=True):
        assert simulated == action.at
        assert real == pytest.approx((action.at - run.actions[0].at).total_seconds() / speed, abs=1e-6)
    # 12:54 to 14:01 is 67 minutes: 16.75 s at 240x, 167.5 s at 24x.
    assert run.span == 67 * 60
    assert run.time.now == pytest.approx(67 * 60 / speed, abs=1e-6)
    assert max(run.gaps()) <= QUIET_SECONDS + TICK_SECONDS
    if speed == 24:  # ten times slower: the quiet stretches are filled with who is in Zoom
        quiet = [text for _, text in run.lines if "in Zoom:" in text]
        assert len(quiet) >= 10
        assert all(LINE.match(text) for _, text in run.lines)


def test_slow_processing_counts_towards_the_wait():
    # 20 ms an action, about 9 s of work in all: within the 16.75 s the play takes, not on top of it.
    run = Run(speed=240, cost=0.02).play()

    work = 0.02 * len(run.actions)
    assert work > 8
    assert 67 * 60 / 240 <= run.time.now < 67 * 60 / 240 + 0.5
    assert max(run.gaps()) <= QUIET_SECONDS + TICK_SECONDS + 0.02


def test_the_stop_event_stops_a_paced_play_at_once():
    run = Run(speed=240, stop_at=3.0)

    with pytest.raises(Stopped):
        run.play()

    assert run.time.now == 3.0
    assert run.performed and all(real < 3.0 for real, _ in run.performed)
    assert run.performed[-1][1] < run.actions[-1].at


def test_an_unpaced_play_never_waits():
    run = Run(speed=None).play()

    assert run.time.now == 0.0
    assert [simulated for _, simulated in run.performed] == [action.at for action in run.actions]


# -- what the narrator tells, checked against the script's actions ---------------------------------


def told(run: Run) -> list[tuple[str, str]]:
    """(HH:MM, text) of each line."""
    lines = []
    for _, text in run.lines:
        match = LINE.match(text)
        assert match, text
        lines.append((f"{match[1]}:{match[2]}", match[3]))
    return lines


def hhmm(moment: dt.datetime) -> str:
    return f"{moment.astimezone(DENVER):%H:%M}"


def test_each_rooms_opened_line_counts_who_zoom_places():
    run = Run(speed=None).play()
    lines = told(run)
    plans = {plan.key: plan for plan in run.plans}

    for index, action in enumerate(run.actions):
        if action.kind != "open_rooms" or any(
            a.kind == "open_rooms" and a.meeting == action.meeting for a in run.actions[:index]
        ):
            continue  # the first opening of each meeting
        plan = plans[action.meeting]
        connected: dict[int, Action] = {}
        for earlier in run.actions[:index]:
            if earlier.meeting == action.meeting and earlier.student is not None:
                if earlier.kind == "join":
                    connected[earlier.student] = earlier
                elif earlier.kind == "leave":
                    connected.pop(earlier.student, None)
        # Zoom places a student signed in to the app with the email the room was assigned to.
        by_id = {s.id: s for s in plan.students}
        placed = sum(
            1
            for student, join in connected.items()
            if join.person.email == by_id[student].email and not join.person.web_client
        )
        line = (
            hhmm(action.at),
            f"{run.labels[action.meeting]}: rooms opened, {placed} of {len(plan.students)} students in their rooms",
        )
        assert line in lines


def test_who_left_early_dropped_or_came_late_is_named_at_the_minute_it_happened():
    run = Run(speed=None).play()
    text = "\n".join(f"{when}  {what}" for when, what in told(run))
    names = {s.id: s.name for s in STUDENTS}
    plans = {plan.key: plan for plan in run.plans}
    seen: set[tuple[str, int]] = set()
    expected = []
    for action in run.actions:
        if action.student is None or action.kind not in ("join", "leave"):
            continue
        who = f"{names[action.student]} ({run.labels[action.meeting]})"
        plan = plans[action.meeting]
        first = (action.meeting, action.student) not in seen
        seen.add((action.meeting, action.student))
        if action.kind == "join" and first and action.at > plan.start + dt.timedelta(minutes=10):
            expected.append(f"{hhmm(action.at)}  .*{re.escape(who)} joined late")
        elif action.kind == "leave" and action.how == "disconnected":
            expected.append(f"{hhmm(action.at)}  .*{re.escape(who)} lost the connection")
        elif action.kind == "leave" and action.at != plan.end:
            expected.append(f"{hhmm(action.at)}  .*{re.escape(who)} left")
    assert len(expected) > 30
    for pattern in expected:
        assert re.search(pattern, text), pattern
    moved = sum(
        1
        for a in run.actions
        if a.kind == "leave" and a.student and a.meeting != "mix" and a.at == at(13, 30)
    )
    assert f"13:30  {moved} students left their homeroom for Mix It Up" in text
    assert "Mod 1: a guest nobody knows joined as 'iPhone (2)'" in text
