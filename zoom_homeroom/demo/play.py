"""The demo's time: its clock, and the play of a script's actions on it, paced and narrated.

A paced play starts at its first action (the clock jumps there: nothing waits for the hours before
it) and then runs `speed` times faster than real time; processing an action counts towards the wait
for the next one, so a slow machine catches up instead of falling behind. While it waits, the
narrator is ticked a few times a second, so it can say something when the play goes quiet.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from .wednesday import Action

TICK_SECONDS = 0.25  # real seconds between the narrator's ticks while the play waits


class Stopped(Exception):
    """The demo's stop event was set (Ctrl-C, or a test) while it played."""


class StopEvent(Protocol):
    """What the play needs of a `threading.Event`: a test passes one that waits on a fake clock."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Listener(Protocol):
    """Told of each action performed and ticked while the play waits (the narrator)."""

    def performed(self, action: Action) -> None: ...

    def tick(self, now: dt.datetime) -> None: ...


class DemoClock:
    """The demo's simulated clock, which everything in the demo reads: it only moves forward."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance_to(self, moment: dt.datetime) -> None:
        """Jump to `moment` (never back)."""
        self.now = max(self.now, moment)


class Pacer:
    """Moves the demo clock through a play: at once (`speed` None) or `speed` times real time."""

    def __init__(
        self,
        clock: DemoClock,
        stop: StopEvent,
        *,
        speed: float | None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.clock = clock
        self.stop = stop
        self.speed = speed
        self.monotonic = monotonic
        self._anchor: tuple[float, dt.datetime] = (monotonic(), clock.now)

    def start(self, moment: dt.datetime) -> None:
        """Jump to the play's first moment; real time counts from here."""
        self.clock.advance_to(moment)
        self._anchor = (self.monotonic(), self.clock.now)

    def until(self, moment: dt.datetime, listener: Listener) -> None:
        """Wait until `moment` is due, ticking `listener`, then set the clock to it; Stopped when stopped."""
        if self.stop.is_set():
            raise Stopped
        if self.speed is not None:
            real, simulated = self._anchor
            due = real + (moment - simulated).total_seconds() / self.speed
            while (left := due - self.monotonic()) > 0:
                if self.stop.wait(min(left, TICK_SECONDS)):
                    raise Stopped
                self.clock.advance_to(min(moment, self._simulated(self.monotonic())))
                listener.tick(self.clock.now)
        self.clock.advance_to(moment)

    def _simulated(self, real_now: float) -> dt.datetime:
        real, simulated = self._anchor
        return simulated + dt.timedelta(seconds=(real_now - real) * (self.speed or 0))


def play(
    actions: Sequence[Action], pacer: Pacer, listener: Listener, perform: Callable[[Action], None]
) -> None:
    """Perform the actions in time order on the pacer's clock, telling the listener of each."""
    if not actions:
        return
    pacer.start(actions[0].at)
    for action in actions:
        pacer.until(action.at, listener)
        perform(action)
        listener.performed(action)
        listener.tick(pacer.clock.now)
