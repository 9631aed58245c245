"""`SlackState`: everything the fake Slack knows and does, without the HTTP server that serves it.

The Flask app (`app.py`) reads and changes this state; `server.SlackSandbox` adds the server around it.
Tests and the demo drive it through its methods: people and channels, scopes and the token, faults,
what was posted (messages with their edit history, DMs, ephemeral replies), and students' clicks,
delivered signed to the app's interactivity URL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from ...clock import Clock, utc_now
from ..errors import SandboxError
from . import clicks
from .faults import Faults
from .workspace import DEFAULT_SCOPES, Ephemeral, Message, SlackApiFailure, Workspace


class CallChecker(Protocol):
    """Checks each call against Slack's Web API spec (tests/slack_contract.py): raise to object."""

    def check_arguments(self, method: str, args: Mapping[str, Any], *, json_body: bool) -> None: ...

    def check_answer(self, method: str, status: int, body: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call (or response_url post): its method, arguments and answer."""

    method: str
    args: dict[str, Any]
    status: int
    body: dict[str, Any] | None

    @property
    def error(self) -> str | None:
        return self.body.get("error") if self.body else None


class SlackState:
    """A fake Slack workspace with one app installed: the bot token, its scopes and its signing secret."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-bot-token",
        signing_secret: str = "sandbox-signing-secret",
        team_name: str = "Sandbox School",
        domain: str = "sandbox-school",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        clock: Clock | None = None,
        checker: CallChecker | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.clock: Clock = clock or utc_now
        self.scopes = frozenset(scopes)
        self.checker = checker
        self.lock = threading.RLock()
        self.faults = Faults()
        self.workspace = Workspace(team_name=team_name, domain=domain, clock_start=self.clock())
        self.calls: list[RecordedCall] = []
        self.violations: list[str] = []
        self.token_revoked = False
        self._selections: dict[tuple[str, str, str, str], dict[str, Any] | None] = {}
        self._session = requests.Session()  # delivers the clicks

    @property
    def hooks_url(self) -> str:
        """Where the sandbox's response URLs live: the server's (`server.SlackSandbox`)."""
        raise NotImplementedError

    # -- the workspace -------------------------------------------------------------------------

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    def add_user(self, email: str, real_name: str | None = None, *, deleted: bool = False) -> str:
        """A member whose profile carries `email`; returns the user id. Raises SandboxError for a duplicate."""
        name = email.split("@", 1)[0].lower()
        with self.lock:
            return self.workspace.add_user(email, real_name or name.title(), name, deleted=deleted).id

    def user_id(self, email: str) -> str:
        """The id of the member with `email` (any case). Raises SandboxError if none."""
        with self.lock:
            user = self.workspace.user_by_email(email)
        if user is None:
            raise SandboxError(f"no Slack user with email {email}")
        return user.id

    def deactivate(self, user_id: str) -> None:
        """An admin deactivates a member: still found by email (flagged `deleted`), no longer messaged."""
        with self.lock:
            self.workspace.user(user_id).deleted = True

    def add_channel(
        self, name: str, *, members: Iterable[str] = (), private: bool = False, bot_member: bool = True
    ) -> str:
        """A channel with `members` (user ids), the bot among them unless `bot_member=False`; returns its id."""
        with self.lock:
            people = set(members) | ({self.bot_user_id} if bot_member else set())
            for user_id in people:
                self.workspace.user(user_id)
            return self.workspace.add_channel(name, private=private, members=people).id

    def join(self, channel_id: str, *user_ids: str) -> None:
        """Members join a channel (the bot too: its user id is `bot_user_id`)."""
        with self.lock:
            channel = self.workspace.channel(channel_id)
            for user_id in user_ids:
                self.workspace.user(user_id)
                channel.members.add(user_id)

    def leave(self, channel_id: str, user_id: str) -> None:
        """A member (or the bot) leaves the channel."""
        with self.lock:
            self.workspace.channel(channel_id).members.discard(user_id)

    def archive(self, channel_id: str) -> None:
        with self.lock:
            self.workspace.channel(channel_id).is_archived = True

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The admin changes the app's bot scopes and reinstalls it."""
        with self.lock:
            self.scopes = frozenset(scopes)

    def revoke_token(self) -> None:
        """The app is uninstalled: every call now answers `token_revoked`."""
        with self.lock:
            self.token_revoked = True

    def authenticate(self, token: str | None) -> frozenset[str]:
        """The token's scopes; SlackApiFailure `not_authed`, `invalid_auth` or `token_revoked`."""
        if not token:
            raise SlackApiFailure("not_authed")
        if token != self.bot_token:
            raise SlackApiFailure("invalid_auth")
        with self.lock:
            if self.token_revoked:
                raise SlackApiFailure("token_revoked")
            return self.scopes

    # -- what was posted -----------------------------------------------------------------------

    def messages(self, channel_id: str) -> list[Message]:
        """The bot's messages in a channel (or DM channel), oldest first, as they are now."""
        with self.lock:
            return self.workspace.in_channel(channel_id)

    def message(self, channel_id: str, ts: str) -> Message:
        with self.lock:
            found = self.workspace.messages.get((channel_id, ts))
        if found is None:
            raise SandboxError(f"no message {ts} in {channel_id}")
        return found

    def direct_messages(self, user_id: str) -> list[Message]:
        """The bot's messages in its direct-message channel with `user_id` (none if never opened)."""
        with self.lock:
            for channel in self.workspace.channels.values():
                if channel.is_im and channel.im_user == user_id:
                    return self.workspace.in_channel(channel.id)
        return []

    def ephemerals(self, user_id: str | None = None) -> list[Ephemeral]:
        """Messages only one user saw (chat.postEphemeral, ephemeral response_url replies)."""
        with self.lock:
            return [e for e in self.workspace.ephemerals if user_id is None or e.user == user_id]

    def count_calls(self, method: str | None = None) -> int:
        with self.lock:
            return sum(1 for call in self.calls if method is None or call.method == method)

    def record(
        self, method: str, args: Mapping[str, Any], status: int, body: Mapping[str, Any] | None
    ) -> None:
        with self.lock:
            self.calls.append(
                RecordedCall(method, dict(args), status, dict(body) if body is not None else None)
            )

    def check_arguments(self, method: str, args: Mapping[str, Any], json_body: bool) -> str | None:
        """The checker's objection to a call's arguments (recorded as a violation), or None."""
        if self.checker is None:
            return None
        try:
            self.checker.check_arguments(method, args, json_body=json_body)
        except Exception as error:  # any objection: the test reads them all from .violations
            with self.lock:
                self.violations.append(f"{method} request: {error}")
            return str(error)
        return None

    def check_answer(self, method: str, status: int, body: Mapping[str, Any]) -> None:
        """Record a sandbox answer the spec does not allow (a sandbox bug, not the client's)."""
        if self.checker is None:
            return
        try:
            self.checker.check_answer(method, status, body)
        except Exception as error:  # as above
            with self.lock:
                self.violations.append(f"{method} answer: {error}")

    # -- students' clicks ----------------------------------------------------------------------

    def select(
        self, url: str, *, user: str, channel: str, ts: str, action_id: str, value: str | None
    ) -> clicks.Delivery:
        """`user` chooses the option `value` in the menu `action_id` (None: clears it), as Slack posts it.

        Raises SandboxError for what Slack could not deliver: no such message or menu, an option
        the menu does not have, a user who is not in the channel.
        """
        with self.lock:
            message, block_id, element = self._element(user, channel, ts, action_id, "static_select")
            selected = None
            if value is not None:
                selected = next((o for o in element.get("options", ()) if o.get("value") == value), None)
                if selected is None:
                    raise SandboxError(f"menu {action_id} has no option {value!r}")
            self._selections[(user, channel, ts, action_id)] = selected
            payload = self._payload(
                user, message, [clicks.action(element, block_id, selected, self._action_ts())]
            )
        return clicks.send(url, payload, self.signing_secret, self.clock(), self._session)

    def press(self, url: str, *, user: str, channel: str, ts: str, action_id: str) -> clicks.Delivery:
        """`user` presses the button `action_id` (link buttons post a click too)."""
        with self.lock:
            message, block_id, element = self._element(user, channel, ts, action_id, "button")
            payload = self._payload(
                user, message, [clicks.action(element, block_id, None, self._action_ts())]
            )
        return clicks.send(url, payload, self.signing_secret, self.clock(), self._session)

    def _element(
        self, user: str, channel: str, ts: str, action_id: str, kind: str
    ) -> tuple[Message, str, dict[str, Any]]:
        workspace = self.workspace
        message = workspace.messages.get((channel, ts))
        if message is None:
            raise SandboxError(f"no message {ts} in {channel}")
        if user not in workspace.channel(channel).members:
            raise SandboxError(f"{user} is not in {channel}: they cannot see the message")
        try:
            block_id, element = clicks.find_element(message.blocks, action_id)
        except KeyError:
            raise SandboxError(f"message {ts} has no element {action_id}") from None
        if element.get("type") != kind:
            raise SandboxError(f"{action_id} is a {element.get('type')}, not a {kind}")
        return message, block_id, element

    def _payload(self, user_id: str, message: Message, actions: list[dict[str, Any]]) -> dict[str, Any]:
        workspace = self.workspace
        user = workspace.user(user_id)
        channel = workspace.channel(message.channel)
        hook = workspace.issue_hook(user_id, channel.id, message.ts, self.clock())
        return {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id},
            "api_app_id": workspace.app_id,
            "token": "sandbox-verification-token",  # the deprecated verification token Slack still sends
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel.id,
                "is_ephemeral": False,
            },
            "trigger_id": f"{self._action_ts().replace('.', '')}.{workspace.team_id}.sandbox",
            "team": {"id": workspace.team_id, "domain": workspace.domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name},
            "message": {**message.to_json(), "app_id": workspace.app_id},
            "state": {"values": self._state(user_id, message)},
            "response_url": f"{self.hooks_url}{hook.path}",
            "actions": actions,
        }

    def _state(self, user_id: str, message: Message) -> dict[str, Any]:
        """`state.values`: what this user has chosen in each menu of the message so far."""
        values: dict[str, Any] = {}
        for (user, channel, ts, action_id), selected in self._selections.items():
            if (user, channel, ts) != (user_id, message.channel, message.ts):
                continue
            try:
                block_id, _ = clicks.find_element(message.blocks, action_id)
            except KeyError:
                continue  # the message was edited since: that menu is gone
            values.setdefault(block_id, {})[action_id] = {
                "type": "static_select",
                "selected_option": selected,
            }
        return values

    def _action_ts(self) -> str:
        return self.workspace.next_ts(self.clock())
