"""SlackClient: the Web API calls the service makes, on slack-sdk's WebClient, with typed answers.

Each method is named after what it does for the service and returns a small frozen dataclass or a
plain value; every failure raises a SlackError (see errors.py). The SDK's retry handlers (429 with
`Retry-After`, connection errors) wait with the injected sleep (retries.py). `user_email` keeps a
small TTL cache, so a burst of poll clicks costs one `users.info` per student.

Build one client per process, not per request: the cache lives in it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from ..clock import Clock, Sleep, utc_now
from .errors import (
    SlackAPIError,
    SlackConnectionError,
    SlackError,
    SlackMissingScope,
    SlackPayloadError,
    SlackUserNotFound,
    error_for_answer,
    header,
)
from .retries import ConnectionRetry, RateLimitRetry, never_sent, retry_after_seconds

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_HOOKS_URL = "https://hooks.slack.com/"
TIMEOUT_SECONDS = 10
MAX_RETRIES = 3
EMAIL_CACHE_TTL = dt.timedelta(minutes=15)
EMAIL_CACHE_SIZE = 5000
EMAIL_SCOPE = "users:read.email"

Blocks = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class SlackIdentity:
    """Who the token is (`auth.test`) and the scopes Slack granted it (`x-oauth-scopes`)."""

    team_id: str
    team: str
    url: str
    bot_user_id: str
    bot_id: str | None
    scopes: frozenset[str]


@dataclass(frozen=True)
class ChannelInfo:
    """What `conversations.info` tells about a channel."""

    id: str
    name: str
    is_private: bool
    is_archived: bool
    is_member: bool


@dataclass(frozen=True)
class PostedMessage:
    """Where a message lives: its channel and `ts`, the pair chat.update needs."""

    channel: str
    ts: str


def hooks_url_for(base_url: str) -> str:
    """Where `response_url`s may point: Slack's hooks host, or the API's own origin (a sandbox)."""
    if base_url.rstrip("/") == DEFAULT_API_URL.rstrip("/"):
        return DEFAULT_HOOKS_URL
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/"


class SlackClient:
    """The bot's Web API calls. Raises SlackError subclasses; never returns an error answer."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        hooks_url: str | None = None,
        timeout: int = TIMEOUT_SECONDS,
        max_retries: int = MAX_RETRIES,
        sleep: Sleep = time.sleep,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        email_cache_ttl: dt.timedelta = EMAIL_CACHE_TTL,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.hooks_url = hooks_url or hooks_url_for(self.base_url)
        self._timeout = timeout
        self._clock = clock
        self._retry_handlers = [
            RateLimitRetry(max_retry_count=max_retries, sleep=sleep),
            ConnectionRetry(max_retry_count=max_retries, sleep=sleep, rng=rng or random.Random()),
        ]
        self._web = WebClient(
            token=token, base_url=self.base_url, timeout=timeout, retry_handlers=self._retry_handlers
        )
        self._emails = _TtlCache(email_cache_ttl, EMAIL_CACHE_SIZE)

    def __repr__(self) -> str:
        return f"SlackClient({self.base_url!r})"

    # -- identity and channels -----------------------------------------------------------------

    def auth_test(self) -> SlackIdentity:
        """The workspace, the bot user and the granted scopes. Raises SlackAuthError for a bad token."""
        answer = self._call("auth.test")
        bot_id = answer.data.get("bot_id")
        return SlackIdentity(
            team_id=answer.text("team_id"),
            team=answer.text("team"),
            url=answer.text("url"),
            bot_user_id=answer.text("user_id"),
            bot_id=bot_id if isinstance(bot_id, str) else None,
            scopes=granted_scopes(answer.headers),
        )

    def channel_info(self, channel: str) -> ChannelInfo:
        """The channel's name, privacy and whether the bot is in it. SlackChannelNotFound if none."""
        data = self._call("conversations.info", channel=channel).mapping("channel")
        return ChannelInfo(
            id=str(data.get("id") or channel),
            name=str(data.get("name") or ""),
            is_private=bool(data.get("is_private")),
            is_archived=bool(data.get("is_archived")),
            is_member=bool(data.get("is_member")),
        )

    # -- messages ------------------------------------------------------------------------------

    def post_message(self, channel: str, text: str, blocks: Blocks = ()) -> PostedMessage:
        """Post to a channel (or a DM channel); `text` is the notification and fallback text."""
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=_blocks(blocks))
        return PostedMessage(answer.text("channel"), answer.text("ts"))

    def update_message(self, channel: str, ts: str, text: str, blocks: Blocks = ()) -> PostedMessage:
        """Replace a message the bot posted. SlackMessageNotFound when it is gone."""
        answer = self._call("chat.update", channel=channel, ts=ts, text=text, blocks=_blocks(blocks))
        return PostedMessage(answer.text("channel"), answer.text("ts"))

    def post_ephemeral(self, channel: str, user_id: str, text: str, blocks: Blocks = ()) -> str:
        """A message only `user_id` sees, in `channel`; returns its `message_ts`."""
        answer = self._call(
            "chat.postEphemeral", channel=channel, user=user_id, text=text, blocks=_blocks(blocks)
        )
        return answer.text("message_ts")

    def reply(self, response_url: str, text: str, blocks: Blocks = ()) -> None:
        """Answer an interaction privately through its `response_url` (an ephemeral reply).

        The URL must be under `hooks_url`: a payload cannot make the service post anywhere else.
        `response_type` and `replace_original` are always sent: without them a reply may replace
        the poll message for everyone.
        """
        if not response_url.startswith(self.hooks_url):
            raise SlackPayloadError(f"response_url is not under {self.hooks_url}")
        hook = WebhookClient(response_url, timeout=self._timeout, retry_handlers=self._retry_handlers)
        body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": False}
        if blocks:
            body["blocks"] = list(blocks)
        try:
            answer = hook.send_dict(body)
        except (URLError, HTTPException, OSError) as error:
            raise _connection_error("response_url", error) from None
        data = _json_or_none(answer.body)
        # A response_url answers "ok" (as incoming webhooks do) or `{"ok": true}`.
        if answer.status_code != 200 or not (answer.body.strip() == "ok" or _is_ok(data)):
            raise error_for_answer("response_url", answer.status_code, data, answer.headers)

    # -- users and direct messages -------------------------------------------------------------

    def user_email(self, user_id: str) -> str | None:
        """The email on a user's profile (users.info), cached; None when the profile shows none.

        Raises SlackUserNotFound for an unknown id, and SlackMissingScope when the app lacks
        `users:read.email` (Slack then silently leaves the email out).
        """
        cached = self._emails.get(user_id, self._clock())
        if cached is not None:
            return cached[0]
        answer = self._call("users.info", user=user_id)
        profile = answer.mapping("user").get("profile")
        email = profile.get("email") if isinstance(profile, Mapping) else None
        if not isinstance(email, str) or not email:
            granted = granted_scopes(answer.headers)
            if granted and EMAIL_SCOPE not in granted:
                provided = ",".join(sorted(granted))
                raise SlackMissingScope("users.info", "missing_scope", needed=EMAIL_SCOPE, provided=provided)
            email = None
        self._emails.put(user_id, email, self._clock())
        return email

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user id for an email; None when no active member of the workspace has it."""
        try:
            user = self._call("users.lookupByEmail", email=email).mapping("user")
        except SlackUserNotFound:
            return None
        user_id = user.get("id")
        if not isinstance(user_id, str):
            raise SlackAPIError("users.lookupByEmail", "unexpected_response")
        # Slack still finds a deactivated member, flagged `deleted`: no DM can reach them.
        return None if user.get("deleted") is True else user_id

    def open_dm(self, user_id: str) -> str:
        """The id of the bot's direct-message channel with `user_id` (conversations.open)."""
        channel_id = self._call("conversations.open", users=user_id).mapping("channel").get("id")
        if not isinstance(channel_id, str):
            raise SlackAPIError("conversations.open", "unexpected_response")
        return channel_id

    def send_dm(self, user_id: str, text: str, blocks: Blocks = ()) -> PostedMessage:
        """A direct message from the bot to `user_id`; returns where it lives (for later edits)."""
        return self.post_message(self.open_dm(user_id), text, blocks)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, method: str, **args: Any) -> _Answer:
        """Call `method` through the SDK's own function for it (`chat.postMessage` -> `chat_postMessage`),
        turning every SDK or network failure into a SlackError."""
        send = getattr(self._web, method.replace(".", "_"))
        try:
            response = send(**args)
        except SlackApiError as error:
            raise _api_error(method, error.response) from None
        except SlackRequestError as error:
            log.error("Slack %s was not sent: %s", method, type(error).__name__)
            raise SlackError(f"Slack {method} could not be sent (a bug: {type(error).__name__})") from None
        except (URLError, HTTPException, OSError) as error:
            raise _connection_error(method, error) from None
        if not _is_ok(response.data):
            raise SlackAPIError(method, "unexpected_response")
        return _Answer(method, response.data, response.headers)


