"""The backoff wait before a reconnect attempt, which ``EnSyncClient.reconnect_now``
can end early (the explorer's "reconnect now" key)."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Nap"]


class Nap:
    """One sleep at a time that ``wake`` cuts short."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    async def sleep(self, seconds: float) -> None:
        event = self._event = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)
        finally:
            self._event = None

    def wake(self) -> bool:
        """End the sleep now; False when nothing sleeps. Call it on the sleeper's loop."""
        event = self._event
        if event is None or event.is_set():
            return False
        event.set()
        return True
