"""The comparison point of bench/webhook_intake.py: a bare Flask endpoint under the service's gunicorn settings.

    .venv/bin/python bench/bare_app.py --port 8001 [--workers 2]

`POST /webhooks/zoom` reads the body and answers 204; nothing is verified, parsed or stored. It runs
with `zoom_homeroom.server.gunicorn_options` plus `preload_app`, exactly as `homeroom serve` does, so
the difference between the two is the service's own work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoom_homeroom.server import gunicorn_options  # noqa: E402


def create_bare_app() -> Flask:
    """A Flask app whose only view drains the request body and answers 204."""
    app = Flask(__name__)

    @app.post("/webhooks/zoom")
    def zoom_event() -> Response:
        request.get_data(cache=False)  # the service reads the body too; reading it is part of a request
        return Response(status=204)

    return app


class BareGunicorn(BaseApplication):
    """Gunicorn serving an app object with the options given (the way `homeroom serve` does)."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def main() -> None:
    """Serve the bare endpoint until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    args = parser.parse_args()
    options = {**gunicorn_options(args.host, args.port, args.workers), "preload_app": True}
    BareGunicorn(create_bare_app(), options).run()


if __name__ == "__main__":
    main()
