"""The queue both sandboxes keep their faults in: a test adds faults, each request takes the first one
that matches it, and a fault is used up after its `times` requests. Also the checks both make of a fault.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar


class QueuedFault(Protocol):
    times: int

    def to_json(self) -> dict[str, Any]: ...


F = TypeVar("F", bound=QueuedFault)


class FaultQueue(Generic[F]):
    """Faults in the order they were added, taken under a lock (requests arrive on many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[F] = []

    def clear(self) -> None:
        """Forget every queued fault: the service is well again."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._queue]

    def _push(self, fault: F) -> F:
        with self._lock:
            self._queue.append(fault)
        return fault

    def _take(self, matches: Callable[[F], bool]) -> F | None:
        """The first queued fault that `matches` the request, used up by one."""
        with self._lock:
            for fault in self._queue:
                if matches(fault):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._queue.remove(fault)
                    return fault
        return None


def is_error_status(value: object) -> bool:
    """429 or a 5xx status: the statuses a fault may answer with."""
    return isinstance(value, int) and not isinstance(value, bool) and (value == 429 or 500 <= value <= 599)


def whole_number(value: object) -> bool:
    """A non-negative int (not a bool): a count of requests or of seconds."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_times(times: object) -> None:
    """Raises ValueError unless `times` is a positive integer."""
    if not whole_number(times) or times == 0:
        raise ValueError(f"fault times {times!r}: use a positive integer")
