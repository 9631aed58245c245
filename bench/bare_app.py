"""The comparison point of bench/webhook_intake.py: a bare Flask endpoint under the service's gunicorn settings.

    .venv/bin/python bench/bare_app.py --port 8001 [--workers 2]

`POST /webhooks/zoom` reads the body and answers 204; nothing is verified, parsed or stored. It runs
with `zoom_homeroom.web.server.serve`, exactly as `homeroom serve` does, so
the difference between the two is the service's own work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flask import Flask, Response, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoom_homeroom.web.server import serve  # noqa: E402


def create_bare_app() -> Flask:
    """A Flask app whose only view drains the request body and answers 204."""
    app = Flask(__name__)

    @app.post("/webhooks/zoom")
    def zoom_event() -> Response:
        request.get_data(cache=False)  # the service reads the body too; reading it is part of a request
        return Response(status=204)

    return app


def main() -> None:
    """Serve the bare endpoint until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="gunicorn's access log, as `homeroom serve` (default: on)",
    )
    args = parser.parse_args()
    serve(create_bare_app(), host=args.host, port=args.port, workers=args.workers, access_log=args.access_log)


if __name__ == "__main__":
    main()
