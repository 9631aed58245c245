"""When sessions happen: each module's weekly homeroom and the Mix It Up half hour, as UTC windows.

Pure functions over the validated `Calendar`: no clock (callers pass `now`), no I/O. Local wall times
are converted to UTC with zoneinfo for each date on its own, so a session stays at 13:00 local across
daylight-saving changes while its UTC instant moves.

Mix It Up mixes every module, so it needs one date per Mix It Up week even when modules' calendars differ.
The rule: week W's Mix It Up is on week W's session day of the calendar (week 1 Monday) that most modules
share; when the count ties, the earliest of those Mondays decides. A homeroom held on a Mix It Up date
ends when Mix It Up starts, whichever of its own weeks that date is.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from .calendar import WEEKDAYS, session_date
from .errors import HomeroomError
from .models import HOMEROOM, MIX_IT_UP, SESSION_KINDS, Calendar, ModuleConfig, PlannedSession, SessionKind

UTC = dt.UTC


class PlanningError(HomeroomError, ValueError):
    """The request cannot be planned (unknown module or kind, a week that is not a Mix It Up week, ...)."""


def plan_sessions(
    calendar: Calendar,
    *,
    module: int | None = None,
    kinds: Iterable[SessionKind] = SESSION_KINDS,
) -> list[PlannedSession]:
    """Every planned session, sorted by start then module.

    With `module`, only that module's homeroom sessions (never Mix It Up). Raises PlanningError for
    a module the calendar does not have or an unknown kind.
    """
    wanted = _check_kinds(kinds)
    modules = calendar.modules if module is None else (_module(calendar, module),)
    mix_dates = {mix_it_up_date(calendar, week) for week in calendar.mix_it_up.weeks}
    sessions: list[PlannedSession] = []
    if HOMEROOM in wanted:
        for config in modules:
            sessions.extend(_homeroom_sessions(calendar, config, mix_dates))
    if MIX_IT_UP in wanted and module is None:
        sessions.extend(_mix_it_up_session(calendar, week) for week in calendar.mix_it_up.weeks)
    return sorted(sessions, key=_session_order)


def mix_it_up_date(calendar: Calendar, week: int) -> dt.date:
    """The local date of week `week`'s Mix It Up, on the calendar most modules share.

    Raises PlanningError when `week` is not one of `mix_it_up.weeks`.
    """
    if week not in calendar.mix_it_up.weeks:
        weeks = ", ".join(str(w) for w in calendar.mix_it_up.weeks)
        raise PlanningError(f"week {week} is not a Mix It Up week (mix_it_up.weeks: {weeks})")
    return session_date(_reference_monday(calendar), week, calendar.sessions.weekday)


def unplannable_modules(calendar: Calendar) -> list[str]:
    """A problem for each module whose `skip` removes every one of its homeroom sessions: there would
    be no meeting to create (sync and plan refuse it)."""
    problems = []
    for config in calendar.modules:
        if not _homeroom_sessions(calendar, config, set()):
            days = ", ".join(str(day) for day in sorted(config.skip))
            problems.append(
                f"module {config.number}: skip removes every session (skipped: {days}); "
                "remove some skip dates, or the module"
            )
    return problems


def calendar_notes(calendar: Calendar) -> list[str]:
    """Plain sentences about Mix It Up dates where modules' calendars differ or a module skips the day.

    Empty when every module shares one calendar and no Mix It Up date is a skip date.
    """
    notes: list[str] = []
    aligned = len({config.week1_monday for config in calendar.modules}) == 1
    for week in calendar.mix_it_up.weeks:
        if not aligned:
            notes.append(_mix_it_up_rule_note(calendar, week))
            notes.extend(_misaligned_module_notes(calendar, week))
        notes.extend(_skip_notes(calendar, week))
    return notes


def next_session(sessions: Sequence[PlannedSession], now: dt.datetime) -> PlannedSession | None:
    """The earliest-starting session still running or to come at `now` (aware), or None."""
    upcoming = [session for session in sessions if session.end > now]
    return min(upcoming, key=_session_order, default=None)


def sessions_between(
    sessions: Sequence[PlannedSession], start: dt.datetime, end: dt.datetime
) -> list[PlannedSession]:
    """The sessions starting in [start, end), in start order."""
    return sorted((s for s in sessions if start <= s.start < end), key=_session_order)


def forming_at(calendar: Calendar, session: PlannedSession) -> dt.datetime:
    """When the scheduler forms a Mix It Up session's groups: at its first sync (unless formed before)."""
    return session.start - dt.timedelta(minutes=max(calendar.scheduler.sync_before_minutes))


def poll_closes_at(calendar: Calendar, session: PlannedSession) -> dt.datetime:
    """When the scheduler closes a Mix It Up session's Slack poll: `[slack]
    poll_close_before_forming_minutes` before the groups are formed."""
    before = dt.timedelta(minutes=calendar.slack.poll_close_before_forming_minutes)
    return forming_at(calendar, session) - before


