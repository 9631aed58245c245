"""Occurrences of a recurring meeting, computed in the meeting's own time zone as Zoom does.

A series at 13:00 America/Denver stays at 13:00 local time across daylight-saving changes, so its
UTC hour moves. Zoom numbers weekdays 1..7 from Sunday and names each occurrence by its start in
epoch milliseconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
DAILY, WEEKLY, MONTHLY = 1, 2, 3
MAX_OCCURRENCES = 60  # Zoom's cap on the number of occurrences of a series
MAX_INTERVAL = {DAILY: 90, WEEKLY: 12}


class RecurrenceError(ValueError):
    """A `recurrence` object Zoom would refuse; `.field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Recurrence:
    """A validated `recurrence` object (daily or weekly)."""

    type: int
    repeat_interval: int = 1
    weekly_days: tuple[int, ...] = ()  # Zoom numbering: 1 = Sunday … 7 = Saturday
    end_times: int | None = None
    end_date_time: dt.datetime | None = None

    def to_json(self) -> dict[str, object]:
        """The object as Zoom returns it."""
        body: dict[str, object] = {"type": self.type, "repeat_interval": self.repeat_interval}
        if self.type == WEEKLY:
            body["weekly_days"] = ",".join(str(day) for day in self.weekly_days)
        if self.end_date_time is not None:
            body["end_date_time"] = self.end_date_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            body["end_times"] = self.end_times if self.end_times is not None else 1
        return body


def parse_recurrence(data: object) -> Recurrence:
    """Validate a `recurrence` request object. Raises RecurrenceError naming the field."""
    if not isinstance(data, dict):
        raise RecurrenceError("recurrence", "recurrence must be an object")
    kind = data.get("type")
    if kind == MONTHLY:
        raise RecurrenceError("recurrence.type", "the sandbox supports daily (1) and weekly (2) recurrence")
    if kind not in (DAILY, WEEKLY):
        raise RecurrenceError(
            "recurrence.type", "recurrence.type must be 1 (daily), 2 (weekly) or 3 (monthly)"
        )
    interval = data.get("repeat_interval", 1)
    if not _is_int(interval) or not 1 <= interval <= MAX_INTERVAL[kind]:
        raise RecurrenceError(
            "recurrence.repeat_interval",
            f"recurrence.repeat_interval must be an integer from 1 to {MAX_INTERVAL[kind]}",
        )
    days = _weekly_days(data.get("weekly_days")) if kind == WEEKLY else ()
    end_times, end_date_time = _end(data)
    return Recurrence(kind, interval, days, end_times, end_date_time)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _weekly_days(value: object) -> tuple[int, ...]:
    # The spec shows one day; Zoom also takes a comma-separated list ("2,4"), which calendars need.
    text = str(value) if _is_int(value) else value
    if not isinstance(text, str) or not text.strip():
        raise RecurrenceError(
            "recurrence.weekly_days", "weekly recurrence needs weekly_days ('1'..'7', 1 = Sunday)"
        )
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if part not in {"1", "2", "3", "4", "5", "6", "7"}:
            raise RecurrenceError(
                "recurrence.weekly_days", f"weekly_days: {part!r} is not a day from '1' to '7'"
            )
        days.add(int(part))
    return tuple(sorted(days))


def _end(data: dict[str, object]) -> tuple[int | None, dt.datetime | None]:
    end_times, end_date_time = data.get("end_times"), data.get("end_date_time")
    if end_times is not None and end_date_time is not None:
        raise RecurrenceError("recurrence.end_times", "use end_times or end_date_time, not both")
    if end_date_time is not None:
        try:
            moment = dt.datetime.fromisoformat(str(end_date_time).replace("Z", "+00:00"))
        except ValueError:
            raise RecurrenceError(
                "recurrence.end_date_time", "end_date_time must be a UTC date-time"
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return None, moment.astimezone(UTC)
    if end_times is None:
        return None, None
    if not _is_int(end_times) or not 0 <= end_times <= MAX_OCCURRENCES:
        raise RecurrenceError(
            "recurrence.end_times", f"end_times must be an integer from 0 to {MAX_OCCURRENCES}"
        )
    return end_times, None


def occurrence_starts(start: dt.datetime, zone: ZoneInfo, recurrence: Recurrence) -> list[dt.datetime]:
    """UTC starts of every occurrence: the series' local wall time on each recurring date."""
    local = start.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    limit = MAX_OCCURRENCES
    if recurrence.end_date_time is None and recurrence.end_times:
        limit = recurrence.end_times
    elif recurrence.end_date_time is None and recurrence.end_times is None:
        limit = 1  # Zoom's default end_times
    starts: list[dt.datetime] = []
    for day in _dates(local.date(), recurrence):
        moment = dt.datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
        if moment < start.astimezone(UTC):
            continue
        if recurrence.end_date_time is not None and moment > recurrence.end_date_time:
            break
        starts.append(moment)
        if len(starts) >= limit:
            break
    return starts


def _dates(first: dt.date, recurrence: Recurrence) -> Iterator[dt.date]:
    if recurrence.type == DAILY:
        return _daily_dates(first, recurrence.repeat_interval)
    return _weekly_dates(first, recurrence.repeat_interval, recurrence.weekly_days)


def _daily_dates(first: dt.date, interval: int) -> Iterator[dt.date]:
    for step in itertools.count():
        yield first + dt.timedelta(days=step * interval)


def _weekly_dates(first: dt.date, interval: int, days: tuple[int, ...]) -> Iterator[dt.date]:
    sunday = first - dt.timedelta(days=(first.weekday() + 1) % 7)  # Zoom's weeks start on Sunday
    for week in itertools.count():
        base = sunday + dt.timedelta(weeks=week * interval)
        for day in days:
            date = base + dt.timedelta(days=day - 1)
            if date >= first:
                yield date


def occurrence_id(start: dt.datetime) -> str:
    """Zoom's occurrence id: the occurrence's start in epoch milliseconds, as text."""
    return str(int(start.timestamp() * 1000))
