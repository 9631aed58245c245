"""zoom-homeroom: weekly Homeroom sessions on Zoom, with breakout rooms and attendance.

`create_app` (the web app factory, `gunicorn 'zoom_homeroom:create_app()'`) is loaded on first use,
so the `homeroom` command and the scheduler start without importing Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # Imported here: Flask and the blueprints load only where the web app is wanted.
        from .web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
