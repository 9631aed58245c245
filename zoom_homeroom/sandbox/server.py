"""`ZoomSandbox`: a local HTTP server that behaves like the parts of Zoom this project uses.

The server runs in a background thread; tests and the demo drive it through this class (users,
faults, simulated meetings) or, from another process, through its `/_sandbox/...` control API.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..core.times import to_utc_text
from .accounts import Tokens, Users, make_user
from .errors import ApiError, SandboxError
from .faults import Faults
from .meetings import Meeting, MeetingBook, validate_rooms
from .paging import Pager
from .simulation import Participant, Simulation
from .webhooks import WebhookSender

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
POLL_SECONDS = 0.02
DEFAULT_SCOPES = ("meeting:read:admin", "meeting:write:admin", "report:read:admin", "user:read:admin")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _QuietHandler(WSGIRequestHandler):
    """Keeps werkzeug from printing a line per request; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class ZoomSandbox:
    """A fake Zoom: OAuth, users, meetings, reports, faults, and simulated meetings with webhooks."""

    def __init__(
        self,
        *,
        account_id: str = "sandbox-account",
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        webhook_secret: str = "sandbox-webhook-secret",
        users: Iterable[str] = (),
        token_ttl_seconds: int = 3600,
        daily_write_limit: int = 100,
        clock: Clock | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        reports_available: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.clock: Clock = clock or _utc_now
        self.sleep = sleep  # what a "slow" fault waits with; tests pass one they control
        self.scopes = tuple(scopes)
        self.reports_available = reports_available
        self.lock = threading.RLock()
        self.faults = Faults()
        self.calls: list[tuple[str, str, int]] = []
        self.events: list[dict[str, Any]] = []
        self.deliver_webhooks = True
        self.duplicate_webhooks = False
        self.tokens = Tokens(token_ttl_seconds)
        self.users = Users()
        self.pager = Pager()
        self.simulation = Simulation(account_id)
        self.book = MeetingBook("http://127.0.0.1", daily_write_limit)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._sender: WebhookSender | None = None
        for email in users:
            self.add_user(email)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"ZoomSandbox({where})"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ZoomSandbox:
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        if self._server is not None:
            raise SandboxError(f"the sandbox is already running at {self.url}")
        from .app import build_app

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

    # -- accounts, call log, admin actions -----------------------------------------------------

    def add_user(
        self, email: str, *, type: int = 2, status: str = "active", timezone: str = "UTC"
    ) -> dict[str, Any]:
        """Add a Zoom user of this account; returns its Get a user object. Raises SandboxError."""
        with self.lock:
            user = make_user(
                email,
                account_id=self.account_id,
                created_at=self.clock(),
                type=type,
                status=status,
                timezone=timezone,
            )
            return dict(self.users.add(user))

    def record_call(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.calls.append((method, path, status))

    def count_calls(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many API calls (not control calls) matched; e.g. count_calls("PATCH", "/v2/meetings/")."""
        with self.lock:
            return sum(
                1
                for call_method, path, _ in self.calls
                if (method is None or call_method == method.upper())
                and (path_prefix is None or path.startswith(path_prefix))
            )

    def invalidate_tokens(self) -> None:
        """Every token issued so far now answers 401 (code 124)."""
        with self.lock:
            self.tokens.invalidate_all()

    def delete_meeting_behind_your_back(self, meeting_id: int | str) -> None:
        """An admin deletes the meeting in Zoom's web portal: no API call is logged."""
        with self.lock:
            self.book.delete(self._meeting(meeting_id).id)

    def edit_rooms_by_hand(self, meeting_id: int | str, rooms: list[dict[str, Any]]) -> None:
        """An admin rewrites the pre-assigned breakout rooms in the web portal."""
        with self.lock:
            meeting = self._meeting(meeting_id)
            try:
                checked = validate_rooms(rooms)
            except ApiError as error:
                raise SandboxError(f"rooms: {error.errors}") from None
            meeting.settings["breakout_room"] = {"enable": bool(checked), "rooms": checked}

    def meeting(self, meeting_id: int | str) -> dict[str, Any]:
        """The Get a meeting object (with previous occurrences), without an API call."""
        with self.lock:
            return self._meeting(meeting_id).to_json(self.clock(), previous=True)

    def state(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (the control API's GET /_sandbox/state)."""
        with self.lock:
            now = self.clock()
            return {
                "account_id": self.account_id,
                "users": self.users.all(),
                "meetings": [meeting.to_json(now, previous=True) for meeting in self.book.all()],
                "instances": [
                    {
                        "meeting_id": instance.meeting_id,
                        "uuid": instance.uuid,
                        "start_time": to_utc_text(instance.start_time),
                        "end_time": to_utc_text(instance.end_time) if instance.end_time else None,
                        "participants": len(instance.stays),
                    }
                    for instance in self.simulation.all()
                ],
                "calls": [list(call) for call in self.calls],
                "events": list(self.events),
                "faults": self.faults.pending(),
            }

    def _meeting(self, meeting_id: int | str) -> Meeting:
        try:
            return self.book.get(meeting_id)
        except ApiError:
            raise SandboxError(f"meeting {meeting_id} does not exist in the sandbox") from None

    # -- simulated meetings and webhooks -------------------------------------------------------

    def connect_webhooks(self, url: str | None) -> None:
        """Deliver events to `url`, signed with the webhook secret; None records them only."""
        self._sender = WebhookSender(url, self.webhook_secret, clock=self.clock) if url else None

    def start_instance(
        self,
        meeting_id: int | str,
        at: dt.datetime,
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> str:
        """Start an instance (`meeting.started`); returns its UUID."""
        with self.lock:
            meeting = self._meeting(meeting_id)
            instance, event = self.simulation.start(meeting, at)
            meeting.live = True
        self._deliver([event], deliver, duplicate)
        return instance.uuid

    def join(
        self,
        meeting_id: int | str,
        participant: Participant,
        at: dt.datetime,
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> int | None:
        """`participant` joins the live instance (`meeting.participant_joined`)."""
        with self.lock:
            event = self.simulation.join(self._live_id(meeting_id), participant, at)
        return self._deliver([event], deliver, duplicate)

    def leave(
        self,
        meeting_id: int | str,
        participant: Participant,
        at: dt.datetime,
        reason: str = "left the meeting",
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> int | None:
        """`participant` leaves (`meeting.participant_left`; a breakout room is left first)."""
        with self.lock:
            events = self.simulation.leave(self._live_id(meeting_id), participant, at, reason)
        return self._deliver(events, deliver, duplicate)

    def join_breakout(
        self,
        meeting_id: int | str,
        participant: Participant,
        room_name: str,
        at: dt.datetime,
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> int | None:
        """`participant` moves into a breakout room (`meeting.participant_joined_breakout_room`)."""
        with self.lock:
            events = self.simulation.join_breakout(self._live_id(meeting_id), participant, room_name, at)
        return self._deliver(events, deliver, duplicate)

    def leave_breakout(
        self,
        meeting_id: int | str,
        participant: Participant,
        room_name: str,
        at: dt.datetime,
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> int | None:
        """`participant` leaves a breakout room (`meeting.participant_left_breakout_room`)."""
        with self.lock:
            event = self.simulation.leave_breakout(self._live_id(meeting_id), participant, room_name, at)
        return self._deliver([event], deliver, duplicate)

    def end_instance(
        self,
        meeting_id: int | str,
        at: dt.datetime,
        *,
        deliver: bool | None = None,
        duplicate: bool | None = None,
    ) -> int | None:
        """End the live instance: open stays close, `meeting.ended`; it becomes a past instance."""
        with self.lock:
            number = self._live_id(meeting_id)
            events = self.simulation.end(number, at)
            if self.book.exists(number):
                meeting = self.book.get(number)
                meeting.live = False
                meeting.uuid_serial += 1  # Zoom gives the next instance a new UUID
        return self._deliver(events, deliver, duplicate)

    def _live_id(self, meeting_id: int | str) -> int:
        try:
            return int(str(meeting_id))
        except ValueError:
            raise SandboxError(f"meeting id {meeting_id!r} is not a number") from None

    def _deliver(
        self, events: list[dict[str, Any]], deliver: bool | None, duplicate: bool | None
    ) -> int | None:
        """Record every event and POST it unless lost; the status of the last one, or None."""
        deliver = self.deliver_webhooks if deliver is None else deliver
        duplicate = self.duplicate_webhooks if duplicate is None else duplicate
        status = None
        for event in events:
            status = None
            if deliver and self._sender is not None:
                status = self._sender.send(event, copies=2 if duplicate else 1)
            with self.lock:
                self.events.append({"body": event, "delivered": status is not None, "status": status})
        return status
