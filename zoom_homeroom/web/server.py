"""Running the web app under gunicorn, the production server, from `homeroom serve`."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from ..settings import Settings
from .app import create_app


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._app


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """The settings `homeroom serve` and config/gunicorn.conf.py share."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        # Only the path, never the query string or headers: nothing secret reaches the log.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
    }


def serve(app: Any, *, host: str, port: int, workers: int) -> None:
    """Serve a WSGI app object under gunicorn with `homeroom serve`'s settings, loaded once in the master."""
    _Gunicorn(app, {**gunicorn_options(host, port, workers), "preload_app": True}).run()


def run_gunicorn(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Build the app once in the master (so configuration errors show before any fork) and serve it."""
    serve(create_app(settings), host=host, port=port, workers=workers)
