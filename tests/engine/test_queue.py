"""The delivery queue on its own: a real store and writer, fake sinks and clock."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from ensync_tui.engine import delivery
from ensync_tui.engine.delivery import Queue
from ensync_tui.engine.store import NewMessage, Store
from ensync_tui.engine.writer import Writer

RECIPIENT, NAME = "R", "orders/created"


class Sink:
    """An outbox that takes everything and keeps the frames."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.bytes = 0
        self.budget = 8 << 20

    def __len__(self) -> int:
        return 0

    def push(self, item: Any, cost: int = 0) -> None:
        self.frames.append(item)

    async def wait_below(self, frames: int, bytes_: int | None = None) -> None:
        return None

    def idems(self) -> list[str]:
        return [f.split('"idem":"', 1)[1].split('"', 1)[0] for f in self.frames]


class Hub:
    def __init__(self) -> None:
        self.store = Store()
        self.queue: Queue | None = None
        self.writer = Writer(self.store, on_commit=self._committed)
        self.ack_wait = 30.0
        self.now = 0.0
        self.reads = 0
        self._seq = itertools.count(1)
        read = self.store.pending_chunk

        def counted(*args: Any) -> Any:
            self.reads += 1
            return read(*args)

        self.store.pending_chunk = counted  # type: ignore[method-assign]

    def clock(self) -> float:
        return self.now

    def leased(self, queue: Queue) -> None:
        pass

    def _committed(self, messages: list[NewMessage]) -> None:
        assert self.queue is not None
        for m in messages:
            self.queue.offer(m)

    def publish(self) -> NewMessage:
        seq = next(self._seq)
        m = NewMessage(seq, f"i{seq}", NAME, seq, 0, "S", RECIPIENT, "e30=", "{}", True)
        self.writer.insert(m, None)
        return m


async def settled() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def hub() -> Any:
    h = Hub()
    h.queue = Queue(h, RECIPIENT, NAME)
    yield h
    await h.writer.close()
    h.store.close()


async def test_the_next_live_record_comes_from_memory_not_the_store(hub: Hub) -> None:
    assert hub.queue is not None
    sink = Sink()
    hub.queue.add(sink, 1).start(0)
    await settled()
    reads = hub.reads  # the first look at the store, on SUB
    sent = [hub.publish() for _ in range(10)]
    await settled()
    for m in sent:
        assert sink.idems()[-1] == m.idem
        hub.store.set_state(m.seq, 1)
        hub.queue.answered(m.seq)
        await settled()
    assert sink.idems() == [m.idem for m in sent]
    assert hub.reads == reads  # every next one was held in memory


async def test_a_record_stored_behind_a_read_is_not_left_behind(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "READY_LIMIT", 0)  # nothing held in memory: reads only
    assert hub.queue is not None
    sink = Sink()
    hub.queue.add(sink, 2).start(0)
    await settled()
    first, second = hub.publish(), hub.publish()
    await settled()
    assert sink.idems() == [first.idem, second.idem]
    third = hub.publish()  # the window is full: it waits in the store
    await settled()
    hub.store.set_state(first.seq, 1)
    hub.queue.answered(first.seq)  # a read goes out ...
    fourth = hub.publish()  # ... and this is stored in its batch, after it
    await settled()
    hub.store.set_state(second.seq, 1)
    hub.queue.answered(second.seq)
    await settled()
    assert sink.idems() == [first.idem, second.idem, third.idem, fourth.idem]


async def test_an_expired_lease_goes_to_its_holder_again_marked(hub: Hub) -> None:
    assert hub.queue is not None
    one, two = Sink(), Sink()
    hub.queue.add(one, 1).start(0)
    hub.queue.add(two, 1).start(0)
    await settled()
    a, b = hub.publish(), hub.publish()
    await settled()
    assert (one.idems(), two.idems()) == ([a.idem], [b.idem])
    hub.now = 29
    assert hub.queue.expire(hub.now) == (0, 30.0)
    hub.now = 31
    assert hub.queue.expire(hub.now) == (2, None)
    await settled()
    assert (one.idems(), two.idems()) == ([a.idem, a.idem], [b.idem, b.idem])
    assert '"redelivered":true,"deliveryCount":2}' in one.frames[-1]
    assert '"metadata":{}' in one.frames[0]
