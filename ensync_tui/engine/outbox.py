"""A connection's outbox: the frames waiting to be sent, in order, counted in
frames and in bytes.

A future stands for a reply that is not known yet (it waits for storage).
Strings are counted at their length; a future pushed with a ``cost`` (a
``REPLAY``, whose record may be megabytes) is counted at that cost until it
resolves and at its real length afterwards. The connection stops reading
requests while the outbox is over its budget, and deliveries fall back to the
store, so a peer that stops reading holds a few MiB, not gigabytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from ensync_tui.engine.writer import Refused, StorageError

SEND_BATCH_BYTES = 1 << 20  # one write takes ready frames up to about this much


def fail(reason: str) -> str:
    return "-FAIL:" + reason


class Outbox:
    """Frames waiting to be sent; a future stands for a reply not known yet."""

    def __init__(self, budget: int = 8 << 20) -> None:
        self.budget = budget
        self.bytes = 0  # strings queued, plus the costs of the futures counted
        self._items: deque[str | asyncio.Future[Any]] = deque()
        self._costs: dict[asyncio.Future[Any], int] = {}  # counted futures -> bytes counted
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room_frames = 0  # the loosest limits someone waits for (0: nobody)
        self._room_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def over(self, frames: int) -> bool:
        """True when more than ``frames`` frames or the byte budget are queued."""
        return len(self._items) >= frames or self.bytes >= self.budget

    def push(self, item: str | asyncio.Future[Any], cost: int = 0) -> None:
        self._items.append(item)
        if isinstance(item, str):
            self.bytes += len(item)
        elif cost:
            self._costs[item] = cost
            self.bytes += cost
            item.add_done_callback(self._resolved)
        self._ready.set()

    def _resolved(self, fut: asyncio.Future[Any]) -> None:
        counted = self._costs.get(fut)
        if counted is None:
            return  # already sent or discarded
        size = 64
        if not fut.cancelled() and fut.exception() is None:
            result = fut.result()
            size = len(result) if isinstance(result, str) else 64
        self._costs[fut] = size
        self.bytes += size - counted
        self._check_room()

    async def wait_below(self, frames: int, bytes_: int | None = None) -> None:
        """Wait until fewer than ``frames`` frames and (by default) half the
        byte budget are queued."""
        limit = self.budget // 2 if bytes_ is None else bytes_
        while len(self._items) >= frames or self.bytes >= limit:
            self._room_frames = max(self._room_frames, frames)
            self._room_bytes = max(self._room_bytes, limit)
            self._room.clear()
            await self._room.wait()

    def _check_room(self) -> None:
        if len(self._items) < self._room_frames and self.bytes < self._room_bytes:
            self._room_frames = self._room_bytes = 0
            self._room.set()

    async def get(self, limit: int = 256) -> list[str]:
        """The next frames to send, in order: waits for the first, then takes
        every following one that is ready, up to ``limit`` frames and about
        :data:`SEND_BATCH_BYTES`."""
        while not self._items:
            self._ready.clear()
            self._room_frames = self._room_bytes = 0
            self._room.set()
            await self._ready.wait()
        items = self._items
        first = items[0]
        frames = [await self._resolve(first)]
        items.popleft()
        size = self._uncount(first, frames[0])
        while items and len(frames) < limit and size < SEND_BATCH_BYTES:
            item = items[0]
            if not isinstance(item, str):
                if not item.done():
                    break
                frame = await self._resolve(item)
            else:
                frame = item
            frames.append(frame)
            items.popleft()
            size += self._uncount(item, frame)
        self._check_room()
        return frames

    def _uncount(self, item: str | asyncio.Future[Any], frame: str) -> int:
        if isinstance(item, str):
            self.bytes -= len(item)
            return len(item)
        counted = self._costs.pop(item, None) if self._costs else None
        if counted is not None:
            self.bytes -= counted
        return len(frame)

    @staticmethod
    async def _resolve(item: str | asyncio.Future[Any]) -> str:
        if isinstance(item, str):
            return item
        try:
            frame: str = await item
        except (Refused, StorageError) as exc:
            return fail(str(exc))
        except asyncio.CancelledError:
            if not item.cancelled():
                raise
            return fail("cancelled")
        return frame

    def discard(self) -> None:
        """Drop everything; cancel replies still waiting (the peer has gone)."""
        while self._items:
            item = self._items.popleft()
            if not isinstance(item, str):
                item.cancel()
        self._costs.clear()
        self.bytes = 0
        self._room_frames = self._room_bytes = 0
        self._room.set()
