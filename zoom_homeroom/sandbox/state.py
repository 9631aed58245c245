"""`SandboxState`: everything the fake Zoom knows and does, without the HTTP server that serves it.

The Flask app (`app.py`) reads and changes this state; `server.ZoomSandbox` adds the server around it.
Tests and the demo drive simulated meetings through its methods; each change is made under the lock and
its events are then delivered as signed webhooks (or only recorded), in one place: `_act`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict, Unpack

from ..clock import Clock, Sleep, utc_now
from ..core.times import to_utc_text
from .accounts import Tokens, Users, make_user
from .errors import ApiError, SandboxError
from .faults import Faults
from .meetings import Meeting, MeetingBook, validate_rooms
from .paging import Pager
from .registrants import CAPACITY, Registrations, requires_registration
from .simulation import Participant, Simulation
from .webhooks import WebhookSender

Events = list[dict[str, Any]]


class Webhooks(TypedDict, total=False):
    """How a simulated change's webhooks go out (the keywords of every driving method below)."""

    deliver: bool | None  # False: recorded only; None (or absent): as `deliver_webhooks` says
    duplicate: bool | None  # True: each sent twice, as Zoom sometimes does; None: `duplicate_webhooks`


DEFAULT_SCOPES = ("meeting:read:admin", "meeting:write:admin", "report:read:admin", "user:read:admin")


