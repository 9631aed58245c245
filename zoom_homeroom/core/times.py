"""UTC text conventions shared by storage, the API and Zoom payloads, and how Zoom times are read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


def to_utc_text(moment: dt.datetime) -> str:
    """`2027-01-06T20:00:00Z`: aware datetimes only, seconds precision, as Zoom writes them."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: every datetime inside the code is aware")
    # isoformat, not strftime: the same text in a third of the time (every stored delivery pays it).
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_utc_text(text: str, *, zone: str | None = None) -> dt.datetime:
    """Parse ISO-8601 text (with `Z` or an offset) into an aware UTC datetime.

    Text without an offset is local wall time in `zone`: how Zoom reads a request body's `start_time`
    in its `timezone` (Zoom itself always answers in UTC with `Z`). Raises ValueError for text that is
    not ISO-8601, for an unknown `zone`, and for text without an offset when no `zone` is given: a naive
    time from outside is ambiguous.
    """
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        if not zone:
            raise ValueError(f"{text!r} has no time zone")
        moment = moment.replace(tzinfo=_zone(zone))
    return moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone") from None
