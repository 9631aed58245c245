"""Queued faults for the Slack sandbox: the next matching Web API calls fail as Slack or the network can.

Kinds:
- 429: Slack's rate limit, `{"ok": false, "error": "ratelimited"}` with `Retry-After` (whole
  seconds) (docs.slack.dev/apis/web-api/rate-limits: "HTTP 429 Too Many Requests ... Retry-After");
  nothing is done.
- a 5xx status: an HTML error page, as a failing load balancer answers; nothing is done.
- "drop": the connection closes before the request is read; nothing is done.
- "lost": the call is carried out (a message *is* posted), then the connection closes unanswered:
  the case where a retry would post twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

FaultKind = int | str
DROP, LOST = "drop", "lost"


@dataclass
class Fault:
    kind: FaultKind
    method: str | None
    times: int
    retry_after: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "times": self.times,
            "retry_after": self.retry_after,
        }


class Faults:
    """`sandbox.faults`: queue with add(); each call takes the first fault matching its method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []

    def add(
        self, kind: FaultKind, *, method: str | None = None, times: int = 1, retry_after: int | None = None
    ) -> Fault:
        """Queue `kind` (429, a 5xx status, "drop" or "lost") for the next `times` calls of `method`.

        `method` is a Web API method name (`chat.postMessage`), or None for any call, including
        response_url posts (method "response_url"). Raises ValueError for anything else.
        """
        fault = _validated(Fault(kind, method, times, retry_after))
        with self._lock:
            self._queue.append(fault)
        return fault

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.method is None or fault.method == method:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._queue.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Forget every queued fault: Slack is well again."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._queue]


def _validated(fault: Fault) -> Fault:
    is_status = isinstance(fault.kind, int) and not isinstance(fault.kind, bool)
    if not (fault.kind in (DROP, LOST) or (is_status and (fault.kind == 429 or 500 <= fault.kind <= 599))):
        raise ValueError(f"fault {fault.kind!r}: use 429, a 5xx status, 'drop' or 'lost'")
    if isinstance(fault.times, bool) or not isinstance(fault.times, int) or fault.times < 1:
        raise ValueError(f"fault times {fault.times!r}: use a positive integer")
    if fault.retry_after is not None and (
        isinstance(fault.retry_after, bool) or not isinstance(fault.retry_after, int) or fault.retry_after < 0
    ):
        raise ValueError(f"fault retry_after {fault.retry_after!r}: use whole seconds")
    return fault
