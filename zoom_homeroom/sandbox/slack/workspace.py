"""The Slack sandbox's workspace: users, channels, direct messages, messages and response URLs.

Plain state, no HTTP. Objects render in the shapes of Slack's Web API spec
(`slack_web_openapi_v2.json`: `objs_user`, `objs_user_profile`, `objs_conversation`,
`objs_message`), with only the fields the spec lists, since its objects allow no others.
Ids are deterministic: a prefix and a counter (`U00000001`, `C00000001`, `D00000001`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import SandboxError

# A bot's scopes as the issue's app asks for them, plus what `conversations.info` needs to check
# the channels (channels:read for public ones, groups:read for private ones).
DEFAULT_SCOPES = (
    "chat:write",
    "im:write",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
)
RESPONSE_URL_USES = (
    5  # "up to 5 times within 30 minutes" (docs.slack.dev/interactivity/handling-user-interaction)
)
RESPONSE_URL_LIFETIME = dt.timedelta(minutes=30)


class SlackApiFailure(Exception):
    """An `ok: false` answer: Slack's error code, the HTTP status and any extra fields."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


class Ids:
    """Deterministic Slack-looking ids, one counter per prefix."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        number = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = number
        return f"{prefix}{number:08d}"


@dataclass
class User:
    id: str
    team_id: str
    name: str
    real_name: str
    email: str | None
    deleted: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    updated: int = 0

    def to_json(self, *, with_email: bool) -> dict[str, Any]:
        """`objs_user`; the profile's email only for a token with users:read.email, as on Slack."""
        first, _, last = self.real_name.partition(" ")
        profile: dict[str, Any] = {
            "avatar_hash": hashlib.sha1(self.id.encode()).hexdigest()[:12],
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "first_name": first,
            "last_name": last,
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": {},
            "team": self.team_id,
        }
        if self.bot_id is not None:
            profile["bot_id"] = self.bot_id
        if with_email and self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "color": "9f69e7",
            "real_name": self.real_name,
            "tz": "America/Denver",
            "tz_label": "Mountain Standard Time",
            "tz_offset": -25200,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": self.updated,
        }


@dataclass
class Channel:
    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    im_user: str | None = None
    members: set[str] = field(default_factory=set)

    def to_json(self, bot_user_id: str) -> dict[str, Any]:
        """`objs_conversation` for a channel (the first of the spec's two variants)."""
        blank = {"value": "", "creator": "", "last_set": 0}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "created": self.created,
            "creator": self.creator,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": bot_user_id in self.members,
            "topic": dict(blank),
            "purpose": dict(blank),
        }


@dataclass
class Message:
    """A message the bot posted; `history` keeps every earlier version (text, blocks)."""

    channel: str
    ts: str
    user: str
    bot_id: str
    team: str
    text: str
    blocks: list[dict[str, Any]]
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """`objs_message`."""
        data: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "user": self.user,
            "bot_id": self.bot_id,
            "team": self.team,
            "ts": self.ts,
        }
        if self.blocks:
            data["blocks"] = self.blocks
        return data

    def replace(self, text: str, blocks: list[dict[str, Any]]) -> None:
        self.history.append({"text": self.text, "blocks": self.blocks})
        self.text, self.blocks = text, blocks


@dataclass(frozen=True)
class Ephemeral:
    """A message only `user` saw: by chat.postEphemeral or through a response_url."""

    via: str
    channel: str
    user: str
    text: str
    blocks: tuple[dict[str, Any], ...]


@dataclass
class ResponseHook:
    """A response_url handed out with one click: where it answers, and how often it was used."""

    path: str
    user: str
    channel: str
    message_ts: str
    issued_at: dt.datetime
    uses: int = 0


