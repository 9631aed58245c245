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

from dataclasses import asdict, dataclass
from typing import Any

from ..fault_queue import FaultQueue, check_times, is_error_status, whole_number

FaultKind = int | str
DROP, LOST = "drop", "lost"


@dataclass
class Fault:
    kind: FaultKind
    method: str | None
    times: int
    retry_after: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults(FaultQueue[Fault]):
    """`sandbox.faults`: queue with add(); each call takes the first fault matching its method."""

    def add(
        self, kind: FaultKind, *, method: str | None = None, times: int = 1, retry_after: int | None = None
    ) -> Fault:
        """Queue `kind` (429, a 5xx status, "drop" or "lost") for the next `times` calls of `method`.

        `method` is a Web API method name (`chat.postMessage`), or None for any call, including
        response_url posts (method "response_url"). Raises ValueError for anything else.
        """
        return self._push(_validated(Fault(kind, method, times, retry_after)))

    def take(self, method: str) -> Fault | None:
        return self._take(lambda fault: fault.method is None or fault.method == method)


def _validated(fault: Fault) -> Fault:
    if not (fault.kind in (DROP, LOST) or is_error_status(fault.kind)):
        raise ValueError(f"fault {fault.kind!r}: use 429, a 5xx status, 'drop' or 'lost'")
    check_times(fault.times)
    if fault.retry_after is not None and not whole_number(fault.retry_after):
        raise ValueError(f"fault retry_after {fault.retry_after!r}: use whole seconds")
    return fault
