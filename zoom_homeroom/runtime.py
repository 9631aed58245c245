"""The one service container: settings and what is built from them, for the web app, the CLI, the
scheduler's jobs and the demo.

The calendar and the Zoom and Slack clients are built on first use. Storage is per thread: `storage` is the
connection the calling thread holds (see `StoragePool`), and the web app hands it back at the end of
every request (`release_storage`). Entry points build a Runtime and pass it to the services.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .clock import Clock, Sleep, utc_now
from .core.models import Calendar
from .settings import Settings, load_calendar
from .storage import GroupCommit, Storage, StoragePool

if TYPE_CHECKING:
    from flask import Flask

    from .slack.client import SlackClient
    from .zoom.client import ZoomClient

_APP_EXTENSION = "zoom_homeroom"


@dataclass
class Runtime:
    """Settings plus the objects built from them, created on first use."""

    settings: Settings
    clock: Clock = utc_now
    sleep: Sleep = time.sleep
    calendar_override: Calendar | None = field(default=None, repr=False)
    zoom_client: ZoomClient | None = field(default=None, repr=False)  # shared by a long-running process
    slack_client: SlackClient | None = field(default=None, repr=False)  # likewise
    _storages: StoragePool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._storages = StoragePool(self.settings.database)

    @cached_property
    def calendar(self) -> Calendar:
        return self.calendar_override or load_calendar(self.settings.config_path)

    @property
    def storage(self) -> Storage:
        """The calling thread's connection, opened (and the schema migrated) on first use."""
        return self._storages.current()

    @cached_property
    def durable_writes(self) -> GroupCommit[Storage]:
        """Durable writes shared by this process's threads: one commit and fsync for whatever they
        queue meanwhile (the webhook's store), on a connection of its own."""
        return GroupCommit(lambda: Storage.open(self.settings.database))

    def release_storage(self) -> None:
        """Hand back the calling thread's connection: it is done with it for now."""
        self._storages.release()

    @cached_property
    def zoom(self) -> ZoomClient:
        if self.zoom_client is not None:
            return self.zoom_client
        # Imported here: requests and authlib load only for the commands and jobs that call Zoom.
        from .zoom import make_client

        self.settings.require_zoom()
        return make_client(self.settings, sleep=self.sleep, clock=self.clock)

    @cached_property
    def slack(self) -> SlackClient:
        """The Slack client (one per process: it caches users' emails). ConfigError without a bot token."""
        if self.slack_client is not None:
            return self.slack_client
        # Imported here: slack-sdk loads only for the commands and jobs that talk to Slack.
        from .slack import make_client as make_slack_client

        return make_slack_client(self.settings, sleep=self.sleep, clock=self.clock)

    @property
    def slack_enabled(self) -> bool:
        """Whether the service may post to Slack: a bot token is set (or a client was handed in)."""
        return self.slack_client is not None or bool(self.settings.slack_bot_token)

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        if "durable_writes" in self.__dict__:
            self.durable_writes.close()
        self._storages.close()

    # -- as a web app's container ---------------------------------------------------------------

    def install(self, app: Flask) -> None:
        """Make this the web app's Runtime (`Runtime.of(app)`); each request hands its connection back
        when it ends, so a threaded server keeps open only what it serves at once."""
        app.extensions[_APP_EXTENSION] = self
        app.teardown_appcontext(lambda _error: self.release_storage())

    @staticmethod
    def of(app: Flask) -> Runtime:
        """The Runtime a web app was given by `install`."""
        return app.extensions[_APP_EXTENSION]
