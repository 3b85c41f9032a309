"""Messages per second: per-second counts over the last two minutes, and their sparkline."""

from __future__ import annotations

from collections import deque

KEPT_SECONDS = 120  # how far back the counts (and the sparkline) go
RATE_WINDOW = 5.0  # seconds a rate is averaged over
BLOCKS = "▁▂▃▄▅▆▇█"


class Rates:
    """Counts of records per whole second of a clock, the last KEPT_SECONDS of them.

    ``add`` is called once per batch (not per record): one bucket increment, or one append.
    """

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: deque[tuple[int, int]] = deque(maxlen=KEPT_SECONDS + 1)

    def add(self, now: float, count: int) -> None:
        second = int(now)
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1] = (second, buckets[-1][1] + count)
        else:
            buckets.append((second, count))

    def rate(self, now: float) -> float:
        """Records per second over the last RATE_WINDOW seconds."""
        start = now - RATE_WINDOW - 1
        total = 0
        for second, count in reversed(self.buckets):
            if second < start:
                break
            total += count
        return total / RATE_WINDOW

    def per_second(self, now: float, seconds: int = KEPT_SECONDS) -> list[int]:
        """Counts of the last ``seconds`` whole seconds up to ``now``, oldest first."""
        last = int(now)
        first = last - seconds + 1
        counts = [0] * seconds
        for second, count in reversed(self.buckets):
            if second < first:
                break
            if second <= last:
                counts[second - first] += count
        return counts


def columns(counts: list[int], width: int) -> list[float]:
    """``counts`` (per second) folded into ``width`` columns of mean messages per second."""
    if width <= 0 or not counts:
        return []
    step = max(1, len(counts) // width)
    counts = counts[len(counts) - step * min(width, len(counts) // step) :]
    return [sum(counts[i : i + step]) / step for i in range(0, len(counts), step)]


def spark(values: list[float]) -> str:
    """A one-line sparkline: ▁ for none, █ for the peak, anything above none at least ▂."""
    peak = max(values, default=0.0)
    if peak <= 0:
        return BLOCKS[0] * len(values)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[0 if v <= 0 else max(1, round(v / peak * top))] for v in values)
