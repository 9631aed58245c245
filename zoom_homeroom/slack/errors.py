"""Errors of the Slack adapter. Every failure raises one of these; nothing returns a half answer.

    SlackError
    ├── SlackConnectionError       Slack could not be reached, or did not answer in time, after
    │                              retries; .unanswered when the request may have taken effect
    ├── SlackAPIError              Slack answered `ok: false` (or a non-2xx status): .error, .method,
    │   │                          .status
    │   ├── SlackAuthError         the token is invalid, revoked or its account inactive
    │   ├── SlackMissingScope      the app lacks a scope: .needed, .provided
    │   ├── SlackNotInChannel      the bot is not a member of the channel: invite it
    │   ├── SlackChannelNotFound   no such channel, or a private one the bot cannot see
    │   ├── SlackUserNotFound      no such user (users.info, users.lookupByEmail, conversations.open)
    │   ├── SlackMessageNotFound   chat.update of a message that is gone (or was never ours)
    │   ├── SlackRateLimited       429 `ratelimited`: .retry_after (seconds or None)
    │   └── SlackServerError       5xx, or Slack's own `fatal_error` / `internal_error`
    ├── SlackSignatureError        an inbound request failed verification: .reason
    └── SlackPayloadError          an inbound interaction payload is malformed: .reason

Messages are one readable line naming the Web API method and Slack's error code, with a hint for
an admin where one helps. They never carry the bot token, the signing secret or request bodies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Slack's error codes are short snake_case words; anything else (an HTML error page decoded by the
# SDK, a proxy's answer) is not echoed into a message.
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_UNEXPECTED = "unexpected_response"

AUTH_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive", "no_permission"}
)
USER_ERRORS = frozenset({"user_not_found", "users_not_found", "user_not_visible"})
SERVER_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})

_HINTS = {
    "not_in_channel": "invite the app to the channel (/invite @app in the channel)",
    "channel_not_found": "check the channel ID; a private channel must have the app invited",
    "invalid_auth": "check SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-...)",
    "not_authed": "SLACK_BOT_TOKEN is empty",
    "token_revoked": "the app was uninstalled or its token revoked: reinstall it and update SLACK_BOT_TOKEN",
    "account_inactive": "the app's bot user is deactivated: reinstall the app",
    "is_archived": "the channel is archived",
    "msg_too_long": "the message is longer than Slack accepts",
    "invalid_blocks": "Slack refused the message layout",
}


class SlackError(Exception):
    """Base class of every error the Slack adapter raises."""


class SlackConnectionError(SlackError):
    """Slack could not be reached (connection refused, DNS, TLS, timeout) even after retries.

    `unanswered` is True when the request was sent but no answer came: Slack may have carried it out
    (a message may have been posted).
    """

    def __init__(self, message: str, *, unanswered: bool = False) -> None:
        super().__init__(message)
        self.unanswered = unanswered


class SlackAPIError(SlackError):
    """Slack answered a Web API call with `ok: false` or an error status."""

    def __init__(self, method: str, error: str, *, status: int = 200) -> None:
        self.method = method
        self.error = error
        self.status = status
        super().__init__(self._describe())

    def _describe(self) -> str:
        status = f" (HTTP {self.status})" if self.status != 200 else ""
        hint = _HINTS.get(self.error)
        return f"Slack {self.method} failed{status}: {self.error}" + (f" ({hint})" if hint else "")


class SlackAuthError(SlackAPIError):
    """The token was refused: invalid, revoked, expired, or its account is inactive."""


class SlackMissingScope(SlackAPIError):
    """The app lacks a scope the method needs. `.needed` and `.provided` are Slack's comma lists."""

    def __init__(
        self, method: str, error: str, *, status: int = 200, needed: str = "", provided: str = ""
    ) -> None:
        self.needed = needed
        self.provided = provided
        super().__init__(method, error, status=status)

    def _describe(self) -> str:
        needed = self.needed or "unknown"
        return (
            f"Slack {self.method} failed: missing_scope (add the bot scope {needed} under OAuth & "
            f"Permissions, then reinstall the app; it has {self.provided or 'none'})"
        )


class SlackNotInChannel(SlackAPIError):
    """The bot user is not a member of the channel."""


class SlackChannelNotFound(SlackAPIError):
    """The channel does not exist, or is private and the bot cannot see it."""


class SlackUserNotFound(SlackAPIError):
    """The user does not exist in the workspace (or is not visible to the app)."""


class SlackMessageNotFound(SlackAPIError):
    """The message to edit does not exist in that channel."""


class SlackServerError(SlackAPIError):
    """Slack failed; the request may or may not have taken effect."""


class SlackRateLimited(SlackAPIError):
    """429: too many requests. `.retry_after` is the wait Slack asked for, in seconds, or None."""

    def __init__(
        self, method: str, error: str, *, status: int = 429, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(method, error, status=status)

    def _describe(self) -> str:
        text = super()._describe()
        return text if self.retry_after is None else f"{text} (retry after {self.retry_after:g} s)"


class SlackSignatureError(SlackError):
    """An inbound request is not verifiably Slack's, is too old, or was seen before.

    `.reason` is one of "missing", "malformed", "stale", "signature", "replayed".
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SlackPayloadError(SlackError):
    """An interaction payload cannot be read; `.reason` names the field or the problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unreadable Slack interaction: {reason}")
        self.reason = reason


def _error_code(body: Any) -> str:
    """Slack's `error` code from a response body, or "unexpected_response" for anything else."""
    code = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(code, str) and _ERROR_CODE.match(code):
        return code
    return _UNEXPECTED


def error_for_answer(
    method: str, status: int, body: Any, headers: Mapping[str, Any], *, retry_after: float | None = None
) -> SlackAPIError:
    """The typed error for a Slack Web API answer that was not `ok` (or not 2xx)."""
    code = _error_code(body)
    if status == 429 or code in {"ratelimited", "rate_limited"}:
        return SlackRateLimited(
            method, "ratelimited" if code == _UNEXPECTED else code, status=status, retry_after=retry_after
        )
    if status >= 500 or code in SERVER_ERRORS:
        return SlackServerError(method, code, status=status)
    if code == "missing_scope":
        needed, provided = _scope_lists(body, headers)
        return SlackMissingScope(method, code, status=status, needed=needed, provided=provided)
    if code in AUTH_ERRORS:
        return SlackAuthError(method, code, status=status)
    kind = {
        "not_in_channel": SlackNotInChannel,
        "channel_not_found": SlackChannelNotFound,
        "message_not_found": SlackMessageNotFound,
    }.get(code)
    if kind is None and code in USER_ERRORS:
        kind = SlackUserNotFound
    return (kind or SlackAPIError)(method, code, status=status)


def _scope_lists(body: Any, headers: Mapping[str, Any]) -> tuple[str, str]:
    """`needed` and `provided` from a missing_scope body, falling back to the scope headers."""
    needed = body.get("needed") if isinstance(body, Mapping) else None
    provided = body.get("provided") if isinstance(body, Mapping) else None
    if not isinstance(needed, str):
        needed = header(headers, "x-accepted-oauth-scopes") or ""
    if not isinstance(provided, str):
        provided = header(headers, "x-oauth-scopes") or ""
    return _scope_text(needed), _scope_text(provided)


def _scope_text(text: str) -> str:
    scopes = [
        scope.strip() for scope in text.split(",") if _ERROR_CODE.match(scope.strip().replace(":", "."))
    ]
    return ",".join(scopes[:40])


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's value, whatever its case; urllib gives str, the SDK's retry objects lists."""
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            return value if isinstance(value, str) else None
    return None
