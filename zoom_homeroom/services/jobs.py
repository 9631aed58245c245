"""Scheduled jobs: load, call the services, save, log. Module-level functions that take ids.

The scheduler passes only ids (a module number, a week, a session key); each run builds its own
Runtime from the environment, so a long-running scheduler picks up a changed roster or calendar.
Tests pass a Runtime instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..runtime import Runtime
from ..settings import load_settings
from ..zoom import ZoomClient, make_client
from . import backfill
from .intake import process_pending
from .mixitup import ensure_formed, sync_week
from .sync import sync_homeroom

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[], Runtime]


def _environment_runtime() -> Runtime:
    return Runtime(load_settings())


runtime_factory: RuntimeFactory = _environment_runtime


def share_zoom_client() -> None:
    """Make every job of this process use one Zoom client, so its OAuth token (valid an hour) is
    reused across jobs instead of fetched for each. The scheduler process calls this once."""
    global runtime_factory
    shared: dict[str, ZoomClient] = {}

    def factory() -> Runtime:
        settings = load_settings()
        if "client" not in shared and not settings.missing_zoom_credentials():
            shared["client"] = make_client(settings)
        return Runtime(settings, zoom_client=shared.get("client"))

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
    """Form week `week`'s Mix It Up groups if not formed yet, then sync its meeting."""

    def job(runtime: Runtime) -> None:
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

    _run(runtime, job)


def finalize_pending(*, runtime: Runtime | None = None) -> None:
    """Retry every pending session whose end (plus the configured delay) has passed."""

    def job(runtime: Runtime) -> None:
        for session in backfill.due_for_backfill(runtime.storage, runtime.calendar, runtime.now()):
            result = backfill.backfill(runtime, session)
            log.info("finalize %s: %s", session.key, result.message)

    _run(runtime, job)


def process_deliveries(*, runtime: Runtime | None = None) -> None:
    """Turn webhook deliveries stored since the last run into attendance edges (every minute)."""

    def job(runtime: Runtime) -> None:
        done = process_pending(runtime.storage, runtime.calendar, now=runtime.now())
        if done:
            log.info("processed %d webhook deliveries", done)

    _run(runtime, job)
