"""Who hears about a client's connection states: ``state_changes()`` iterators and
an ``on_state`` callback, each told every new state once, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from ensync_tui.client.connection import ConnectionState, ConnectionStatus

__all__ = ["StateFeed"]

log = logging.getLogger("ensync_tui.client")


class StateFeed:
    def __init__(self, on_state: Callable[[ConnectionState], None] | None = None) -> None:
        self._on_state = on_state
        self._listeners: list[asyncio.Queue[ConnectionState]] = []
        self._told: ConnectionState | None = None  # the last state reported

    def report(self, state: ConnectionState) -> None:
        if state == self._told and state.status is not ConnectionStatus.CONNECTING:
            return
        self._told = state
        log.info("connection %s%s", state.status, f": {state.reason}" if state.reason else "")
        for queue in self._listeners:
            queue.put_nowait(state)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("on_state failed")

    async def changes(self, now: ConnectionState) -> AsyncIterator[ConnectionState]:
        """Each new state after ``now`` (the current one), until (and including) "closed"."""
        if now.status is ConnectionStatus.CLOSED:
            return
        queue: asyncio.Queue[ConnectionState] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                state = await queue.get()
                yield state
                if state.status is ConnectionStatus.CLOSED:
                    return
        finally:
            self._listeners.remove(queue)