class SandboxState:
    """A fake Zoom's state: OAuth, users, meetings, faults, limits, and simulated meetings with webhooks.

    `report_delay`: reports of an ended instance show duration 0 until that long after its end (None:
    processed at once). `account_daily_limit`: API calls a UTC day before the account-wide daily limit
    answers 429 (None: no limit). `seed` drives the order of same-instant events and the leave reasons.
    `registrant_emails_shown`: whether events and reports show a registrant's registered email (default
    no, the harsher case; `simulation`'s notes say why both are played); `registrant_capacity`: Zoom's 4,999.
    """

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
        account_daily_limit: int | None = None,
        clock: Clock | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        reports_available: bool = True,
        report_delay: dt.timedelta | None = None,
        seed: int = 0,
        sleep: Sleep = time.sleep,
        registrant_emails_shown: bool = False,
        registrant_capacity: int = CAPACITY,
    ):
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.clock: Clock = clock or utc_now
        self.sleep = sleep  # what a "slow" fault waits with; tests pass one they control
        self.scopes = tuple(scopes)
        self.reports_available = reports_available
        self.account_daily_limit = account_daily_limit
        self.lock = threading.RLock()
        self.faults = Faults()
        self.calls: list[tuple[str, str, int]] = []
        self.sent: list[tuple[str, str, Any]] = []  # (method, path, JSON body) of API calls with a body
        self.events: list[dict[str, Any]] = []
        self.deliver_webhooks = True
        self.duplicate_webhooks = False
        self.tokens = Tokens(token_ttl_seconds)
        self.users = Users()
        self.pager = Pager()
        self.simulation = Simulation(
            account_id, seed=seed, report_delay=report_delay, registrant_emails_shown=registrant_emails_shown
        )
        self.book = MeetingBook("http://127.0.0.1", daily_write_limit)
        self.registrations = Registrations(capacity=registrant_capacity)
        self._api_calls: dict[dt.date, int] = {}
        self._sender: WebhookSender | None = None
        for email in users:
            self.add_user(email)

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

    def record_call(self, method: str, path: str, status: int, body: Any = None) -> None:
        with self.lock:
            self.calls.append((method, path, status))
            if body is not None:
                self.sent.append((method, path, body))

    def count_calls(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many API calls (not control calls) matched; e.g. count_calls("PATCH", "/v2/meetings/")."""
        with self.lock:
            return sum(
                1
                for call_method, path, _ in self.calls
                if (method is None or call_method == method.upper())
                and (path_prefix is None or path.startswith(path_prefix))
            )

    def use_account_quota(self) -> bool:
        """Count one API call against the account's daily limit; False once today's limit is used up."""
        with self.lock:
            day = self.clock().astimezone(dt.UTC).date()
            used = self._api_calls.get(day, 0)
            if self.account_daily_limit is not None and used >= self.account_daily_limit:
                return False
            self._api_calls[day] = used + 1
            return True

    def invalidate_tokens(self) -> None:
        """Every token issued so far now answers 401 (code 124)."""
        with self.lock:
            self.tokens.invalidate_all()

    def delete_meeting(self, meeting_id: int | str, occurrence: str | None = None) -> None:
        """Delete a meeting (its registrations go with it) or one occurrence. Raises ApiError."""
        with self.lock:
            meeting = self.book.get(meeting_id)
            self.book.delete(meeting.id, occurrence)
            if occurrence is None:
                self.registrations.drop(meeting.id)

    def delete_meeting_behind_your_back(self, meeting_id: int | str) -> None:
        """An admin deletes the meeting in Zoom's web portal: no API call is logged."""
        with self.lock:
            self.delete_meeting(self._meeting(meeting_id).id)

    def register_by_hand(
        self, meeting_id: int | str, email: str, first_name: str, last_name: str = ""
    ) -> str:
        """Someone registers on the meeting's registration page (no API call is logged); returns the
        personal join link Zoom shows them (empty while their registration waits for approval)."""
        with self.lock:
            meeting = self._meeting(meeting_id)
            body = {"email": email, "first_name": first_name, "last_name": last_name}
            try:
                registrant = self.registrations.add(meeting, body, self.clock())
            except ApiError as error:
                raise SandboxError(f"registration refused: {error.message}") from None
            return registrant.join_url(self.book.base_url) if registrant.status == "approved" else ""

    def registrants(self, meeting_id: int | str) -> list[dict[str, Any]]:
        """Every registration of the meeting, cancelled ones too (`status`), without an API call."""
        with self.lock:
            meeting = self._meeting(meeting_id)
            return [r.listed(self.book.base_url) for r in self.registrations.all(meeting.id)]

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
                "registrants": {
                    str(meeting.id): [
                        r.listed(self.book.base_url) for r in self.registrations.all(meeting.id)
                    ]
                    for meeting in self.book.all()
                },
                "instances": [
                    {
                        "meeting_id": instance.meeting_id,
                        "uuid": instance.uuid,
                        "start_time": to_utc_text(instance.start_time),
                        "end_time": to_utc_text(instance.end_time) if instance.end_time else None,
                        "participants": len(instance.connections),
                    }
                    for instance in self.simulation.all()
                ],
                "calls": [list(call) for call in self.calls],
                "events": list(self.events),
                "faults": self.faults.pending(),
            }

    def _registrant_of(self, number: int, participant: Participant) -> tuple[str, str] | None:
        """(registrant id, registered email) of the link `participant` joins with, when the meeting
        requires registration; SandboxError when Zoom would not let them in."""
        if not self.book.exists(number) or not requires_registration(self.book.get(number)):
            return None
        registrant = self.registrations.by_link(number, participant.join_url)
        if registrant is None:
            raise SandboxError(
                f"meeting {number} requires registration: {participant.name} must join with a "
                "registrant's personal join_url (the meeting's own link asks them to register)"
            )
        if registrant.status != "approved":
            raise SandboxError(
                f"{participant.name}'s registration is {registrant.status}: Zoom does not let them in"
            )
        return registrant.id, registrant.email

    def _meeting(self, meeting_id: int | str) -> Meeting:
        try:
            return self.book.get(meeting_id)
        except ApiError:
            raise SandboxError(f"meeting {meeting_id} does not exist in the sandbox") from None

    # -- simulated meetings and webhooks -------------------------------------------------------

    def connect_webhooks(self, url: str | None) -> None:
        """Deliver events to `url`, signed with the webhook secret; None records them only."""
        self._sender = WebhookSender(url, self.webhook_secret, clock=self.clock) if url else None

    def start_instance(self, meeting_id: int | str, at: dt.datetime, **webhooks: Unpack[Webhooks]) -> str:
        """Start an instance (`meeting.started`); returns its UUID. A restart after an end is a new instance."""
        started: list[str] = []

        def change() -> Events:
            meeting = self._meeting(meeting_id)
            instance, events = self.simulation.start(meeting, at)
            meeting.live = True
            started.append(instance.uuid)
            return events

        self._act(change, **webhooks)
        return started[0]

    def join(
        self, meeting_id: int | str, participant: Participant, at: dt.datetime, **webhooks: Unpack[Webhooks]
    ) -> int | None:
        """`participant` connects (`meeting.participant_joined`; straight into their room if it is open).

        A meeting that requires registration lets in only people with an approved registrant's personal
        link (`participant.join_url`); they carry its registrant id.
        """
        number = _number(meeting_id)

        def change() -> Events:
            registrant = self._registrant_of(number, participant)
            return self.simulation.join(number, participant, at, registrant=registrant)

        return self._act(change, **webhooks)

    def leave(
        self,
        meeting_id: int | str,
        participant: Participant,
        at: dt.datetime,
        how: str = "left",
        **webhooks: Unpack[Webhooks],
    ) -> int | None:
        """`participant` quits Zoom (`how`: "left" or "disconnected"), from a room too: no breakout leave."""
        number = _number(meeting_id)
        return self._act(lambda: self.simulation.leave(number, participant, at, how), **webhooks)

    def join_breakout(
        self,
        meeting_id: int | str,
        participant: Participant,
        room_name: str,
        at: dt.datetime,
        **webhooks: Unpack[Webhooks],
    ) -> int | None:
        """`participant` moves into a breakout room by themselves (a room move, then the breakout join)."""
        number = _number(meeting_id)
        return self._act(
            lambda: self.simulation.join_breakout(number, participant, room_name, at), **webhooks
        )

    def leave_breakout(
        self,
        meeting_id: int | str,
        participant: Participant,
        room_name: str,
        at: dt.datetime,
        **webhooks: Unpack[Webhooks],
    ) -> int | None:
        """`participant` goes back to the main meeting by themselves (a breakout leave and a room move)."""
        number = _number(meeting_id)
        return self._act(
            lambda: self.simulation.leave_breakout(number, participant, room_name, at), **webhooks
        )

    def open_rooms(self, meeting_id: int | str, at: dt.datetime, **webhooks: Unpack[Webhooks]) -> int | None:
        """The host opens the breakout rooms: Zoom moves pre-assigned app users into their rooms."""
        number = _number(meeting_id)
        return self._act(lambda: self.simulation.open_rooms(number, at), **webhooks)

    def close_rooms(self, meeting_id: int | str, at: dt.datetime, **webhooks: Unpack[Webhooks]) -> int | None:
        """The host closes the breakout rooms: everyone moves back, with no breakout leaves."""
        number = _number(meeting_id)
        return self._act(lambda: self.simulation.close_rooms(number, at), **webhooks)

    def rename(self, meeting_id: int | str, participant: Participant, name: str, at: dt.datetime) -> None:
        """`participant` changes their display name (Zoom sends no event; later ones carry the new name)."""
        with self.lock:
            self.simulation.rename(_number(meeting_id), participant, name, at)

    def end_instance(
        self, meeting_id: int | str, at: dt.datetime, **webhooks: Unpack[Webhooks]
    ) -> int | None:
        """End the live instance: everyone's `participant_left`, `meeting.ended`; it becomes a past instance."""
        number = _number(meeting_id)

        def change() -> Events:
            events = self.simulation.end(number, at)
            if self.book.exists(number):
                meeting = self.book.get(number)
                meeting.live = False
                meeting.uuid_serial += 1  # Zoom gives the next instance a new UUID
            return events

        return self._act(change, **webhooks)

    def process_reports(self, meeting_id: int | str) -> None:
        """Zoom finishes processing the reports of the meeting's ended instances (durations appear)."""
        with self.lock:
            self.simulation.process_reports(_number(meeting_id))

    def _act(
        self, change: Callable[[], Events], *, deliver: bool | None = None, duplicate: bool | None = None
    ) -> int | None:
        """Apply one simulated change under the lock, then record and deliver its events (outside it, so
        the service may call the API while its webhooks arrive). The status of the last one, or None."""
        with self.lock:
            events = change()
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


def _number(meeting_id: int | str) -> int:
    try:
        return int(str(meeting_id))
    except ValueError:
        raise SandboxError(f"meeting id {meeting_id!r} is not a number") from None
