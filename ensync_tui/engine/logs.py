"""Repeated log lines summarized: a hostile peer must not fill the operator's disk.

:class:`RepeatFilter` lets the first ``burst`` lines of each kind (logger,
level and format string) through in every ``window`` seconds; the rest are
counted, and one line says how many were left out once the window is over
(on the next line of that kind, or on :meth:`RepeatFilter.flush`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ensync_tui.safetext import visible

BURST = 20
WINDOW = 10.0
_MAX_KINDS = 1_000


@dataclass(slots=True)
class _Kind:
    start: float
    shown: int = 0
    dropped: int = 0
    example: str = ""


class RepeatFilter(logging.Filter):
    """A filter for a logger or a handler that summarizes repeated lines."""

    def __init__(
        self,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "summary", False):
            return True
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        key = (record.name, record.levelno, template[:200])
        now = self.clock()
        kind = self._kinds.get(key)
        if kind is None:
            if len(self._kinds) >= _MAX_KINDS:
                self.flush(force=True)
                self._kinds.clear()
            kind = self._kinds[key] = _Kind(now)
        elif now - kind.start >= self.window:
            self._summarize(key, kind)
            kind.start, kind.shown = now, 0
        if kind.shown < self.burst:
            kind.shown += 1
            return True
        kind.dropped += 1
        if not kind.example:
            try:
                kind.example = visible(record.getMessage()[:120])
            except Exception:  # a record that cannot be formatted is still counted
                kind.example = visible(template[:120])
        return False

    def flush(self, force: bool = False) -> None:
        """Write the summaries of windows that are over (all of them with ``force``)."""
        now = self.clock()
        for key, kind in list(self._kinds.items()):
            if kind.dropped and (force or now - kind.start >= self.window):
                self._summarize(key, kind)
                kind.start, kind.shown = now, 0

    def _summarize(self, key: tuple[str, int, str], kind: _Kind) -> None:
        if not kind.dropped:
            return
        name, level, _ = key
        dropped, kind.dropped, example, kind.example = kind.dropped, 0, kind.example, ""
        logging.getLogger(name).log(
            level,
            "(%d more lines like this one in the last %.0f s not shown: %s)",
            dropped,
            self.window,
            example,
            extra={"summary": True},
        )
