"""Flask glue shared by the blueprints: per-thread storage and accessors for the app's objects."""

from __future__ import annotations

import datetime as dt
import threading

from flask import Flask, current_app

from ..core.models import Calendar
from ..runtime import Clock
from ..settings import Settings
from ..storage import Storage

_EXTENSION = "zoom_homeroom"


class _AppState:
    """What create_app stores on the app; one storage connection per worker thread."""

    def __init__(self, settings: Settings, calendar: Calendar, clock: Clock):
        self.settings = settings
        self.calendar = calendar
        self.clock = clock
        self._local = threading.local()

    def storage(self) -> Storage:
        # A connection per thread, reused across requests: opening one per request would cost
        # more than the webhook's own work. Gunicorn's sync workers run one thread each.
        storage = getattr(self._local, "storage", None)
        if storage is None:
            storage = Storage.open(self.settings.database, migrate=False)
            self._local.storage = storage
        return storage


def init_app(app: Flask, settings: Settings, calendar: Calendar, clock: Clock) -> None:
    app.extensions[_EXTENSION] = _AppState(settings, calendar, clock)


def _state() -> _AppState:
    return current_app.extensions[_EXTENSION]


def get_storage() -> Storage:
    return _state().storage()


def get_settings() -> Settings:
    return _state().settings


def get_calendar() -> Calendar:
    return _state().calendar


def now() -> dt.datetime:
    """The app's clock (injected by tests and the demo)."""
    return _state().clock()
