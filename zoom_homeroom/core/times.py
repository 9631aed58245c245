"""UTC text conventions shared by storage, the API and Zoom payloads."""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC


def to_utc_text(moment: dt.datetime) -> str:
    """`2027-01-06T20:00:00Z`: aware datetimes only, seconds precision, as Zoom writes them."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: every datetime inside the code is aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_text(text: str) -> dt.datetime:
    """Parse ISO-8601 text (with `Z` or an offset) into an aware UTC datetime.

    Raises ValueError for text without a time zone: a naive time from outside is ambiguous.
    """
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)
