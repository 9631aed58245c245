"""slack-sdk's retry handlers, waiting with an injected sleep and never repeating a post blindly.

The SDK's `RateLimitErrorRetryHandler` and `ConnectionErrorRetryHandler` decide *whether* to retry;
these subclasses only change *how long* and *with what* they wait (the SDK calls `time.sleep`
directly, which a test cannot fake), and keep two promises of this project's clients:

- a `Retry-After` longer than `max_wait` is not slept through: the caller gets SlackRateLimited;
- a method that posts a message is retried after a connection failure only when the request never
  reached Slack (connection refused, DNS): a reset or a lost answer may mean it was posted, and a
  second attempt would post it twice. A 429 is always safe to retry: Slack did nothing.
"""

from __future__ import annotations

import random
import socket
from http.client import RemoteDisconnected
from urllib.error import URLError

from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from ..clock import Sleep
from .errors import header

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# Slack's 429s ask for a few seconds to a minute; a longer wait is not worth blocking a job for.
MAX_RETRY_WAIT_SECONDS = 30.0
# When a 429 carries no usable Retry-After (Slack always sends one; a proxy might not).
DEFAULT_RETRY_AFTER_SECONDS = 1.0

# Methods whose repetition cannot duplicate anything visible: reads, the idempotent
# conversations.open (it returns the same DM), and chat.update (the same edit twice is one edit).
REPEATABLE_METHODS = frozenset(
    {
        "auth.test",
        "conversations.info",
        "users.info",
        "users.lookupByEmail",
        "conversations.open",
        "chat.update",
    }
)


def retry_after_seconds(value: str | None) -> float | None:
    """Slack's `Retry-After` (whole seconds) as a float; None when absent or unreadable."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def api_method(url: str) -> str:
    """`chat.postMessage` from `https://slack.com/api/chat.postMessage?x=1`."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class _InjectedWait(RetryHandler):
    """What both handlers change of the SDK's: a retry also needs `_allowed`, and waits `_wait` seconds
    with the injected sleep (the SDK's own `time.sleep` cannot be faked)."""

    _sleep: Sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return self._allowed(request, response, error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._sleep(self._wait(state, response))
        state.increment_current_attempt()

    def _allowed(self, request: HttpRequest, response: HttpResponse | None, error: Exception | None) -> bool:
        raise NotImplementedError

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float:
        raise NotImplementedError


class RateLimitRetry(_InjectedWait, RateLimitErrorRetryHandler):
    """Retries a 429 after exactly the `Retry-After` Slack asked for, with the injected sleep."""

    def __init__(
        self, *, max_retry_count: int, sleep: Sleep, max_wait: float = MAX_RETRY_WAIT_SECONDS
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self.max_wait = max_wait

    def _allowed(self, request: HttpRequest, response: HttpResponse | None, error: Exception | None) -> bool:
        return _asked_wait(response) <= self.max_wait

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float:
        return _asked_wait(response)


class ConnectionRetry(_InjectedWait, ConnectionErrorRetryHandler):
    """Retries connection failures with capped exponential backoff and full jitter (injected)."""

    def __init__(self, *, max_retry_count: int, sleep: Sleep, rng: random.Random) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            error_types=[URLError, ConnectionError, RemoteDisconnected, socket.gaierror],
        )
        self._sleep = sleep
        self._rng = rng

    def _allowed(self, request: HttpRequest, response: HttpResponse | None, error: Exception | None) -> bool:
        return api_method(request.url) in REPEATABLE_METHODS or never_sent(error)

    def _wait(self, state: RetryState, response: HttpResponse | None) -> float:
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**state.current_attempt)
        return self._rng.uniform(0, ceiling)


def _asked_wait(response: HttpResponse | None) -> float:
    """The seconds a 429's `Retry-After` asks for (one when it says nothing usable)."""
    value = header(response.headers, "retry-after") if response is not None else None
    wait = retry_after_seconds(value)
    return DEFAULT_RETRY_AFTER_SECONDS if wait is None else wait


def never_sent(error: Exception | None) -> bool:
    """True when the request certainly did not reach Slack: the connection was never made."""
    reason = error.reason if isinstance(error, URLError) else error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)
