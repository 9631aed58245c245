"""`ZoomSandbox`: the fake Zoom's state (`state.SandboxState`) served by a real local HTTP server.

The server runs in a background thread; tests and the demo drive it through this class (users,
faults, simulated meetings) or, from another process, through its `/_sandbox/...` control API.
"""

from __future__ import annotations

from typing import Self
from wsgiref.types import WSGIApplication

from .app import build_app
from .serving import ServedSandbox
from .state import SandboxState


class ZoomSandbox(ServedSandbox, SandboxState):
    """A fake Zoom on a local port: OAuth, users, meetings, reports, faults, simulated meetings, webhooks."""

    title = "Zoom sandbox"

    def _app(self) -> WSGIApplication:
        return build_app(self)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        super().start(host, port)
        self.book.base_url = self.url  # the join links Zoom hands out point here
        return self

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"
