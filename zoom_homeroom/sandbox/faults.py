"""Queued faults: the next matching requests fail the way Zoom or the network sometimes does."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .fault_queue import FaultQueue, check_times, is_error_status, whole_number

FaultKind = int | str
SLOW, DROP, DAILY_LIMIT = "slow", "drop", "daily_limit"


@dataclass
class Fault:
    """One queued fault and how many more requests it hits."""

    status: FaultKind
    times: int = 1
    method: str | None = None
    path_prefix: str | None = None
    retry_after: int | str | None = None  # seconds, or a header value as sent (HTTP date, ISO 8601)
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults(FaultQueue[Fault]):
    """`sandbox.faults`: queue faults with add(); each request takes the first that matches."""

    def add(
        self,
        status: FaultKind,
        *,
        times: int = 1,
        method: str | None = None,
        path_prefix: str | None = None,
        retry_after: int | str | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Queue a fault: 500 (or another 5xx), 429 (per-second, with `Retry-After` when given),
        "daily_limit" (the account-wide daily 429; `Retry-After` the next 00:00 UTC unless given), "slow",
        "drop". `retry_after` is whole seconds or a header value sent as is (an HTTP date, an ISO time).

        "slow" waits `delay` seconds and then answers normally (the request still takes effect,
        as on Zoom when a client gave up waiting); "drop" closes the connection unanswered and
        unprocessed. Raises ValueError for anything else.
        """
        return self._push(_validated(Fault(status, times, method, path_prefix, retry_after, delay)))

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching this request, used up by one."""
        return self._take(lambda fault: fault.matches(method, path))


def _validated(fault: Fault) -> Fault:
    if not (fault.status in (SLOW, DROP, DAILY_LIMIT) or is_error_status(fault.status)):
        raise ValueError(
            f"fault status {fault.status!r}: use 429, a 5xx status, 'daily_limit', 'slow' or 'drop'"
        )
    check_times(fault.times)
    if not _valid_retry_after(fault.retry_after):
        raise ValueError(f"fault retry_after {fault.retry_after!r}: use whole seconds or a date text")
    if not isinstance(fault.delay, int | float) or fault.delay < 0:
        raise ValueError(f"fault delay {fault.delay!r}: use seconds >= 0")
    if fault.status == SLOW and not fault.delay:
        raise ValueError("a 'slow' fault needs delay= (seconds to wait before answering)")
    return fault


def _valid_retry_after(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return bool(value.strip())
    return whole_number(value)
