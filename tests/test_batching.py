"""BatchedTransport: one loop tick's writes leave in one write, in order, and nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

from ensync_tui.batching import FLUSH_BYTES, BatchedTransport


class Inner(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = self.eof = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 7

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True


async def test_one_tick_one_write_in_order() -> None:
    inner = Inner()
    batched = BatchedTransport(inner, asyncio.get_running_loop())
    for part in (b"a", b"bc", b"", b"d"):
        batched.write(part)
    assert inner.writes == []
    assert batched.get_write_buffer_size() == 4 + 7
    await asyncio.sleep(0)
    assert inner.writes == [b"abcd"]
    batched.write(memoryview(b"e"))
    await asyncio.sleep(0)
    assert inner.writes == [b"abcd", b"e"]


async def test_a_large_burst_is_written_without_waiting_for_the_tick() -> None:
    inner = Inner()
    batched = BatchedTransport(inner, asyncio.get_running_loop())
    big = b"x" * (FLUSH_BYTES // 2)
    batched.write(big)
    batched.write(big)
    assert inner.writes == [big + big]
    batched.write(b"tail")
    await asyncio.sleep(0)
    assert inner.writes == [big + big, b"tail"]


async def test_close_and_eof_write_what_waits_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    inner = Inner()
    batched = BatchedTransport(inner, loop)
    batched.write(b"last words")
    batched.write_eof()
    assert inner.writes == [b"last words"] and inner.eof
    batched.write(b"bye")
    batched.close()
    assert inner.writes == [b"last words", b"bye"] and inner.closed

    inner = Inner()
    batched = BatchedTransport(inner, loop)
    batched.write(b"never")
    batched.abort()
    await asyncio.sleep(0)
    assert inner.writes == [] and inner.aborted