class Workspace:
    """Everything a Slack workspace holds that the sandbox serves. Callers hold the sandbox's lock."""

    def __init__(self, *, team_name: str, domain: str, clock_start: dt.datetime) -> None:
        self.ids = Ids()
        self.team_id = self.ids.next("T")
        self.team_name = team_name
        self.domain = domain
        self.app_id = self.ids.next("A")
        self.bot_id = self.ids.next("B")
        self.created = int(clock_start.timestamp())
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemerals: list[Ephemeral] = []
        self.hooks: dict[str, ResponseHook] = {}
        self._serial = 0
        bot = User(
            self.ids.next("U"), self.team_id, "homeroom", "Homeroom", None, is_bot=True, bot_id=self.bot_id
        )
        self.bot_user_id = bot.id
        self.users[bot.id] = bot

    # -- people and channels -------------------------------------------------------------------

    def add_user(self, email: str, real_name: str, name: str, *, deleted: bool) -> User:
        if self.user_by_email(email) is not None:
            raise SandboxError(f"a Slack user with email {email} already exists")
        user = User(
            self.ids.next("U"), self.team_id, name, real_name, email, deleted=deleted, updated=self.created
        )
        self.users[user.id] = user
        return user

    def user_by_email(self, email: str) -> User | None:
        """Slack matches emails without regard to case; the profile keeps the case it was given."""
        wanted = email.strip().casefold()
        return next(
            (u for u in self.users.values() if u.email is not None and u.email.casefold() == wanted), None
        )

    def add_channel(self, name: str, *, private: bool, members: set[str]) -> Channel:
        if any(c.name == name for c in self.channels.values() if not c.is_im):
            raise SandboxError(f"a channel named {name!r} already exists")
        channel = Channel(self.ids.next("C"), name, self.created, self.bot_user_id, is_private=private)
        channel.members = set(members)
        self.channels[channel.id] = channel
        return channel

    def channel(self, channel_id: str) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise SandboxError(f"no channel {channel_id} in the sandbox") from None

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise SandboxError(f"no user {user_id} in the sandbox") from None

    def im_with(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's direct-message channel with `user_id`, and whether it already existed."""
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel, True
        channel = Channel(
            self.ids.next("D"), user_id, self.created, self.bot_user_id, is_im=True, im_user=user_id
        )
        channel.members = {self.bot_user_id, user_id}
        self.channels[channel.id] = channel
        return channel, False

    # -- messages ------------------------------------------------------------------------------

    def next_ts(self, now: dt.datetime) -> str:
        """A message `ts`: the clock's seconds and a serial, unique and increasing like Slack's."""
        self._serial += 1
        return f"{int(now.timestamp()):010d}.{self._serial:06d}"

    def post(self, channel: Channel, text: str, blocks: list[dict[str, Any]], now: dt.datetime) -> Message:
        ts = self.next_ts(now)
        message = Message(
            channel.id, ts, self.bot_user_id, self.bot_id, self.team_id, text, self.named(blocks)
        )
        self.messages[(channel.id, message.ts)] = message
        return message

    def named(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The blocks, each with a `block_id`: Slack makes one up where the app gave none."""
        named = []
        for block in blocks:
            if "block_id" not in block:
                self._serial += 1
                block = {**block, "block_id": f"b{self._serial:05d}"}
            named.append(block)
        return named

    def in_channel(self, channel_id: str) -> list[Message]:
        return sorted((m for (c, _), m in self.messages.items() if c == channel_id), key=lambda m: m.ts)

    # -- response URLs -------------------------------------------------------------------------

    def issue_hook(self, user: str, channel: str, message_ts: str, now: dt.datetime) -> ResponseHook:
        self._serial += 1
        secret = hashlib.sha256(f"{self.team_id}:{self._serial}".encode()).hexdigest()[:24]
        hook = ResponseHook(f"actions/{self.team_id}/{self._serial}/{secret}", user, channel, message_ts, now)
        self.hooks[hook.path] = hook
        return hook

    def use_hook(self, path: str, now: dt.datetime) -> ResponseHook:
        """The hook at `path`, counted as used once; SlackApiFailure once it is spent or expired."""
        hook = self.hooks.get(path)
        if hook is None:
            raise SlackApiFailure("invalid_url", status=404)
        if hook.uses >= RESPONSE_URL_USES or now - hook.issued_at > RESPONSE_URL_LIFETIME:
            raise SlackApiFailure("expired_url", status=404)
        hook.uses += 1
        return hook
