"""Validation of the program calendar (`config/homeroom.toml`), already parsed by tomllib.

`parse_calendar` collects every problem before raising, so an admin fixes the file in one pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import HomeroomError
from .models import (
    AttendanceConfig,
    Calendar,
    MixItUpConfig,
    ModuleConfig,
    SchedulerConfig,
    SessionsConfig,
    SlackConfig,
    WebhooksConfig,
)
from .poll import check_topics

# Sessions are planned up to 60 weeks on; dates near year 9999 would overflow while planning.
EARLIEST_MONDAY, LATEST_MONDAY = dt.date(2000, 1, 1), dt.date(2999, 12, 31)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_TOP_KEYS = {"timezone", "sessions", "mix_it_up", "attendance", "modules", "webhooks", "scheduler", "slack"}
_OPTIONAL_TABLES = {"webhooks", "scheduler", "slack"}
_SESSIONS_KEYS = {"weekday", "start", "duration_minutes", "weeks", "registration"}
_MIX_KEYS = {"weeks", "start", "duration_minutes", "host", "group_size", "upper_modules", "topics"}
_ATTENDANCE_KEYS = {"present_fraction", "late_after_minutes"}
_MODULE_KEYS = {"number", "host", "week1_monday", "skip", "slack_channel"}
_WEBHOOKS_KEYS = {"replay_window_minutes"}
_SLACK_KEYS = {"channel", "reps_channel", "dashboard_url", "prompt_time", "poll_close_before_forming_minutes"}
# Slack's conversation IDs: C… for channels, G… for older private ones (docs.slack.dev/apis/web-api:
# "channel IDs"); the API takes IDs, never names.
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,30}$")
_SCHEDULER_KEYS = {
    "sync_before_minutes",
    "finalize_after_minutes",
    "retry_every_minutes",
    "misfire_grace_minutes",
}


class CalendarError(HomeroomError, ValueError):
    """The calendar has problems; `.problems` lists each one as a line."""


class _Problems:
    """Collects problems while reading; each reader returns None when its value is unusable."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}" if where else message)

    def unknown_keys(self, where: str, table: Mapping[str, Any], known: set[str]) -> None:
        for key in sorted(set(table) - known):
            label = f"{where}.{key}" if where else key
            self.add(label, f"unknown key (expected one of: {', '.join(sorted(known))})")


def parse_calendar(data: Mapping[str, Any]) -> Calendar:
    """Turn the parsed TOML document into a `Calendar`, or raise `CalendarError` with every problem."""
    problems = _Problems()
    problems.unknown_keys("", data, _TOP_KEYS)
    timezone = _timezone(data.get("timezone"), problems)
    sessions = _sessions(_table(data, "sessions", problems), problems)
    mix_it_up = _mix_it_up(_table(data, "mix_it_up", problems), problems)
    attendance = _attendance(_table(data, "attendance", problems), problems)
    webhooks = _webhooks(_table(data, "webhooks", problems), problems)
    scheduler = _scheduler(_table(data, "scheduler", problems), problems)
    slack = _slack(_table(data, "slack", problems), problems)
    modules = _modules(data.get("modules"), problems)
    if sessions and modules:
        _check_skips(sessions, modules, problems)
    if sessions and mix_it_up:
        _check_mix_it_up_fits(sessions, mix_it_up, problems)
    if sessions and slack and slack.prompt_time >= sessions.start:
        problems.add(
            "slack.prompt_time",
            f"{slack.prompt_time:%H:%M} must be before the sessions start ({sessions.start:%H:%M})",
        )
    if problems.lines:
        raise CalendarError(problems.lines)
    assert timezone and sessions and mix_it_up and attendance and modules  # for the type checker
    return Calendar(
        timezone=timezone,
        sessions=sessions,
        mix_it_up=mix_it_up,
        attendance=attendance,
        modules=tuple(modules),
        webhooks=webhooks or WebhooksConfig(),
        scheduler=scheduler or SchedulerConfig(),
        slack=slack or SlackConfig(),
    )


