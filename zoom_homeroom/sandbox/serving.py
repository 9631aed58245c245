"""A WSGI app on a local port, served by werkzeug in a background thread: the sandboxes' servers.

`LocalServer` is the one server-in-a-thread of the project (the sandboxes, the demo's dashboard and the
tests' receivers use it); `ServedSandbox` gives a sandbox its `start()`, `stop()`, `with` and `url`.
`close_connection` is how both sandboxes make a request fail with no answer at all.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Self
from wsgiref.types import WSGIApplication

from flask import request
from werkzeug.serving import WSGIRequestHandler, make_server

from .errors import SandboxError

log = logging.getLogger(__name__)

# How often the serving thread looks for stop(): shutdown() waits for the next look.
POLL_SECONDS = 0.02


class _QuietHandler(WSGIRequestHandler):
    """Keeps werkzeug from printing a line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class LocalServer:
    """`app` served on `host:port` (port 0: a free one) in a daemon thread, from construction to stop()."""

    def __init__(
        self, app: WSGIApplication, *, host: str = "127.0.0.1", port: int = 0, name: str = "local-server"
    ) -> None:
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=POLL_SECONDS), name=name, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ServedSandbox:
    """A sandbox's life as a server: `start()`, `stop()`, `with`, `url`. A subclass gives `_app()` and its
    `title` ("Zoom sandbox"), and extends `start` or `stop` with what must follow them."""

    title = "sandbox"
    _http: LocalServer | None = None

    def _app(self) -> WSGIApplication:
        raise NotImplementedError

    def __repr__(self) -> str:
        where = self.url if self._http is not None else "not started"
        return f"{type(self).__name__}({where})"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        if self._http is not None:
            raise SandboxError(f"the {self.title} is already running at {self.url}")
        self._http = LocalServer(self._app(), host=host, port=port, name=self.title.replace(" ", "-").lower())
        log.info("%s listening on %s", self.title, self.url)
        return self

    def stop(self) -> None:
        """Stop serving (a no-op when not running)."""
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> Self:
        return self if self._http is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`. Raises SandboxError before start()."""
        if self._http is None:
            raise SandboxError(f"the {self.title} is not running: call start() first")
        return self._http.url


def close_connection() -> None:
    """Close the request's connection without an answer; werkzeug then fails quietly to write one."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client already closed it
