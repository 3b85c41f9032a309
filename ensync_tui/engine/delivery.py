"""Delivery to one connection: a :class:`Consumer` is one connection's
subscription to one message name.

The broker routes each stored message to the consumers of its recipient and
name; a consumer sends it through its connection's sink. What a consumer needs
of the broker is the small :class:`Hub` interface, so this module imports
neither the broker nor the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from ensync_tui.engine.store import NewMessage, Store, StoredMessage, record_json
from ensync_tui.engine.writer import Writer

log = logging.getLogger("ensync_tui.engine")

BACKLOG_CHUNK = 500  # pending messages read from the store at a time
SINK_HIGH_WATER = 2_000  # backlog reading waits while a connection has this many frames queued
LIVE_LIMIT = 20_000  # beyond this many queued frames, live delivery falls back to the store
BUFFER_LIMIT = 10_000  # live messages held back while a backlog is being sent

Message = NewMessage | StoredMessage


class Sink(Protocol):
    """Where a connection's outgoing frames go (its outbox)."""

    def __len__(self) -> int: ...

    bytes: int
    budget: int

    def push(self, item: str | asyncio.Future[Any], cost: int = 0) -> None: ...

    async def wait_below(self, frames: int, bytes_: int | None = None) -> None: ...


class Hub(Protocol):
    """What a consumer needs of the broker."""

    store: Store
    writer: Writer

    def is_paused(self, key: tuple[str, str]) -> bool: ...

    def unsubscribe(self, consumer: Consumer) -> None: ...


class Consumer:
    """One connection's subscription to one message name."""

    def __init__(
        self, hub: Hub, sink: Sink, recipient: str, name: str, who: Callable[[], str]
    ) -> None:
        self.hub = hub
        self.sink = sink
        self.name = name
        self.key = (recipient, name)
        self.who = who  # the connection, as logs name it
        self.inflight: set[int] = set()  # delivered here, not yet acked/discarded/deferred
        self.active = True
        self._loading = False
        self._again = False
        self._behind = False
        self._buffer: list[Message] = []
        self._task: asyncio.Task[None] | None = None

    def offer(self, m: Message) -> None:
        """A message for this subscription was stored (or is pending again)."""
        if not self.active:
            return
        if self._loading:
            if len(self._buffer) < BUFFER_LIMIT:
                self._buffer.append(m)
            else:  # too many: read them from the store once the backlog is sent
                self._again = True
            return
        if self._behind or self.hub.is_paused(self.key):
            return  # it stays pending in the store and is sent later, in order
        sink = self.sink
        if len(sink) >= LIVE_LIMIT or sink.bytes >= sink.budget:
            # a slow reader: stop queueing in memory, catch up from the store later
            self._behind = True
            self._task = asyncio.create_task(self._catch_up(), name=f"ensync-catch-up {self.name}")
            return
        self._send(m)

    async def _catch_up(self) -> None:
        await self.sink.wait_below(SINK_HIGH_WATER)
        self._behind = False
        self.resync()

    def _send(self, m: Message) -> None:
        if m.seq in self.inflight:
            return
        self.inflight.add(m.seq)
        self.sink.push("+RECORD:" + record_json(m))

    def resync(self) -> None:
        """Deliver every pending message not yet in flight here, oldest first."""
        if not self.active:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._task = asyncio.create_task(self._load(), name=f"ensync-backlog {self.name}")

    async def _load(self) -> None:
        store, writer = self.hub.store, self.hub.writer
        recipient, name = self.key
        try:
            while True:
                self._again = False
                after = 0
                while self.active and not self.hub.is_paused(self.key):
                    sink = self.sink
                    rows, more = await writer.call(
                        partial(
                            store.pending_chunk,
                            recipient,
                            name,
                            after,
                            BACKLOG_CHUNK,
                            max(sink.budget // 2, 1),
                        )
                    )
                    for row in rows:
                        if not self.active or self.hub.is_paused(self.key):
                            break
                        self._send(row)
                    if not more:
                        break
                    after = rows[-1].seq
                    await sink.wait_below(SINK_HIGH_WATER)
                if not self._again:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("backlog of %r for %s failed: %s", name, self.who(), exc)
        finally:
            self._loading = False
            buffered, self._buffer = self._buffer, []
            if self.active and not self.hub.is_paused(self.key):
                for m in buffered:
                    self._send(m)

    def close(self) -> None:
        self.active = False
        self.hub.unsubscribe(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._buffer = []