def local_to_utc(day: dt.date, time: dt.time, timezone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall time on `day` in `timezone`.

    zoneinfo applies the offset in force on that date, which is what keeps 13:00 at 13:00 across DST.
    """
    return dt.datetime.combine(day, time, tzinfo=timezone).astimezone(UTC)


def zoom_weekday(weekday: int) -> int:
    """Python's weekday (0 = Monday) as Zoom numbers days (1 = Sunday ... 7 = Saturday)."""
    return (weekday + 1) % 7 + 1


def _check_kinds(kinds: Iterable[str]) -> set[str]:
    wanted = set(kinds)
    unknown = sorted(wanted - set(SESSION_KINDS))
    if unknown:
        raise PlanningError(
            f"unknown session kind {', '.join(unknown)} (expected {' or '.join(SESSION_KINDS)})"
        )
    return wanted


def _module(calendar: Calendar, number: int) -> ModuleConfig:
    try:
        return calendar.module(number)
    except KeyError:
        known = ", ".join(str(n) for n in calendar.module_numbers)
        raise PlanningError(f"module {number} is not in the calendar (modules: {known})") from None


def _homeroom_sessions(
    calendar: Calendar, config: ModuleConfig, mix_dates: set[dt.date]
) -> list[PlannedSession]:
    sessions = []
    for week in calendar.sessions.weeks:
        day = session_date(config.week1_monday, week, calendar.sessions.weekday)
        if day in config.skip:
            continue
        start = local_to_utc(day, calendar.sessions.start, calendar.timezone)
        if day in mix_dates:
            # The students leave for Mix It Up, so the homeroom half ends when it starts.
            end = local_to_utc(day, calendar.mix_it_up.start, calendar.timezone)
        else:
            # Minutes of real time: a session that spanned a DST change still lasts its duration.
            end = start + dt.timedelta(minutes=calendar.sessions.duration_minutes)
        sessions.append(PlannedSession(HOMEROOM, config.number, week, day, start, end))
    return sessions


def _mix_it_up_session(calendar: Calendar, week: int) -> PlannedSession:
    day = mix_it_up_date(calendar, week)
    start = local_to_utc(day, calendar.mix_it_up.start, calendar.timezone)
    end = start + dt.timedelta(minutes=calendar.mix_it_up.duration_minutes)
    return PlannedSession(MIX_IT_UP, None, week, day, start, end)


def _session_order(session: PlannedSession) -> tuple[dt.datetime, bool, int]:
    return (session.start, session.module is None, session.module or 0)


def _reference_monday(calendar: Calendar) -> dt.date:
    counts = Counter(config.week1_monday for config in calendar.modules)
    # Most modules first; among equals, the earliest Monday.
    return min(counts, key=lambda monday: (-counts[monday], monday))


def _mix_it_up_rule_note(calendar: Calendar, week: int) -> str:
    reference = _reference_monday(calendar)
    counts = Counter(config.week1_monday for config in calendar.modules)
    sharing = _modules_phrase([c.number for c in calendar.modules if c.week1_monday == reference])
    tied = sum(1 for count in counts.values() if count == counts[reference]) > 1
    if tied:
        why = (
            "as many modules follow each calendar, the earliest week 1 "
            f"(Monday {reference}, {sharing}) decides"
        )
    else:
        why = f"it follows the calendar most modules share ({sharing}, week 1 Monday {reference})"
    return (
        f"Mix It Up week {week} is on {_day(mix_it_up_date(calendar, week))} at "
        f"{calendar.mix_it_up.start:%H:%M}: modules start on different Mondays and {why}."
    )


def _misaligned_module_notes(calendar: Calendar, week: int) -> list[str]:
    mix_day = mix_it_up_date(calendar, week)
    notes = []
    for config in calendar.modules:
        own_day = session_date(config.week1_monday, week, calendar.sessions.weekday)
        if own_day == mix_day:
            continue
        held = _homeroom_week_on(calendar, config, mix_day)
        that_day = (
            f"their week {held} homeroom that day ends at {calendar.mix_it_up.start:%H:%M}"
            if held is not None
            else "they have no homeroom half that day"
        )
        notes.append(
            f"Module {config.number}'s own week {week} is {_day(own_day)}, not the Mix It Up "
            f"date: its students join Mix It Up week {week} on {mix_day.isoformat()} and {that_day}."
        )
    return notes


def _skip_notes(calendar: Calendar, week: int) -> list[str]:
    mix_day = mix_it_up_date(calendar, week)
    skipping = [config.number for config in calendar.modules if mix_day in config.skip]
    if not skipping:
        return []
    return [
        f"Mix It Up week {week} ({_day(mix_day)}) is a skip date of "
        f"{_modules_phrase(skipping)}: Mix It Up still meets that day, without a homeroom half for "
        f"{'that module' if len(skipping) == 1 else 'those modules'}."
    ]


def _homeroom_week_on(calendar: Calendar, config: ModuleConfig, day: dt.date) -> int | None:
    for week in calendar.sessions.weeks:
        if session_date(config.week1_monday, week, calendar.sessions.weekday) == day:
            return None if day in config.skip else week
    return None


def _day(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()].title()} {day.isoformat()}"


def _modules_phrase(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return f"module {numbers[0]}"
    return f"modules {', '.join(str(n) for n in numbers[:-1])} and {numbers[-1]}"
