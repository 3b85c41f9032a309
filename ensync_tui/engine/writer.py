"""Group commit: storage operations queued during one loop tick run together
in one transaction at the end of the tick.

Operations run in the order they were submitted. A reply that depends on a
write is released only after the transaction that holds it has committed.

SQLite runs on the loop thread on purpose: a writer thread would have to
retake the GIL after every statement while the loop holds it, which makes
each handover wait for the interpreter's switch interval. A batch costs
tens of microseconds per message and is capped in size, so the loop is never
held for long. The slow part of WAL upkeep, checkpointing (which syncs the
database file), runs on its own thread with its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ensync_tui.engine.store import NewMessage, Store
from ensync_tui.safetext import visible

T = TypeVar("T")
log = logging.getLogger("ensync_tui.engine")

CHECKPOINT_EVERY = 1.0  # seconds between background WAL checkpoints, when there were writes

# an operation's outcome: (True, value) or (False, exception)
_Outcome = tuple[bool, Any]


class Refused(Exception):
    """An operation that was checked and refused; its text is the -FAIL reason."""


class StorageError(Exception):
    """The transaction holding an operation failed; nothing of it was written."""


# a queued item: an operation (a callable run in the transaction, plus an
# optional callable run with its result once committed) or a message to insert
_Op = tuple[Callable[[], Any], Callable[[Any], Any] | None]
_Item = tuple[_Op | NewMessage, Any, "asyncio.Future[Any]"]


class Writer:
    """Runs store operations in batches, one transaction per loop tick."""

    def __init__(
        self,
        store: Store,
        on_commit: Callable[[list[NewMessage]], None] | None = None,
        max_batch: int = 2_000,
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self._max_batch = max_batch
        self._queue: list[_Item] = []
        self._scheduled = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checkpointer: _Checkpointer | None = None
        if store.path != ":memory:":
            self._checkpointer = _Checkpointer(store)

    def _enqueue(self, item: _Op | NewMessage, reply: Any) -> asyncio.Future[Any]:
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        fut: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            fut.set_exception(StorageError("the engine is shutting down"))
            return fut
        self._queue.append((item, reply, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._kick)
        return fut

    def submit(
        self, op: Callable[[], T], after: Callable[[T], Any] | None = None
    ) -> asyncio.Future[Any]:
        """Queue ``op`` (run inside the batch's transaction); once committed,
        the future gets ``after(result)``, or op's result without ``after``.
        ``op`` may raise :class:`Refused` (after writing nothing)."""
        return self._enqueue((op, after), None)

    def insert(self, message: NewMessage, reply: Any) -> asyncio.Future[Any]:
        """Queue a new message; once committed the future gets ``reply``."""
        return self._enqueue(message, reply)

    async def call(self, op: Callable[[], T]) -> T:
        result: T = await self.submit(op)
        return result

    def _kick(self) -> None:
        self._scheduled = False
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            self._finish(batch, self._run([item for item, _, _ in batch]))
            if self._queue and self._loop is not None:
                # let the loop breathe between big batches
                self._scheduled = True
                self._loop.call_soon(self._kick)
                return

    def _run(self, items: list[_Op | NewMessage]) -> list[_Outcome]:
        """Every item in one transaction. If something in it cannot be stored
        (a row SQLite refuses, an operation that breaks), the batch is run
        again with each item on its own savepoint, so that only what failed
        fails and no other client's request goes with it."""
        try:
            outcomes = self._attempt(items, careful=False)
        except Exception as exc:
            log.warning(
                "a batch of %d could not be stored (%s); retrying item by item",
                len(items),
                visible(str(exc)),
            )
            try:
                outcomes = self._attempt(items, careful=True)
            except (sqlite3.Error, OSError) as exc:
                log.error("storage error, %d operations not written: %s", len(items), exc)
                return [(False, StorageError(f"storage error: {exc}"))] * len(items)
            except Exception as exc:  # a bug: nothing written, keep serving
                log.exception("storage batch failed")
                return [(False, StorageError(f"internal storage error: {exc}"))] * len(items)
        if self._checkpointer is not None:
            self._checkpointer.dirty = True
        return outcomes

    def _attempt(self, items: list[_Op | NewMessage], careful: bool) -> list[_Outcome]:
        """One transaction over ``items``; raises if it cannot commit. Careful,
        each item runs on a savepoint and fails alone."""
        outcomes: list[_Outcome] = []
        chunk: list[NewMessage] = []
        store = self.store
        with store.transaction():
            for item in items:
                if careful:
                    outcomes.append(self._one(item))
                    continue
                if isinstance(item, NewMessage):
                    chunk.append(item)
                    outcomes.append((True, None))
                    continue
                if chunk:
                    store.insert(chunk)
                    chunk = []
                try:
                    outcomes.append((True, item[0]()))
                except Refused as exc:
                    outcomes.append((False, exc))
                except sqlite3.Error:
                    raise
                except Exception as exc:  # a bug in one operation fails only that one
                    log.exception("storage operation failed")
                    outcomes.append((False, StorageError(f"internal error: {exc}")))
            if chunk:
                store.insert(chunk)
        return outcomes

    def _one(self, item: _Op | NewMessage) -> _Outcome:
        store = self.store
        store.savepoint()
        try:
            value = None
            if isinstance(item, NewMessage):
                store.insert([item])
            else:
                value = item[0]()
        except Refused as exc:
            store.rollback_savepoint()
            return False, exc
        except UnicodeError:
            store.rollback_savepoint()
            return False, StorageError("cannot store text that is not valid Unicode")
        except sqlite3.IntegrityError as exc:
            store.rollback_savepoint()
            return False, StorageError(f"cannot store it: {exc}")
        except (sqlite3.Error, OSError):
            store.rollback_savepoint()
            raise  # the database itself is in trouble: the whole batch fails
        except Exception as exc:
            log.exception("storage operation failed")
            store.rollback_savepoint()
            return False, StorageError(f"internal error: {exc}")
        store.release_savepoint()
        return True, value

    def _finish(self, batch: list[_Item], outcomes: list[_Outcome]) -> None:
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
                    log.exception("storage follow-up failed")
                    fut.set_exception(StorageError(f"internal error: {exc}"))

    async def flush(self) -> None:
        """Commit everything queued so far."""
        self._kick()

    async def close(self) -> None:
        self._kick()
        self._closed = True
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)


class _Checkpointer:
    """Moves WAL pages into the database file on a thread of its own."""

    def __init__(self, store: Store) -> None:
        self.dirty = False
        self._path = store.path
        self._stop = threading.Event()
        store.disable_autocheckpoint()
        self._thread = threading.Thread(target=self._loop, name="ensync-checkpoint", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            db = sqlite3.connect(self._path, check_same_thread=False)
        except sqlite3.Error as exc:
            log.error("cannot open the database for checkpoints: %s", exc)
            return
        with contextlib.closing(db):
            db.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(CHECKPOINT_EVERY):
                if not self.dirty:
                    continue
                self.dirty = False
                start = time.perf_counter()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed (will retry): %s", exc)
                    self.dirty = True
                    continue
                log.debug("WAL checkpoint took %.1f ms", (time.perf_counter() - start) * 1000)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
