"""Domain values shared by every layer: frozen dataclasses, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

SessionKind = Literal["homeroom", "mix_it_up"]
HOMEROOM: SessionKind = "homeroom"
MIX_IT_UP: SessionKind = "mix_it_up"
SESSION_KINDS: tuple[SessionKind, ...] = (HOMEROOM, MIX_IT_UP)

Status = Literal["present", "late", "partial", "absent", "excused"]
STATUSES: tuple[Status, ...] = ("present", "late", "partial", "absent", "excused")


def homeroom_key(module: int, day: dt.date) -> str:
    """`homeroom:1:2027-01-06`: the key of a module's session on `day`, and of its series (whose key
    is the cycle's week-1 Monday: one recurring meeting per module and cycle)."""
    return f"{HOMEROOM}:{module}:{day.isoformat()}"


def mix_it_up_key(day: dt.date) -> str:
    """`mix_it_up:2027-01-13`: the key of a week's Mix It Up session and of its meeting."""
    return f"{MIX_IT_UP}:{day.isoformat()}"


@dataclass(frozen=True)
class SessionsConfig:
    """`[sessions]`: when the weekly homeroom meets, and whether students register (personal links)."""

    weekday: int  # 0 = Monday, as in datetime.date.weekday()
    start: dt.time
    duration_minutes: int
    weeks: tuple[int, ...]
    registration: bool = False  # Zoom registration: each student gets a personal join link


@dataclass(frozen=True)
class MixItUpConfig:
    """`[mix_it_up]`: the second half hour of some weeks, in groups mixed across modules."""

    weeks: tuple[int, ...]
    start: dt.time
    duration_minutes: int
    host: str
    group_size: tuple[int, int]  # (min, max)
    upper_modules: tuple[int, ...]
    topics: tuple[str, ...] = ()  # the Slack poll's topics, unless `mixitup poll open --topics` says others


@dataclass(frozen=True)
class AttendanceConfig:
    """`[attendance]`: what counts as present."""

    present_fraction: float = 0.5
    late_after_minutes: int = 10


@dataclass(frozen=True)
class WebhooksConfig:
    """`[webhooks]` (optional): how old a signed delivery may be and still be accepted."""

    replay_window_minutes: int = 120


@dataclass(frozen=True)
class SchedulerConfig:
    """`[scheduler]` (optional): when the scheduler process syncs and finalises."""

    sync_before_minutes: tuple[int, ...] = (24 * 60, 60)
    finalize_after_minutes: int = 45
    retry_every_minutes: int = 60
    misfire_grace_minutes: int = 120


@dataclass(frozen=True)
class SlackConfig:
    """`[slack]` (optional): where the service posts in Slack, and when. Channels are Slack IDs (`C0…`)."""

    channel: str | None = None  # the Mix It Up poll and the groups
    reps_channel: str | None = None  # the reps' digest after each session
    dashboard_url: str | None = None  # the dashboard's public address, for the digest's links (no final /)
    prompt_time: dt.time = dt.time(9, 0)  # weekly prompts go out at this local time on session days
    poll_close_before_forming_minutes: int = 60  # the scheduler closes the poll this long before forming


@dataclass(frozen=True)
class ModuleConfig:
    """One `[[modules]]` entry: a cohort with its own Zoom host and calendar."""

    number: int
    host: str
    week1_monday: dt.date
    skip: tuple[dt.date, ...] = ()
    slack_channel: str | None = None  # where the module's weekly prompt is posted


@dataclass(frozen=True)
class Calendar:
    """The program calendar, `config/homeroom.toml`, validated."""

    timezone: ZoneInfo
    sessions: SessionsConfig
    mix_it_up: MixItUpConfig
    attendance: AttendanceConfig
    modules: tuple[ModuleConfig, ...]
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)

    def module(self, number: int) -> ModuleConfig:
        """The module with this number; KeyError when the calendar has none."""
        for module in self.modules:
            if module.number == number:
                return module
        raise KeyError(number)

    @property
    def module_numbers(self) -> tuple[int, ...]:
        return tuple(module.number for module in self.modules)


@dataclass(frozen=True)
class Student:
    """One roster row. `email` is stored lower-cased; aliases are other emails or display names."""

    email: str
    name: str
    module: int
    program: str
    group: int
    aliases: tuple[str, ...] = ()
    active: bool = True
    id: int | None = None


@dataclass(frozen=True)
class GroupMove:
    """A change of a student's group: added (from None), moved, or deactivated (to None)."""

    module: int
    from_group: int | None
    to_group: int | None
    moved_on: dt.date


@dataclass(frozen=True)
class PlannedSession:
    """One meeting of one cohort (or the Mix It Up half) on one date, with its UTC window."""

    kind: SessionKind
    module: int | None  # None for Mix It Up, which mixes every module
    week: int
    date: dt.date  # local date in the calendar's time zone
    start: dt.datetime  # aware, UTC
    end: dt.datetime  # aware, UTC

    @property
    def key(self) -> str:
        """Stable identity: `homeroom:1:2027-01-06`, `mix_it_up:2027-01-13`."""
        if self.kind == MIX_IT_UP:
            return mix_it_up_key(self.date)
        return homeroom_key(self.module, self.date)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class StoredMeeting:
    """A Zoom meeting this service created, with the last body Zoom accepted."""

    key: str
    kind: SessionKind
    module: int | None
    host: str
    zoom_meeting_id: str
    join_url: str | None
    spec: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class SessionRecord:
    """A planned session as stored, with what the service learned about it from Zoom."""

    id: int
    key: str
    kind: SessionKind
    module: int | None
    week: int
    date: dt.date
    start: dt.datetime
    end: dt.datetime
    meeting_key: str | None
    zoom_meeting_id: str | None
    join_url: str | None
    occurrence_id: str | None
    zoom_uuid: str | None
    ended_at: dt.datetime | None
    state: Literal["pending", "final"]
    final_at: dt.datetime | None
    backfill_attempts: int
    backfill_error: str | None

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def final(self) -> bool:
        return self.state == "final"


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery as stored before Zoom gets its 2xx."""

    digest: str  # sha256 of the raw body: the same delivery twice has the same digest
    event: str
    received_at: dt.datetime
    request_timestamp: int
    request_id: str | None
    body: str
    zoom_meeting_id: str | None


Role = Literal["admin", "rep"]
ROLES: tuple[Role, ...] = ("admin", "rep")


@dataclass(frozen=True)
class User:
    """Someone who may sign in to the dashboard."""

    id: int
    email: str
    role: Role
    password_hash: str = field(repr=False)
    created_at: dt.datetime


@dataclass(frozen=True)
class ApiToken:
    """An API token's record; the token itself is never stored, only its hash."""

    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class FormedGroup:
    """One Mix It Up group: its number (1..n), its topic and its members' student ids, sorted."""

    number: int
    topic: str
    members: tuple[int, ...]


@dataclass(frozen=True)
class StoredFormation:
    """A week's Mix It Up groups as formed and stored."""

    miu_date: dt.date
    week: int
    seed: int
    quality: dict = field(hash=False, compare=False)
    formed_at: dt.datetime
    groups: tuple[FormedGroup, ...]