def calendar_warnings(calendar: Calendar) -> list[str]:
    """What works but may not be meant: upper modules (Mix It Up's group leads) missing from [[modules]].

    A calendar of modules 1 and 2 runs its homerooms; only forming Mix It Up groups needs an
    upper-module student, and says so when asked (`services.mixitup.form`).
    """
    upper = calendar.mix_it_up.upper_modules
    missing = [number for number in upper if number not in calendar.module_numbers]
    if not missing:
        return []
    verb = "is" if len(missing) == 1 else "are"
    where = f"mix_it_up.upper_modules: {_modules_phrase(missing)} {verb} not in [[modules]]"
    present = [number for number in upper if number in calendar.module_numbers]
    if present:
        return [f"{where}: only students of {_modules_phrase(present)} can lead a Mix It Up group"]
    return [
        f"{where}: Mix It Up groups cannot be formed (each needs an upper-module student); "
        "the homeroom sessions are not affected"
    ]


def _modules_phrase(numbers: list[int]) -> str:
    word = "module" if len(numbers) == 1 else "modules"
    return f"{word} {', '.join(str(n) for n in numbers)}"


def _table(data: Mapping[str, Any], name: str, problems: _Problems) -> Mapping[str, Any] | None:
    value = data.get(name)
    if value is None:
        if name in _OPTIONAL_TABLES:
            return {}
        problems.add(f"[{name}]", "missing table")
        return None
    if not isinstance(value, Mapping):
        problems.add(name, "must be a table")
        return None
    return value


def _timezone(value: Any, problems: _Problems) -> ZoneInfo | None:
    if value is None:
        problems.add("timezone", 'missing (for example "America/Denver")')
        return None
    if not isinstance(value, str) or not value:
        problems.add("timezone", "must be a time zone name such as America/Denver")
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder of zones
        problems.add("timezone", f"{value[:80]!r} is not a time zone")
        return None


def _required(table: Mapping[str, Any], where: str, key: str, problems: _Problems) -> Any:
    if key not in table:
        problems.add(f"{where}.{key}", "missing")
    return table.get(key)


