"""Per-request access for the views: the app's Runtime (settings, calendar, clock, this thread's storage)."""

from __future__ import annotations

from flask import current_app

from ..runtime import Runtime


def get_runtime() -> Runtime:
    """The Runtime of the app serving this request (installed by `create_app`)."""
    return Runtime.of(current_app)
