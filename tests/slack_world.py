"""A small school on the Slack sandbox, for the Slack wiring's tests: nine students on the roster (one
not on Slack, one on Slack under an alias email), a coach who is not a student, the channels the
calendar names, and the service's Runtime and web app pointed at it all.

Everything a test asserts about is set here by hand: who is in which module, which emails Slack
knows, which groups a week has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FakeClock, FakeSleep, LiveServer
from tests.factories import calendar_doc, utc
from tests.slack_contract import SlackContract
from zoom_homeroom import create_app
from zoom_homeroom.core.calendar import parse_calendar
from zoom_homeroom.core.models import (
    MIX_IT_UP,
    Calendar,
    FormedGroup,
    PlannedSession,
    StoredMeeting,
    mix_it_up_key,
)
from zoom_homeroom.core.planning import plan_sessions
from zoom_homeroom.core.roster import parse_roster, roster_changes
from zoom_homeroom.runtime import Runtime
from zoom_homeroom.sandbox.slack import Delivery, SlackSandbox
from zoom_homeroom.settings import load_settings, slack_sandbox_environment
from zoom_homeroom.slack.interactions import poll_action_id

TOPICS = ("Technical interviews", "Resume review", "Open source", "Salary negotiation")
WEEK = 2
POLL_DAY = dt.date(2027, 1, 13)  # week 2's Mix It Up in the test calendar
JOIN_URL = "https://zoom.test/j/777"
DASHBOARD = "https://homeroom.school.example.org"

# name, email, module, group, aliases
ROSTER = (
    ("Ada Lovelace", "ada@students.example.org", 1, 1, ""),
    ("Bob Moses", "bob@students.example.org", 1, 2, ""),
    ("Cy Young", "cy@students.example.org", 2, 1, ""),
    ("Dee Dee", "dee@students.example.org", 2, 2, ""),
    ("Eve Ito", "eve@students.example.org", 3, 1, ""),
    ("Fay Okafor", "fay@students.example.org", 3, 2, ""),
    ("Gus Rossi", "gus@students.example.org", 4, 1, ""),
    ("Hal Weber", "hal@students.example.org", 4, 2, "hal.weber@mail.example.com"),
    ("Ivy Novak", "ivy@students.example.org", 2, 1, ""),
)
# Who Slack knows, by the email on their Slack profile: Hal by his alias, Ivy not at all, and a coach.
SLACK_PEOPLE = {
    "ada": "Ada@Students.Example.org",  # Slack keeps the case it was given
    "bob": "bob@students.example.org",
    "cy": "cy@students.example.org",
    "dee": "dee@students.example.org",
    "eve": "eve@students.example.org",
    "fay": "fay@students.example.org",
    "gus": "gus@students.example.org",
    "hal": "hal.weber@mail.example.com",
    "coach": "coach@school.example.org",
}


@dataclass
class SlackWorld:
    """The school on Slack: the sandbox, its channels and people, the service's Runtime and live app."""

    slack: SlackSandbox
    channel: str
    reps: str
    module_channels: dict[int, str]
    users: dict[str, str]  # short name -> Slack user id
    calendar: Calendar
    runtime: Runtime
    live: LiveServer
    clock: FakeClock

    @property
    def interactions_url(self) -> str:
        return f"{self.live.url}/slack/interactions"

    @property
    def app_runtime(self) -> Runtime:
        """The web app's own Runtime (its Slack client answers the students)."""
        return Runtime.of(self.live.app)

    def student_id(self, short: str) -> int:
        student = self.runtime.storage.student_by_email(f"{short}@students.example.org")
        assert student is not None
        return student.id

    def pick(self, who: str, rank: int, topic: str | None, *, ts: str, day: dt.date = POLL_DAY) -> Delivery:
        """`who` chooses `topic` in the poll's menu for `rank` (None: clears it), delivered signed."""
        return self.slack.select(
            self.interactions_url,
            user=self.users[who],
            channel=self.channel,
            ts=ts,
            action_id=poll_action_id(day, WEEK, rank),
            value=topic,
        )