def _int(value: Any, label: str, problems: _Problems, *, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(label, f"must be a whole number, not {value!r}")
        return None
    if not low <= value <= high:
        problems.add(label, f"{value} is out of range ({low} to {high})")
        return None
    return value


def _bool(value: Any, label: str, problems: _Problems) -> bool | None:
    if isinstance(value, bool):
        return value
    problems.add(label, f"must be true or false, not {value!r}")
    return None


def _time(value: Any, label: str, problems: _Problems) -> dt.time | None:
    if value is None:
        return None
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        parts = value.split(":")
        # isascii(): isdigit() alone also accepts "²", which int() refuses.
        if len(parts) == 2 and all(part.isascii() and part.isdigit() and len(part) == 2 for part in parts):
            hour, minute = int(parts[0]), int(parts[1])
            if hour < 24 and minute < 60:
                return dt.time(hour, minute)
    problems.add(label, f'{value!r} is not a time of day like "13:00"')
    return None


def _date(value: Any, label: str, problems: _Problems) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        problems.add(label, f"{value!r} must be a date without a time, like 2027-01-04")
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.add(label, f"{value!r} is not a date like 2027-01-04")
    return None


def _int_list(
    value: Any, label: str, problems: _Problems, *, low: int = 1, high: int = 60
) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        problems.add(label, f"must be a non-empty list of whole numbers, not {value!r}")
        return None
    numbers = [_int(item, f"{label}[{i}]", problems, low=low, high=high) for i, item in enumerate(value)]
    if any(number is None for number in numbers):
        return None
    if len(set(numbers)) != len(numbers):
        problems.add(label, "lists a number twice")
        return None
    return tuple(sorted(numbers))  # type: ignore[arg-type]


def _read(
    table: Mapping[str, Any] | None,
    where: str,
    known: set[str],
    problems: _Problems,
    build: Callable[[Mapping[str, Any]], Any],
) -> Any:
    if table is None:
        return None
    problems.unknown_keys(where, table, known)
    return build(table)


def _sessions(table: Mapping[str, Any] | None, problems: _Problems) -> SessionsConfig | None:
    def build(t: Mapping[str, Any]) -> SessionsConfig | None:
        weekday_name = _required(t, "sessions", "weekday", problems)
        weekday = None
        if weekday_name is not None:
            if isinstance(weekday_name, str) and weekday_name.lower() in WEEKDAYS:
                weekday = WEEKDAYS.index(weekday_name.lower())
            else:
                problems.add("sessions.weekday", f"{weekday_name!r} is not a day name like wednesday")
        start, duration = _start_and_duration(t, "sessions", problems)
        weeks = _int_list(_required(t, "sessions", "weeks", problems), "sessions.weeks", problems)
        registration = _bool(t.get("registration", False), "sessions.registration", problems)
        if None in (weekday, start, duration, weeks, registration):
            return None
        return SessionsConfig(
            weekday=weekday, start=start, duration_minutes=duration, weeks=weeks, registration=registration
        )

    return _read(table, "sessions", _SESSIONS_KEYS, problems, build)


def _start_and_duration(
    t: Mapping[str, Any], table: str, problems: _Problems
) -> tuple[dt.time | None, int | None]:
    """A table's `start` (HH:MM) and `duration_minutes` (1 to a day), each None when unusable."""
    start = _time(_required(t, table, "start", problems), f"{table}.start", problems)
    duration = _int(
        _required(t, table, "duration_minutes", problems),
        f"{table}.duration_minutes",
        problems,
        low=1,
        high=24 * 60,
    )
    return start, duration


def _mix_it_up(table: Mapping[str, Any] | None, problems: _Problems) -> MixItUpConfig | None:
    def build(t: Mapping[str, Any]) -> MixItUpConfig | None:
        weeks = _int_list(_required(t, "mix_it_up", "weeks", problems), "mix_it_up.weeks", problems)
        start, duration = _start_and_duration(t, "mix_it_up", problems)
        host = _host(_required(t, "mix_it_up", "host", problems), "mix_it_up.host", problems)
        sizes = _group_size(_required(t, "mix_it_up", "group_size", problems), problems)
        upper = _int_list(
            _required(t, "mix_it_up", "upper_modules", problems),
            "mix_it_up.upper_modules",
            problems,
            high=99,
        )
        topics = _topics(t.get("topics", []), "mix_it_up.topics", problems)
        if None in (weeks, start, duration, host, sizes, upper, topics):
            return None
        return MixItUpConfig(
            weeks=weeks,
            start=start,
            duration_minutes=duration,
            host=host,
            group_size=sizes,
            upper_modules=upper,
            topics=topics,
        )

    return _read(table, "mix_it_up", _MIX_KEYS, problems, build)


def _topics(value: Any, label: str, problems: _Problems) -> tuple[str, ...] | None:
    """`[mix_it_up] topics`: the Slack poll's topics (see core.poll.check_topics)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(label, f'must be a list of topics like ["Resume review", "Open source"], not {value!r}')
        return None
    topics, found = check_topics(value)
    for problem in found:
        problems.add(label, problem)
    return None if found else topics


def _group_size(value: Any, problems: _Problems) -> tuple[int, int] | None:
    if value is None:
        return None
    label = "mix_it_up.group_size"
    if not isinstance(value, list) or len(value) != 2:
        problems.add(label, f"must be [min, max], not {value!r}")
        return None
    low = _int(value[0], f"{label}[0]", problems, low=2, high=100)
    high = _int(value[1], f"{label}[1]", problems, low=2, high=100)
    if low is None or high is None:
        return None
    if low > high:
        problems.add(label, f"min {low} is larger than max {high}")
        return None
    return (low, high)


def _host(value: Any, label: str, problems: _Problems) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(label, "must be the Zoom user (email or user id) that hosts the meeting")
        return None
    return value.strip()


def _attendance(table: Mapping[str, Any] | None, problems: _Problems) -> AttendanceConfig | None:
    def build(t: Mapping[str, Any]) -> AttendanceConfig | None:
        fraction = _required(t, "attendance", "present_fraction", problems)
        if fraction is not None and (
            isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1
        ):
            problems.add("attendance.present_fraction", f"{fraction!r} must be above 0 and at most 1")
            fraction = None
        late = _int(
            _required(t, "attendance", "late_after_minutes", problems),
            "attendance.late_after_minutes",
            problems,
            low=0,
            high=24 * 60,
        )
        if fraction is None or late is None:
            return None
        return AttendanceConfig(present_fraction=float(fraction), late_after_minutes=late)

    return _read(table, "attendance", _ATTENDANCE_KEYS, problems, build)


def _webhooks(table: Mapping[str, Any] | None, problems: _Problems) -> WebhooksConfig | None:
    def build(t: Mapping[str, Any]) -> WebhooksConfig | None:
        if "replay_window_minutes" not in t:
            return WebhooksConfig()
        window = _int(
            t["replay_window_minutes"],
            "webhooks.replay_window_minutes",
            problems,
            low=5,
            high=7 * 24 * 60,
        )
        return None if window is None else WebhooksConfig(replay_window_minutes=window)

    return _read(table, "webhooks", _WEBHOOKS_KEYS, problems, build)


def _scheduler(table: Mapping[str, Any] | None, problems: _Problems) -> SchedulerConfig | None:
    def build(t: Mapping[str, Any]) -> SchedulerConfig | None:
        defaults = SchedulerConfig()
        before = defaults.sync_before_minutes
        if "sync_before_minutes" in t:
            before = _int_list(
                t["sync_before_minutes"],
                "scheduler.sync_before_minutes",
                problems,
                high=14 * 24 * 60,
            )
            before = tuple(sorted(before, reverse=True)) if before else None
        numbers = {}
        for key, low in (
            ("finalize_after_minutes", 0),
            ("retry_every_minutes", 5),
            ("misfire_grace_minutes", 1),
        ):
            numbers[key] = (
                _int(t[key], f"scheduler.{key}", problems, low=low, high=7 * 24 * 60)
                if key in t
                else getattr(defaults, key)
            )
        if before is None or None in numbers.values():
            return None
        return SchedulerConfig(sync_before_minutes=before, **numbers)

    return _read(table, "scheduler", _SCHEDULER_KEYS, problems, build)


def _slack(table: Mapping[str, Any] | None, problems: _Problems) -> SlackConfig | None:
    def build(t: Mapping[str, Any]) -> SlackConfig | None:
        defaults = SlackConfig()
        before = len(problems.lines)
        channel = _channel(t.get("channel"), "slack.channel", problems)
        reps = _channel(t.get("reps_channel"), "slack.reps_channel", problems)
        url = _dashboard_url(t.get("dashboard_url"), problems)
        if reps and "dashboard_url" not in t:
            problems.add("slack.dashboard_url", "missing: the reps' digest links to session pages under it")
        prompt_time = _time(t.get("prompt_time"), "slack.prompt_time", problems) or defaults.prompt_time
        close = _int(
            t.get("poll_close_before_forming_minutes"),
            "slack.poll_close_before_forming_minutes",
            problems,
            low=0,
            high=7 * 24 * 60,
        )
        if len(problems.lines) > before:
            return None
        return SlackConfig(
            channel=channel,
            reps_channel=reps,
            dashboard_url=url,
            prompt_time=prompt_time,
            poll_close_before_forming_minutes=defaults.poll_close_before_forming_minutes
            if close is None
            else close,
        )

    return _read(table, "slack", _SLACK_KEYS, problems, build)


def _channel(value: Any, label: str, problems: _Problems) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and _CHANNEL_ID.match(value.strip()):
        return value.strip()
    if isinstance(value, str) and value.strip().startswith("#"):
        problems.add(
            label,
            f"{value[:80]!r} is a channel name: use the channel's ID (in Slack: the channel's name, "
            "then the bottom of its details, C0…)",
        )
    else:
        problems.add(label, f"{str(value)[:80]!r} is not a Slack channel ID (C0…)")
    return None


def _dashboard_url(value: Any, problems: _Problems) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        problems.add("slack.dashboard_url", f"{str(value)[:80]!r} is not the dashboard's http(s) address")
        return None
    return value.rstrip("/")


def _modules(value: Any, problems: _Problems) -> list[ModuleConfig] | None:
    if value is None:
        problems.add("[[modules]]", "missing: the calendar needs at least one module")
        return None
    if not isinstance(value, list) or not value:
        problems.add("modules", "must be one or more [[modules]] tables")
        return None
    modules: list[ModuleConfig] = []
    for index, table in enumerate(value):
        module = _module(table, f"modules[{index}]", problems)
        if module is not None:
            modules.append(module)
    numbers = [module.number for module in modules]
    for number in sorted({n for n in numbers if numbers.count(n) > 1}):
        problems.add("modules", f"module {number} is listed more than once")
    if len(modules) != len(value):
        return None
    return sorted(modules, key=lambda module: module.number)


def _module(table: Any, where: str, problems: _Problems) -> ModuleConfig | None:
    if not isinstance(table, Mapping):
        problems.add(where, "must be a table")
        return None
    problems.unknown_keys(where, table, _MODULE_KEYS)
    number = _int(_required(table, where, "number", problems), f"{where}.number", problems, low=1, high=99)
    if number is not None:
        where = f"module {number}"
    host = _host(_required(table, where, "host", problems), f"{where}.host", problems)
    monday = _date(_required(table, where, "week1_monday", problems), f"{where}.week1_monday", problems)
    if monday is not None and monday.weekday() != 0:
        problems.add(
            f"{where}.week1_monday",
            f"{monday.isoformat()} is a {WEEKDAYS[monday.weekday()].title()}, not a Monday",
        )
        monday = None
    if monday is not None and not EARLIEST_MONDAY <= monday <= LATEST_MONDAY:
        problems.add(f"{where}.week1_monday", f"{monday.isoformat()} is not a plausible start of a program")
        monday = None
    skip = _skip_dates(table.get("skip", []), f"{where}.skip", problems)
    before = len(problems.lines)
    channel = _channel(table.get("slack_channel"), f"{where}.slack_channel", problems)
    if None in (number, host, monday, skip) or len(problems.lines) > before:
        return None
    return ModuleConfig(number=number, host=host, week1_monday=monday, skip=skip, slack_channel=channel)


def _skip_dates(value: Any, label: str, problems: _Problems) -> tuple[dt.date, ...] | None:
    if not isinstance(value, list):
        problems.add(label, f'must be a list of dates like ["2027-01-20"], not {value!r}')
        return None
    dates = [_date(item, f"{label}[{i}]", problems) for i, item in enumerate(value)]
    if any(day is None for day in dates):
        return None
    return tuple(sorted(set(dates)))  # type: ignore[arg-type]


def _check_skips(sessions: SessionsConfig, modules: list[ModuleConfig], problems: _Problems) -> None:
    for module in modules:
        session_dates = {session_date(module.week1_monday, week, sessions.weekday) for week in sessions.weeks}
        for day in module.skip:
            if day not in session_dates:
                problems.add(
                    f"module {module.number}.skip",
                    f"{day.isoformat()} is not one of the module's session dates "
                    f"({', '.join(d.isoformat() for d in sorted(session_dates))})",
                )


def _check_mix_it_up_fits(sessions: SessionsConfig, mix: MixItUpConfig, problems: _Problems) -> None:
    for week in mix.weeks:
        if week not in sessions.weeks:
            problems.add("mix_it_up.weeks", f"week {week} is not in sessions.weeks")
    start = _minutes(sessions.start)
    end = start + sessions.duration_minutes
    mix_start = _minutes(mix.start)
    if not start < mix_start < end:
        problems.add(
            "mix_it_up.start",
            f"{mix.start:%H:%M} must fall inside the session ({sessions.start:%H:%M} for "
            f"{sessions.duration_minutes} minutes)",
        )


def _minutes(time: dt.time) -> int:
    return time.hour * 60 + time.minute


def session_date(week1_monday: dt.date, week: int, weekday: int) -> dt.date:
    """The local date of the session in `week` (1-based) of a calendar starting on `week1_monday`."""
    return week1_monday + dt.timedelta(weeks=week - 1, days=weekday)
