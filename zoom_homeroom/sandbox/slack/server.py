"""`SlackSandbox`: the fake Slack's state (`state.SlackState`) served by a real local HTTP server.

The server runs in a background thread; tests and the demo drive it through this class (see
state.py for what it knows and does).
"""

from __future__ import annotations

from wsgiref.types import WSGIApplication

from ..serving import ServedSandbox
from .app import build_app
from .state import SlackState


class SlackSandbox(ServedSandbox, SlackState):
    """A local HTTP server that behaves like the parts of Slack this project uses."""

    title = "Slack sandbox"

    def _app(self) -> WSGIApplication:
        return build_app(self)

    def stop(self) -> None:
        """Stop serving (a no-op when not running)."""
        if self._http is not None:
            super().stop()
            self._session.close()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL points at: `http://127.0.0.1:PORT/api/`."""
        return self.url + "/api/"

    @property
    def hooks_url(self) -> str:
        """Where the sandbox's response URLs live (the client's `hooks_url`)."""
        return self.url + "/hooks/"
