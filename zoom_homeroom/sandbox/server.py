"""`ZoomSandbox`: the fake Zoom's state (`state.SandboxState`) served by a real local HTTP server.

The server runs in a background thread; tests and the demo drive it through this class (users,
faults, simulated meetings) or, from another process, through its `/_sandbox/...` control API.
"""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import build_app
from .errors import SandboxError
from .state import SandboxState

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02


class _QuietHandler(WSGIRequestHandler):
    """Keeps werkzeug from printing a line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class ZoomSandbox(SandboxState):
    """A fake Zoom on a local port: OAuth, users, meetings, reports, faults, simulated meetings, webhooks."""

    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"ZoomSandbox({where})"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ZoomSandbox:
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        if self._server is not None:
            raise SandboxError(f"the sandbox is already running at {self.url}")
        self._server = make_server(host, port, build_app(self), threaded=True, request_handler=_QuietHandler)
        self.book.base_url = self.url
        server = self._server
        self._thread = threading.Thread(
            # A short poll interval keeps stop() quick: shutdown() waits for the next poll.
            target=lambda: server.serve_forever(poll_interval=POLL_SECONDS),
            name="zoom-sandbox",
            daemon=True,
        )
        self._thread.start()
        log.info("Zoom sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving (a no-op when not running)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ZoomSandbox:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`. Raises SandboxError before start()."""
        if self._server is None:
            raise SandboxError("the sandbox is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"
