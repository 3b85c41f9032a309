"""Group commit: storage operations queued during one loop tick run in one
transaction on a worker thread, so the event loop never waits for SQLite.

Operations run in the order they were submitted. A reply that depends on a
write is sent only after the transaction that holds it has committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ensync_tui.engine.store import NewMessage, Store

T = TypeVar("T")
log = logging.getLogger("ensync_tui.engine")

# an operation's outcome: (True, value) or (False, exception)
_Outcome = tuple[bool, Any]


class Refused(Exception):
    """An operation that was checked and refused; its text is the -FAIL reason."""


class StorageError(Exception):
    """The transaction holding an operation failed; nothing of it was written."""


# a queued item: an operation (a callable run on the store thread, plus an
# optional callable run on the loop with its result) or a message to insert
_Op = tuple[Callable[[], Any], Callable[[Any], Any] | None]
_Item = tuple[_Op | NewMessage, Any, "asyncio.Future[Any]"]


class Writer:
    """Runs store operations on one thread, batched per loop tick."""

    def __init__(
        self,
        store: Store,
        on_commit: Callable[[list[NewMessage]], None] | None = None,
        max_batch: int = 20_000,
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self._max_batch = max_batch
        self._queue: list[_Item] = []
        self._busy = False
        self._scheduled = False
        self._closed = False
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ensync-store")

    def _enqueue(self, item: _Op | NewMessage, reply: Any) -> asyncio.Future[Any]:
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        fut: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            fut.set_exception(StorageError("the engine is shutting down"))
            return fut
        self._queue.append((item, reply, fut))
        if not self._busy and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._kick)
        return fut

    def submit(
        self, op: Callable[[], T], after: Callable[[T], Any] | None = None
    ) -> asyncio.Future[Any]:
        """Queue ``op`` (run on the store thread); ``after(result)`` then runs on the loop
        once committed, and the future gets its return value (or op's result)."""
        return self._enqueue((op, after), None)

    def insert(self, message: NewMessage, reply: Any) -> asyncio.Future[Any]:
        """Queue a new message; once committed the future gets ``reply``."""
        return self._enqueue(message, reply)

    async def call(self, op: Callable[[], T]) -> T:
        result: T = await self.submit(op)
        return result

    def _kick(self) -> None:
        self._scheduled = False
        if self._busy or not self._queue:
            return
        batch = self._queue[: self._max_batch]
        del self._queue[: self._max_batch]
        self._busy = True
        loop = self._loop
        assert loop is not None
        items = [item for item, _, _ in batch]
        done: ThreadFuture[list[_Outcome]] = self._pool.submit(self._run, items)
        done.add_done_callback(lambda f: loop.call_soon_threadsafe(self._finish, batch, f))

    def _run(self, items: list[_Op | NewMessage]) -> list[_Outcome]:
        """On the store thread: every item in one transaction."""
        outcomes: list[_Outcome] = []
        chunk: list[NewMessage] = []
        try:
            with self.store.transaction():
                for item in items:
                    if isinstance(item, NewMessage):
                        chunk.append(item)
                        outcomes.append((True, None))
                        continue
                    if chunk:
                        self.store.insert(chunk)
                        chunk = []
                    try:
                        outcomes.append((True, item[0]()))
                    except Refused as exc:
                        outcomes.append((False, exc))
                if chunk:
                    self.store.insert(chunk)
        except (sqlite3.Error, OSError) as exc:
            log.error("storage error, %d operations not written: %s", len(items), exc)
            failure = StorageError(f"storage error: {exc}")
            return [(False, failure)] * len(items)
        return outcomes

    def _finish(self, batch: list[_Item], f: ThreadFuture[list[_Outcome]]) -> None:
        self._busy = False
        try:
            outcomes = f.result()
        except Exception as exc:  # a bug in an op: fail them all, keep serving
            log.exception("storage batch failed")
            outcomes = [(False, StorageError(f"internal storage error: {exc}"))] * len(batch)
        if self.on_commit is not None:
            committed = [
                item
                for (item, _, _), (ok, _) in zip(batch, outcomes, strict=True)
                if ok and isinstance(item, NewMessage)
            ]
            if committed:
                try:
                    self.on_commit(committed)
                except Exception:
                    log.exception("delivery after commit failed")
        for (item, reply, fut), (ok, value) in zip(batch, outcomes, strict=True):
            if fut.done():
                continue
            if not ok:
                fut.set_exception(value)
            elif isinstance(item, NewMessage):
                fut.set_result(reply)
            elif item[1] is None:
                fut.set_result(value)
            else:
                try:
                    fut.set_result(item[1](value))
                except Exception as exc:
                    fut.set_exception(exc)
        if self._queue:
            self._kick()
        elif self._idle is not None:
            self._idle.set()

    async def flush(self) -> None:
        """Wait until everything queued so far has been committed."""
        while self._busy or self._queue:
            self._idle = asyncio.Event()
            if not self._busy and self._queue and not self._scheduled:
                self._kick()
            await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        self._closed = True
        self._pool.shutdown(wait=True)
