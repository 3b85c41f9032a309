"""How often the explorer redraws, in the time of the injected clock. No Textual.

The explorer's clock is ``time.monotonic`` and its timers are Textual's. A clock
that can also run timers (``TimerClock``: tests pass one they move by hand) runs
the throttles' timers itself, so time is driven instead of waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "INSPECT_DELAY",
    "INSPECT_FOLLOW_DELAY",
    "STATS_EVERY",
    "VIEW_EVERY",
    "VIEW_EVERY_FIREHOSE",
    "Stoppable",
    "Throttle",
    "TimerClock",
    "inspect_delay",
]

INSPECT_DELAY = 0.15  # seconds the cursor rests before the inspector redraws
INSPECT_FOLLOW_DELAY = 1.0  # while following a stream: at most one inspector redraw a second
STATS_EVERY = 1.0  # seconds between two updates of the counts, rates and countdown
VIEW_EVERY = 0.1  # seconds between stream redraws while records pour in
VIEW_EVERY_FIREHOSE = 0.25  # ... under a flood (keys still redraw at once)


class Stoppable(Protocol):
    def stop(self) -> object: ...


@runtime_checkable
class TimerClock(Protocol):
    """A clock that runs timers in its own time."""

    def __call__(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Stoppable: ...


class Throttle:
    """Something done at most once every ``every`` seconds of ``clock``."""

    def __init__(self, clock: Callable[[], float], every: float) -> None:
        self.clock = clock
        self.every = every
        self.last: float | None = None  # when it was last done (None: never)

    def wait(self, every: float | None = None) -> float:
        """Seconds until it may be done again (0 when it may be done now)."""
        if self.last is None:
            return 0.0
        gap = self.every if every is None else every
        return max(0.0, gap - (self.clock() - self.last))

    def done(self) -> None:
        self.last = self.clock()


def inspect_delay(following: bool, inspected: Throttle) -> float:
    """How long before the inspector shows the record under the cursor: once the
    cursor rests; while following, also at most once every ``inspected.every``."""
    if following:
        return max(INSPECT_DELAY, inspected.wait())
    return INSPECT_DELAY
