"""Time as the code takes it: a `Clock` and a `Sleep` passed in, so tests pin time and never wait.

`utc_now` is the real clock, the default at the edges; nothing else reads the time of day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], None]


def utc_now() -> dt.datetime:
    """The real clock: now, aware and in UTC."""
    return dt.datetime.now(dt.UTC)