def build_world(
    tmp_path: Path,
    env: Mapping[str, str],
    clock: FakeClock,
    sleep: FakeSleep,
    spec: SlackContract | None,
    *,
    registration: bool = False,
) -> Iterator[SlackWorld]:
    """The world, started; stopped (and the sandbox's contract violations checked) afterwards.
    `registration` switches on `[sessions] registration` (students hold personal join links)."""
    slack = SlackSandbox(clock=clock, checker=spec).start()
    live = None
    runtime = None
    try:
        users = {short: slack.add_user(email) for short, email in SLACK_PEOPLE.items()}
        everyone = list(users.values())
        channel = slack.add_channel("mix-it-up", members=everyone)
        reps = slack.add_channel("homeroom-reps", members=[users["coach"]], private=True)
        module_channels = {n: slack.add_channel(f"mod-{n}", members=everyone) for n in (1, 2, 3, 4)}
        calendar = world_calendar(channel, reps, module_channels, registration=registration)
        settings = load_settings({**env, **slack_sandbox_environment(slack)})
        runtime = Runtime(settings, clock=clock, sleep=sleep, calendar_override=calendar)
        load_roster(runtime)
        app = create_app(settings, calendar=calendar, clock=clock)
        app.config.update(TESTING=True)
        Runtime.of(app).sleep = sleep  # the app's Slack client waits out rate limits on the fake sleep
        live = LiveServer(app)
        yield SlackWorld(slack, channel, reps, module_channels, users, calendar, runtime, live, clock)
        assert slack.violations == []
    finally:
        if live is not None:
            live.stop()
        if runtime is not None:
            runtime.close()
        slack.stop()


def world_calendar(
    channel: str, reps: str, module_channels: Mapping[int, str], *, registration: bool = False
) -> Calendar:
    doc = calendar_doc()
    doc["sessions"]["registration"] = registration
    doc["mix_it_up"]["topics"] = list(TOPICS)
    doc["slack"] = {"channel": channel, "reps_channel": reps, "dashboard_url": DASHBOARD + "/"}
    for module in doc["modules"]:
        module["slack_channel"] = module_channels[module["number"]]
    return parse_calendar(doc)


def roster_csv() -> str:
    lines = ["name,email,module,program,group,aliases"]
    lines += [
        f"{name},{email},{module},FE,{group},{aliases}" for name, email, module, group, aliases in ROSTER
    ]
    return "\n".join(lines) + "\n"


def load_roster(runtime: Runtime) -> None:
    students = parse_roster(
        roster_csv().encode(), filename="roster.csv", modules=runtime.calendar.module_numbers
    )
    changes = roster_changes([], students)
    runtime.storage.apply_roster(changes, today=dt.date(2027, 1, 4), now=utc("2027-01-04 12:00"))


def mix_it_up_session(calendar: Calendar, day: dt.date = POLL_DAY) -> PlannedSession:
    return next(s for s in plan_sessions(calendar, kinds=(MIX_IT_UP,)) if s.date == day)


def store_mix_it_up_meeting(world: SlackWorld, join_url: str = JOIN_URL) -> None:
    """The week's Mix It Up meeting and session as `mixitup sync` would store them."""
    storage = world.runtime.storage
    key = mix_it_up_key(POLL_DAY)
    meeting = StoredMeeting(key, MIX_IT_UP, None, "careers@school.example.org", "777", join_url, {})
    storage.save_meeting(meeting, now=world.clock())
    storage.upsert_sessions([mix_it_up_session(world.calendar)], meeting_key=key, occurrence_ids={})


def save_groups(world: SlackWorld, groups: Sequence[tuple[int, str, Sequence[str]]]) -> None:
    """Week 2's groups as given: (number, topic, short names)."""
    formed = [
        FormedGroup(number, topic, tuple(sorted(world.student_id(short) for short in members)))
        for number, topic, members in groups
    ]
    world.runtime.storage.save_formation(POLL_DAY, WEEK, seed=1, quality={}, groups=formed, now=world.clock())
