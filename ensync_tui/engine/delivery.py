"""Need-based push: what the engine delivers, to whom, and when again.

A :class:`Queue` holds the delivery state of one recipient and message name.
Its :class:`Consumer` objects are the connections subscribed to that name
with that identity; they compete for the queue's messages. Each consumer has
at most ``max_in_flight`` records delivered and unanswered; the next one goes
out when one is acked, deferred or discarded (a *lease* ends). A record left
unanswered for ``ack_wait`` seconds, or held by a connection that went away,
is pending again and goes out first, to the same consumer if it has room, with
``"redelivered": true`` and its ``"deliveryCount"`` in the record's metadata.

The store is the truth: a record is pending there until it is answered. The
queue keeps a cursor (every pending record at or below it is in flight) so it
reads the store only for what it has not handed out yet. What a queue needs
of the broker is the small :class:`Hub` interface, so this module imports
neither the broker nor the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from ensync_tui.engine.store import NewMessage, Store, StoredMessage, record_json
from ensync_tui.engine.writer import Writer

log = logging.getLogger("ensync_tui.engine")

BACKLOG_CHUNK = 500  # pending records read from the store at a time, at most
SINK_HIGH_WATER = 2_000  # records read from the store wait while a connection has this many frames
LIVE_LIMIT = 20_000  # beyond this many queued frames, live delivery falls back to the store
COUNTS_LIMIT = 100_000  # delivery counts remembered per queue (the oldest unanswered go first)
READ_AHEAD = 64  # records read past the room there is, kept in memory for the next answers
READY_LIMIT = 256  # records a queue keeps in memory for the next answers, at most
READY_BYTES = 256 * 1024  # and what they may hold

Message = NewMessage | StoredMessage


class Sink(Protocol):
    """Where a connection's outgoing frames go (its outbox)."""

    def __len__(self) -> int: ...

    bytes: int
    budget: int

    def push(self, item: str | asyncio.Future[Any], cost: int = 0) -> None: ...

    async def wait_below(self, frames: int, bytes_: int | None = None) -> None: ...


class Hub(Protocol):
    """What a queue needs of the broker."""

    store: Store
    writer: Writer
    ack_wait: float  # seconds a record may stay unanswered

    def clock(self) -> float: ...

    def leased(self, queue: Queue) -> None:
        """``queue`` has records in flight now (the lease timer should look at it)."""


