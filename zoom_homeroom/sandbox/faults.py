"""Queued faults: the next matching requests fail the way Zoom or the network sometimes does."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

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
        return {
            "status": self.status,
            "times": self.times,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "retry_after": self.retry_after,
            "delay": self.delay,
        }


class Faults:
    """`sandbox.faults`: queue faults with add(); each request takes the first that matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []

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
        fault = _validated(Fault(status, times, method, path_prefix, retry_after, delay))
        with self._lock:
            self._queue.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching this request, used up by one."""
        with self._lock:
            for fault in self._queue:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._queue.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._queue]


def _validated(fault: Fault) -> Fault:
    is_status = isinstance(fault.status, int) and not isinstance(fault.status, bool)
    if not (
        fault.status in (SLOW, DROP, DAILY_LIMIT)
        or (is_status and (fault.status == 429 or 500 <= fault.status <= 599))
    ):
        raise ValueError(
            f"fault status {fault.status!r}: use 429, a 5xx status, 'daily_limit', 'slow' or 'drop'"
        )
    if isinstance(fault.times, bool) or not isinstance(fault.times, int) or fault.times < 1:
        raise ValueError(f"fault times {fault.times!r}: use a positive integer")
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
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
