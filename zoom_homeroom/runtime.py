"""What a command, a scheduled job or the demo needs, built lazily from settings.

The web app keeps its own per-thread storage (see `web.py`); everything else uses a `Runtime`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .core.models import Calendar
from .settings import Settings, load_calendar
from .storage import Storage

if TYPE_CHECKING:
    from .zoom.client import ZoomClient

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock; everything else takes a `Clock` so tests can pin time."""
    return dt.datetime.now(dt.UTC)


@dataclass
class Runtime:
    """Settings plus the objects built from them, created on first use."""

    settings: Settings
    clock: Clock = utc_now
    sleep: Callable[[float], None] = time.sleep
    calendar_override: Calendar | None = field(default=None, repr=False)
    zoom_client: ZoomClient | None = field(default=None, repr=False)  # shared by a long-running process

    @cached_property
    def calendar(self) -> Calendar:
        return self.calendar_override or load_calendar(self.settings.config_path)

    @cached_property
    def storage(self) -> Storage:
        return Storage.open(self.settings.database)

    @cached_property
    def zoom(self) -> ZoomClient:
        if self.zoom_client is not None:
            return self.zoom_client
        from .zoom import make_client

        self.settings.require_zoom()
        return make_client(self.settings, sleep=self.sleep, clock=self.clock)

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        if "storage" in self.__dict__:
            self.storage.close()