@dataclass(frozen=True)
class _Answer:
    """An `ok: true` answer, read defensively: a missing field is an unexpected answer, not a KeyError."""

    method: str
    data: Mapping[str, Any]
    headers: Mapping[str, Any]

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise SlackAPIError(self.method, "unexpected_response")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, Mapping):
            raise SlackAPIError(self.method, "unexpected_response")
        return value


def granted_scopes(headers: Mapping[str, Any]) -> frozenset[str]:
    """The scopes in Slack's `x-oauth-scopes` header (comma-separated), sent with every answer."""
    value = header(headers, "x-oauth-scopes") or ""
    return frozenset(scope.strip() for scope in value.split(",") if scope.strip())


def _api_error(method: str, response: SlackResponse) -> SlackAPIError:
    status = int(response.status_code or 0)
    retry_after = retry_after_seconds(header(response.headers, "retry-after"))
    return error_for_answer(method, status, response.data, response.headers, retry_after=retry_after)


def _connection_error(method: str, error: BaseException) -> SlackConnectionError:
    reason = error.reason if isinstance(error, URLError) else error
    unanswered = not never_sent(error if isinstance(error, Exception) else None)
    what = "no answer (it may have taken effect)" if unanswered else "could not connect"
    return SlackConnectionError(f"Slack {method}: {what}: {type(reason).__name__}", unanswered=unanswered)


def _blocks(blocks: Blocks) -> list[Mapping[str, Any]] | None:
    """The SDK leaves out a None argument; an empty list would be sent and refused."""
    return list(blocks) or None


def _is_ok(data: Any) -> bool:
    return isinstance(data, Mapping) and data.get("ok") is True


def _json_or_none(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class _TtlCache:
    """A small, thread-safe LRU cache whose entries expire `ttl` after they were stored."""

    def __init__(self, ttl: dt.timedelta, size: int) -> None:
        self._ttl = ttl
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[str | None, dt.datetime]] = OrderedDict()

    def get(self, key: str, now: dt.datetime) -> tuple[str | None] | None:
        """`(value,)` while fresh (the value itself may be None), else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now >= entry[1]:
                self._entries.pop(key, None)
                return None
            self._entries.move_to_end(key)
            return (entry[0],)

    def put(self, key: str, value: str | None, now: dt.datetime) -> None:
        with self._lock:
            self._entries[key] = (value, now + self._ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
