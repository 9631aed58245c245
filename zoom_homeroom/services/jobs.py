"""Scheduled jobs: load, call the services, save, log. Module-level functions that take ids.

The scheduler passes only ids (a module number, a week, a session key); each run builds its own
Runtime from the environment, so a long-running scheduler picks up a changed roster or calendar.
Tests pass a Runtime instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..runtime import Runtime
from ..settings import load_settings
from ..zoom import ZoomClient, make_client
from . import backfill
from .intake import process_pending
from .mixitup import ensure_formed, sync_week
from .sync import sync_homeroom

if TYPE_CHECKING:
    from ..slack import SlackClient

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[], Runtime]


def _environment_runtime() -> Runtime:
    return Runtime(load_settings())


runtime_factory: RuntimeFactory = _environment_runtime


def share_clients() -> None:
    """Make every job of this process use one Zoom client, so its OAuth token (valid an hour) is
    reused across jobs instead of fetched for each, and one Slack client, whose cache of users' emails
    lasts. The scheduler process calls this once."""
    global runtime_factory
    zoom: dict[str, ZoomClient] = {}
    slack: dict[str, SlackClient] = {}

    def factory() -> Runtime:
        settings = load_settings()
        if "client" not in zoom and not settings.missing_zoom_credentials():
            zoom["client"] = make_client(settings)
        if "client" not in slack and settings.slack_bot_token:
            # Imported here: slack-sdk loads only where Slack is set up.
            from ..slack import make_client as make_slack_client

            slack["client"] = make_slack_client(settings)
        return Runtime(settings, zoom_client=zoom.get("client"), slack_client=slack.get("client"))

    runtime_factory = factory


def _run(runtime: Runtime | None, job: Callable[[Runtime], None]) -> None:
    owned = runtime is None
    runtime = runtime or runtime_factory()
    try:
        job(runtime)
    finally:
        if owned:
            runtime.close()


def sync_module(module: int, *, runtime: Runtime | None = None) -> None:
    """Bring module `module`'s meeting and breakout rooms up to date (24 h and 1 h before sessions)."""

    def job(runtime: Runtime) -> None:
        result = sync_homeroom(runtime, module)
        log.info("sync Mod %s: %s", module, "; ".join(result.actions) or "up to date")

    _run(runtime, job)


def sync_mix_it_up(week: int, *, runtime: Runtime | None = None) -> None:
    """Form week `week`'s Mix It Up groups if not formed yet (closing its Slack poll first, if it is still
    open: no pick may arrive once groups are formed), then sync its meeting."""

    def job(runtime: Runtime) -> None:
        _close_poll(runtime, week)
        formed = ensure_formed(runtime, week)
        if formed:
            log.info("Mix It Up week %s: %s", week, formed)
        result = sync_week(runtime, week)
        log.info("sync Mix It Up week %s: %s", week, "; ".join(result.actions) or "up to date")

    _run(runtime, job)


def finalize_session(session_key: str, *, runtime: Runtime | None = None) -> None:
    """Backfill one session from Zoom's reports after it ended; it stays pending if anything failed."""

    def job(runtime: Runtime) -> None:
        session = runtime.storage.session(session_key)
        if session is None or session.final:
            return
        if session.end > runtime.now():
            log.info("finalize %s: not over yet", session_key)
            return
        result = backfill.backfill(runtime, session)
        log.info("finalize %s: %s", session_key, result.message)
        if result.final:
            _post_digests(runtime)

    _run(runtime, job)


def finalize_pending(*, runtime: Runtime | None = None) -> None:
    """Retry every pending session whose end (plus the configured delay) has passed."""

    def job(runtime: Runtime) -> None:
        for session in backfill.due_for_backfill(runtime.storage, runtime.calendar, runtime.now()):
            result = backfill.backfill(runtime, session)
            log.info("finalize %s: %s", session.key, result.message)
        _post_digests(runtime)  # also what an earlier run could not post, and what reps resolved since

    _run(runtime, job)


def process_deliveries(*, runtime: Runtime | None = None) -> None:
    """Turn webhook deliveries stored since the last run into attendance edges, and apply Slack poll
    picks a web worker stored but could not apply (every minute)."""

    def job(runtime: Runtime) -> None:
        done = process_pending(runtime.storage, runtime.calendar, now=runtime.now())
        if done:
            log.info("processed %d webhook deliveries", done)
        if runtime.slack_enabled and runtime.storage.pending_slack_picks():
            # Imported here: slack-sdk loads only where Slack is set up.
            from . import slack

            log.info("applied %d Slack poll picks", slack.process_picks(runtime))

    _run(runtime, job)


def close_poll(week: int, *, runtime: Runtime | None = None) -> None:
    """Close week `week`'s Slack poll, if it is open (a configurable time before the groups are formed)."""
    _run(runtime, lambda runtime: _close_poll(runtime, week))


def post_prompt(module: int, day: str, *, runtime: Runtime | None = None) -> None:
    """Post module `module`'s weekly prompt for its session on `day` (ISO date) to its Slack channel."""

    def job(runtime: Runtime) -> None:
        # Imported here: slack-sdk loads only where Slack is set up.
        from . import slack

        kept = slack.post_prompt(runtime, module, dt.date.fromisoformat(day))
        log.info("prompt Mod %s %s: %s", module, day, kept or "nothing to post")

    _run(runtime, job)


def _close_poll(runtime: Runtime, week: int) -> None:
    if not runtime.slack_enabled:
        return
    # Imported here: slack-sdk loads only where Slack is set up.
    from . import slack

    try:
        closed = slack.close_open_poll(runtime, week)
    except slack.SlackServiceError as error:
        # Closed for picks all the same (that is stored first); only the message could not be edited.
        log.error("Mix It Up week %s: %s", week, error)
        return
    if closed is not None:
        log.info("Mix It Up week %s: poll closed, %d students answered in Slack", week, closed.respondents)


def _post_digests(runtime: Runtime) -> None:
    if not runtime.slack_enabled:
        return
    # Imported here: slack-sdk loads only where Slack is set up.
    from . import slack

    for day, kept in slack.post_digests(runtime).items():
        if kept != "unchanged":
            log.info("reps' digest of %s: %s", day, kept)
