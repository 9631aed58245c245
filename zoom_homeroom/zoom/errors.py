"""Errors raised by the Zoom client. Every failure raises one of these; nothing returns None.

    ZoomError
    ├── ZoomAuthError              the token endpoint refused the credentials, or a 401 persisted
    │                              after one token renewal
    ├── ZoomConnectionError        connection failure or timeout, after retries
    └── ZoomAPIError               any other non-2xx answer: .status, .code, .message, .url
        ├── ZoomNotFound           404
        ├── ZoomRateLimited        429, .retry_after (seconds or None)
        │   ├── ZoomDailyLimitExceeded
        │   │                      the host's daily create/update limit: .host, .reset_at (next 00:00 UTC)
        │   ├── ZoomAccountDailyLimit
        │   │                      the account's daily API limit: .reset_at (Retry-After, else 00:00 UTC)
        │   └── ZoomRegistrantDailyLimit
        │                          one email registered 3 times today for one meeting: .reset_at (00:00 UTC)
        ├── ZoomRegistrationNotEnabled
        │                          a registrant call on a meeting that does not require registration
        └── ZoomServerError        5xx

Messages are one readable line naming the call and what Zoom said. They never carry tokens,
headers or secrets.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

# Two daily 429s that a retry today cannot help. The per-host create/update limit (100 a day per user)
# names the user level: "You have exceeded the daily rate limit (100) of Meeting Create/Update API
# requests permitted for this particular user. ...". The account-wide daily limit of an API category
# reads "You have reached the maximum daily rate limit for this API. Refer to the response header ..."
# and comes with `X-RateLimit-Type: Daily-limit` and `Retry-After` as an ISO 8601 time (Zoom's "Rate
# limits" page for the texts; a rate-limit reference with captured headers for the header values).
_HOST_DAILY_MARKERS = ("particular user", "user level")
_DAILY_MARKER = "daily rate limit"
# The per-registrant limit (3 registrations of one email for one meeting a UTC day) names the registrant:
# "You have exceeded the daily rate limit (3) of Webinar Batch Registration API requests permitted for
# (...) this particular registrant. ..." and, more recently, "You have exceeded the daily rate limit of
# (3) for Add a webinar registrant API requests for the registrant (...). ..." (both quoted from Zoom in
# its developer forum; a Zoom reply there confirms the meeting endpoint counts per meeting and email).
_REGISTRANT_MARKER = "registrant"
# A registrant call on a meeting whose approval_type is 2: the spec's batch_registrants 400 list has
# "Registration has not been enabled for this meeting: {meetingId}" (code 404), the text another
# project quotes from the single-registrant call too.
_REGISTRATION_OFF_MARKER = "registration has not been enabled"
_DAILY_LIMIT_TYPE = "daily-limit"
_MAX_MESSAGE_CHARS = 300


class ZoomError(Exception):
    """Base class of every error the Zoom client raises."""


class ZoomAuthError(ZoomError):
    """Zoom refused our credentials or token; `.status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ZoomConnectionError(ZoomError):
    """Zoom could not be reached (connection refused, DNS, TLS, timeout) even after retries.

    `unanswered` is True when the request was sent but no answer came in time: Zoom may still be
    carrying it out.
    """

    def __init__(self, message: str, *, unanswered: bool = False) -> None:
        super().__init__(message)
        self.unanswered = unanswered


@dataclass(frozen=True)
class ZoomAnswer:
    """What Zoom answered to a call: its status, Zoom's code and message, the call's URL and method."""

    status: int
    code: int | None
    message: str
    url: str
    method: str = ""


class ZoomAPIError(ZoomError):
    """Zoom answered with an error status."""

    def __init__(self, answer: ZoomAnswer) -> None:
        self.status = answer.status
        self.code = answer.code
        self.message = answer.message
        self.url = answer.url
        self.method = answer.method
        super().__init__(self._describe())

    def _describe(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        call = f"{self.method} {_api_path(self.url)}".strip()
        return f"Zoom API {self.status}{code} on {call}: {self.message}"


class ZoomNotFound(ZoomAPIError):
    """404: the meeting, user or past instance does not exist (or is not visible to the app)."""


class ZoomServerError(ZoomAPIError):
    """5xx: Zoom failed; the request may or may not have taken effect."""


class ZoomRateLimited(ZoomAPIError):
    """429: too many requests. `.retry_after` is the wait Zoom asked for, in seconds, or None."""

    def __init__(self, answer: ZoomAnswer, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(answer)

    def _describe(self) -> str:
        text = super()._describe()
        if self.retry_after is None:
            return text
        return f"{text} (retry after {self.retry_after:g} s)"


class ZoomDailyLimitExceeded(ZoomRateLimited):
    """The per-host daily limit of meeting creates/updates is used up until `.reset_at` (00:00 UTC).

    `.host` is the host's user id or email for a create. A PATCH URL names only the meeting, so for
    an update `.host` carries the meeting id instead.
    """

    def __init__(self, answer: ZoomAnswer, *, host: str | None, reset_at: dt.datetime) -> None:
        self.host = host
        self.reset_at = reset_at
        super().__init__(answer)

    def _describe(self) -> str:
        subject = f" for {self.host}" if self.host else ""
        return (
            f"{super()._describe()} (daily limit reached{subject}; "
            f"it resets at {self.reset_at:%Y-%m-%d %H:%M} UTC)"
        )


class ZoomAccountDailyLimit(ZoomRateLimited):
    """The account's daily limit for this kind of API call is used up until `.reset_at`.

    Rate limits are shared by every app of the account, so another integration may have used it up.
    `.reset_at` is Zoom's `Retry-After` (seconds, an HTTP date or an ISO 8601 time), else 00:00 UTC.
    """

    def __init__(self, answer: ZoomAnswer, *, retry_after: float | None, reset_at: dt.datetime) -> None:
        self.reset_at = reset_at
        super().__init__(answer, retry_after=retry_after)

    def _describe(self) -> str:
        return (
            f"{ZoomAPIError._describe(self)} (the account's daily API limit is used up; "
            f"it resets at {self.reset_at:%Y-%m-%d %H:%M} UTC)"
        )


class ZoomRegistrantDailyLimit(ZoomRateLimited):
    """Zoom refuses to register this email for this meeting again until `.reset_at` (00:00 UTC): it
    allows 3 registrations of one email a day per meeting. The other registrants are not affected."""

    def __init__(self, answer: ZoomAnswer, *, reset_at: dt.datetime) -> None:
        self.reset_at = reset_at
        super().__init__(answer)

    def _describe(self) -> str:
        return f"{ZoomAPIError._describe(self)} (it resets at {self.reset_at:%Y-%m-%d %H:%M} UTC)"


class ZoomRegistrationNotEnabled(ZoomAPIError):
    """A registrant call on a meeting that does not require registration (`approval_type` 2): Zoom
    drops the setting for a host who is not a Licensed user, and a meeting can lose it in the portal."""


def error_for_response(
    response: requests.Response,
    *,
    now: dt.datetime,
    host: str | None = None,
) -> ZoomAPIError:
    """The typed error for a non-2xx Zoom response.

    `now` (aware UTC) resolves an HTTP-date `Retry-After` and the daily limit's reset time;
    `host` is what a daily-limit error names (see ZoomDailyLimitExceeded).
    """
    answer = _answer(response)
    if answer.status == 404:
        return ZoomNotFound(answer)
    if answer.status == 429:
        return _rate_limited(response, answer, now=now, host=host)
    if answer.status >= 500:
        return ZoomServerError(answer)
    if _REGISTRATION_OFF_MARKER in answer.message.lower():
        return ZoomRegistrationNotEnabled(answer)
    return ZoomAPIError(answer)


def _answer(response: requests.Response) -> ZoomAnswer:
    code, message = _code_and_message(response)
    method = response.request.method if response.request is not None else ""
    return ZoomAnswer(response.status_code, code, message, response.url or "", method or "")


def _rate_limited(
    response: requests.Response, answer: ZoomAnswer, *, now: dt.datetime, host: str | None
) -> ZoomRateLimited:
    """The 429's kind: a registrant's, the host's or the account's daily limit, or a short-lived limit."""
    text = answer.message.lower()
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    if _DAILY_MARKER in text and _REGISTRANT_MARKER in text:
        return ZoomRegistrantDailyLimit(answer, reset_at=next_utc_midnight(now))
    if _DAILY_MARKER in text and any(marker in text for marker in _HOST_DAILY_MARKERS):
        return ZoomDailyLimitExceeded(answer, host=host, reset_at=next_utc_midnight(now))
    limit_type = response.headers.get("X-RateLimit-Type", "").strip().lower()
    if _DAILY_MARKER in text or limit_type == _DAILY_LIMIT_TYPE:
        reset_at = (
            now + dt.timedelta(seconds=retry_after) if retry_after is not None else next_utc_midnight(now)
        )
        return ZoomAccountDailyLimit(answer, retry_after=retry_after, reset_at=reset_at)
    return ZoomRateLimited(answer, retry_after=retry_after)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from `Retry-After`: delta-seconds, an HTTP date or (as Zoom sends with its daily
    limit) an ISO 8601 time; None if absent or unreadable. A time in the past is 0."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    moment = _http_date(value) or _iso_time(value)
    if moment is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def _http_date(value: str) -> dt.datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 9110 dates are GMT; parsedate leaves "-0000" naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _iso_time(value: str) -> dt.datetime | None:
    if "T" not in value:
        return None  # a bare date or a number is not a moment Zoom would send
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def next_utc_midnight(now: dt.datetime) -> dt.datetime:
    """The next 00:00 UTC strictly after `now`, when Zoom resets its daily limits."""
    today = now.astimezone(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC)


def _code_and_message(response: requests.Response) -> tuple[int | None, str]:
    """Zoom's `{"code": 3001, "message": "..."}`, or the reason phrase for non-JSON bodies."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code: int | None = None
    message = ""
    if isinstance(body, dict):
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = str(body.get("message") or body.get("reason") or "")
    if not message:
        message = response.reason or "no message"
    return code, _one_line(message)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE_CHARS:
        return text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _api_path(url: str) -> str:
    """`/meetings/123` from `https://api.zoom.us/v2/meetings/123?x=1`: the part a reader recognises."""
    path = urlsplit(url).path
    if path.startswith("/v2/"):
        return path[3:]
    return path or url