class Consumer:
    """One connection's subscription to one message name."""

    def __init__(self, queue: Queue, sink: Sink, window: int, who: Callable[[], str] = str) -> None:
        self.queue = queue
        self.sink = sink
        self.window = window  # records in flight here at most
        self.who = who  # the connection, as logs name it
        self.held: set[int] = set()  # seqs delivered here and not answered
        self.active = True
        self.ready = False  # false during the grace after SUB
        self._grace: asyncio.TimerHandle | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.queue.key[1]

    def start(self, grace: float) -> None:
        """SUB was answered: push after ``grace`` seconds, when the peer's
        handler is surely in place."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if grace <= 0:
            self._warm()
            return
        self.ready = False
        self._grace = asyncio.get_running_loop().call_later(grace, self._warm)

    def _warm(self) -> None:
        self._grace = None
        self.ready = True
        if self.active:
            self.queue.pump()

    def has_room(self, live: bool = False) -> bool:
        """May one more record go to this consumer now? ``live``: one just
        stored (a connection may queue more of those than of older ones)."""
        if not self.ready or len(self.held) >= self.window:
            return False
        sink = self.sink
        if live:
            if len(sink) < LIVE_LIMIT and sink.bytes < sink.budget:
                return True
        elif len(sink) < SINK_HIGH_WATER and sink.bytes < sink.budget // 2:
            return True
        if self._watch is None and self.active:  # a slow reader: pump again once it drained
            self._watch = asyncio.create_task(self._drained(), name=f"ensync-drain {self.name}")
        return False

    async def _drained(self) -> None:
        await self.sink.wait_below(SINK_HIGH_WATER)
        self._watch = None
        if self.active:
            self.queue.pump()

    def close(self) -> None:
        """Unsubscribed, or the connection ended: what it held is pending again."""
        if not self.active:
            return
        self.active = False
        if self._grace is not None:
            self._grace.cancel()
        if self._watch is not None:
            self._watch.cancel()
        self.queue.remove(self)


class Queue:
    """The delivery state of one recipient and message name."""

    def __init__(self, hub: Hub, recipient: str, name: str) -> None:
        self.hub = hub
        self.key = (recipient, name)
        self.consumers: list[Consumer] = []
        self.paused = False
        self.closed = False
        # seq -> (consumer, when it is due again), oldest delivery first
        self.inflight: dict[int, tuple[Consumer, float]] = {}
        self.deliveries: dict[int, int] = {}  # seq -> times delivered, while unanswered
        self.cursor = 0  # every pending seq at or below it is in flight
        # the next pending records above the cursor, in order, none in flight
        self._ready: deque[Message] = deque()
        self._ready_bytes = 0
        self.caught_up = False  # _ready holds every pending record above the cursor
        self._prefer: dict[int, Consumer] = {}  # expired seqs -> who held them
        self._turn = 0
        self._reading = False
        self._missed = False  # a record was stored while a read was on its way

    # -------------------------------------------------------------- consumers

    def add(self, sink: Sink, window: int, who: Callable[[], str] = str) -> Consumer:
        consumer = Consumer(self, sink, window, who)
        self.consumers.append(consumer)
        return consumer

    def remove(self, consumer: Consumer) -> None:
        if consumer in self.consumers:
            self.consumers.remove(consumer)
        for seq in sorted(consumer.held):
            self.inflight.pop(seq, None)
            self._lower(seq)
        consumer.held.clear()
        if not self.consumers:  # nothing is kept in memory for nobody
            self._drop_ready()
        self.pump()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self.pump()

    # --------------------------------------------------------------- delivery

    def offer(self, m: Message) -> None:
        """A new record for this queue was stored: send it at once when nothing
        older waits and a consumer has room, else keep it in memory for the
        next answer if it fits; beyond that it waits in the store."""
        if self._reading:
            self._missed = True  # the read on its way may not see it
            return
        if not self.caught_up:
            return  # older ones wait in the store: it goes out after them
        if not self._ready and not self.paused:
            consumer = self._pick(None, live=True)
            if consumer is not None:
                self._send(consumer, m)
                self.cursor = m.seq
                return
        if not self._keep(m):
            self.caught_up = False

    def _keep(self, m: Message) -> bool:
        """Hold ``m`` (the next pending record above the ones held) in memory."""
        size = len(m.payload) + len(m.metadata)
        if (
            not self.consumers
            or len(self._ready) >= READY_LIMIT
            or self._ready_bytes + size > READY_BYTES
        ):
            return False
        self._ready.append(m)
        self._ready_bytes += size
        return True

    def pump(self) -> None:
        """Room may have opened, or records became pending again: send what fits,
        from memory first, then from the store."""
        if self.closed or self.paused or self._reading or not self.consumers:
            return
        ready = self._ready
        while ready:
            consumer = self._pick(None)
            if consumer is None:
                return
            m = ready.popleft()
            self._ready_bytes -= len(m.payload) + len(m.metadata)
            self._send(consumer, m)
            self.cursor = m.seq
        if self.caught_up:
            return
        room = 0
        budget = READY_BYTES
        for c in self.consumers:
            if c.has_room():
                room += c.window - len(c.held)
                budget = min(budget, c.sink.budget // 2)
        if room == 0:
            return  # an answer, a drained sink or the end of a grace pumps again
        limit = min(room + len(self.inflight) + READ_AHEAD, BACKLOG_CHUNK)
        after = self.cursor
        self._reading = True
        self._missed = False
        recipient, name = self.key
        read = partial(self.hub.store.pending_chunk, recipient, name, after, limit, budget)
        fut = self.hub.writer.submit(read, partial(self._take, after))
        fut.add_done_callback(self._read_done)

    def _take(self, after: int, result: tuple[list[StoredMessage], bool]) -> bool:
        """Right after the read committed: send what it found and keep what
        does not fit yet; True to read on."""
        self._reading = False
        rows, more = result
        if self.closed:
            return False
        if self.cursor < after:
            return True  # records below it became pending meanwhile: read again
        inflight = self.inflight
        for at, row in enumerate(rows):
            seq = row.seq
            if seq in inflight:
                self.cursor = seq
                continue
            consumer = None if self.paused else self._pick(self._prefer.pop(seq, None))
            if consumer is None:  # no room: the rest waits in memory, as far as it fits
                kept = all(self._keep(r) for r in rows[at:] if r.seq not in inflight)
                self.caught_up = kept and not more and not self._missed
                return False
            self._send(consumer, row)
            self.cursor = seq
        if more or self._missed:
            return True
        self.caught_up = True
        return False

    def _read_done(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            self._reading = False
            if self.closed:
                return
            exc = None if fut.cancelled() else fut.exception()
            log.error("reading pending records of %r failed (%s); again in 1 s", self.key[1], exc)
            asyncio.get_running_loop().call_later(1.0, self.pump)
            return
        if fut.result():
            self.pump()

    def _pick(self, prefer: Consumer | None, live: bool = False) -> Consumer | None:
        """A consumer with room (``prefer`` if it has), taking turns."""
        if prefer is not None and prefer.active and prefer.has_room(live):
            return prefer
        consumers = self.consumers
        if len(consumers) == 1:
            return consumers[0] if consumers[0].has_room(live) else None
        n = len(consumers)
        for i in range(n):
            at = (self._turn + i) % n
            if consumers[at].has_room(live):
                self._turn = at + 1
                return consumers[at]
        return None

    def _send(self, consumer: Consumer, m: Message) -> None:
        seq = m.seq
        count = self.deliveries.get(seq, 0) + 1
        self.deliveries[seq] = count
        if count == 1 and len(self.deliveries) > COUNTS_LIMIT:
            self._forget_counts()
        self.inflight[seq] = (consumer, self.hub.clock() + self.hub.ack_wait)
        consumer.held.add(seq)
        consumer.sink.push("+RECORD:" + record_json(m, count))
        if len(self.inflight) == 1:
            self.hub.leased(self)

    def _forget_counts(self) -> None:
        """Too many counts: drop the oldest of records not in flight."""
        keep = COUNTS_LIMIT * 3 // 4
        for seq in list(self.deliveries):
            if len(self.deliveries) <= keep:
                break
            if seq not in self.inflight:
                del self.deliveries[seq]

    def _lower(self, seq: int) -> None:
        """``seq`` is pending and not in flight (again): the store is read from it."""
        if seq <= self.cursor:
            self.cursor = seq - 1
        self._drop_ready()

    def _drop_ready(self) -> None:
        """Forget what is kept in memory: the store is read again from the cursor."""
        self.caught_up = False
        self._ready.clear()
        self._ready_bytes = 0

    # ---------------------------------------------------------------- answers

    def answered(self, seq: int, keep_count: bool = False) -> None:
        """Acked or discarded (or deferred: ``keep_count``, it comes back)."""
        if not keep_count:
            self.deliveries.pop(seq, None)
        self._prefer.pop(seq, None)
        lease = self.inflight.pop(seq, None)
        if lease is not None:
            lease[0].held.discard(seq)
            self.pump()

    def pending_again(self, seq: int, delivered: bool = False) -> None:
        """A deferred record is due, or a rollback made a record pending:
        deliver it again, before newer ones. ``delivered``: it counts as a
        redelivery even if this engine has no count for it."""
        lease = self.inflight.pop(seq, None)
        if lease is not None:
            lease[0].held.discard(seq)
        if delivered and seq not in self.deliveries:
            self.deliveries[seq] = 1
        self._lower(seq)
        self.pump()

    def expire(self, now: float) -> tuple[int, float | None]:
        """Leases due by ``now`` end: those records go out again. Returns how
        many ended and when the next one is due (None if none is left)."""
        inflight = self.inflight
        ended = 0
        due: float | None = None
        while inflight:
            seq = next(iter(inflight))
            consumer, due = inflight[seq]
            if due > now:
                break
            del inflight[seq]
            consumer.held.discard(seq)
            if consumer.active:
                self._prefer[seq] = consumer
            self._lower(seq)
            ended += 1
            due = None
        if ended:
            self.pump()
        return ended, due

    def close(self) -> None:
        self.closed = True
        for consumer in list(self.consumers):
            consumer.close()
