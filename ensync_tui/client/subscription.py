"""One subscription: the SUB it sends, its handlers and the worker that runs them.

Each subscription has its own worker task: records are handled in order per
subscription, away from the socket reader, so a slow handler never delays
answers to requests. Auto-ack is sent once every handler returned without
raising.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ensync_tui.client.errors import (
    EnSyncConnectionError,
    EnSyncError,
    EnSyncSubscriptionError,
    EnSyncValidationError,
)
from ensync_tui.client.sealing import Opener
from ensync_tui.protocol import crypto, frames, replies

if TYPE_CHECKING:
    from ensync_tui.client.api import EnSyncClient

__all__ = ["Handler", "Subscription", "ack_frame", "to_message"]

log = logging.getLogger("ensync_tui.client")

Handler = Callable[[dict[str, Any]], Any]
_OPENER = Opener()


def to_message(
    record: replies.Record, secret_key: str | None, decrypt: bool = True, opener: Opener = _OPENER
) -> dict[str, Any]:
    """The handler's view of a record, decrypted when a key is given."""
    payload: Any = None
    error: str | None = None
    if decrypt:
        if secret_key:
            try:
                payload = opener.open(record.payload, secret_key)
            except crypto.DecryptError as exc:
                error = str(exc)
            except Exception as exc:  # whatever the payload holds, this message only
                error = f"cannot decrypt: {type(exc).__name__}"
        else:
            error = "no secret key to decrypt with"
    return {
        "messageName": record.name,
        "idem": record.idem,
        "block": record.block,
        "timestamp": record.logged_at,
        "payload": payload,
        "metadata": record.metadata,
        "sender": record.sender,
        "record": record,
        "decryptError": error,
    }


def ack_frame(client_id: str, record: replies.Record) -> str | None:
    """The ACK of a delivered record, or None when the record's name or idem cannot go
    back on the wire (logged)."""
    try:
        return frames.Ack(client_id, record.idem, str(record.block), record.name).encode()
    except frames.WireError as exc:
        log.warning("cannot acknowledge %s: %s", record.idem[:40], exc)
        return None


class Subscription:
    """One message name this client receives; handlers run in order, one record at a time."""

    def __init__(
        self,
        client: EnSyncClient,
        name: str,
        auto_ack: bool,
        secret_key: str | None,
        decrypt: bool,
    ) -> None:
        self.name = name
        self.auto_ack = auto_ack
        self.decrypt = decrypt
        self.paused = False
        self.pause_reason = ""
        self.confirmed = False  # the engine took a SUB for it (the reconnect resends it)
        self._client = client
        self._secret = secret_key
        self._handlers: list[Handler] = []
        self._inbox: deque[replies.Record] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._sub_task: asyncio.Task[Subscription] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Subscription {self.name} handlers={len(self._handlers)} paused={self.paused}>"

    # ------------------------------------------------------------ SUB

    def __await__(self) -> Generator[Any, None, Subscription]:
        return self._ensure().__await__()

    async def _ensure(self) -> Subscription:
        task = self._sub_task
        if self.confirmed and task is not None and task.done():
            return self
        if task is None or (self._lost(task) and not self._stopped):
            self._start_sub()  # first time, or again after a connection error
            task = self._sub_task
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                raise EnSyncConnectionError("the client is closed") from None
            raise

    def _lost(self, task: asyncio.Task[Subscription]) -> bool:
        """The SUB failed for want of a connection (the reconnect may have sent it since)."""
        if not task.done() or task.cancelled():
            return False
        return isinstance(task.exception(), EnSyncConnectionError) and not self.confirmed

    def _start_sub(self) -> None:
        self._sub_task = asyncio.get_running_loop().create_task(
            self._send_sub(), name=f"ensync-sub-{self.name}"
        )
        self._sub_task.add_done_callback(_log_sub_failure)

    async def _send_sub(self) -> Subscription:
        client = self._client
        conn = client._transport.conn
        conn.want(self.name, self)  # from now on each reconnect sends it again
        try:
            await client._call(frames.Sub(client.client_id, self.name))
        except EnSyncConnectionError:
            raise  # still wanted: the reconnect will SUB it
        except EnSyncError:
            if conn.subscriptions.get(self.name) is self:
                conn.forget(self.name)
            if client._subs.get(self.name) is self:
                del client._subs[self.name]
            self._stop()
            raise
        self.confirmed = True
        return self

    def handler(self, func: Handler) -> Handler:
        """Register a handler (async or plain) and make sure SUB is sent."""
        if not callable(func):
            raise EnSyncValidationError("a handler must be callable")
        self._handlers.append(func)
        if self._sub_task is None:
            self._start_sub()
        self._kick()
        return func

    on = handler

    def remove_handler(self, func: Handler) -> None:
        if func in self._handlers:
            self._handlers.remove(func)

    # ------------------------------------------------------------ delivery

    def _deliver(self, record: replies.Record) -> None:
        if self._stopped:
            return
        self._inbox.append(record)
        self._kick()

    def _kick(self) -> None:
        if self._stopped:
            return
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), name=f"ensync-handler-{self.name}"
            )
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _run(self) -> None:
        client = self._client
        post = client._transport.post
        opener = client._opener
        secret = self._secret or client._secret
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        while not self._stopped:
            if not inbox or not self._handlers:
                self._wake = loop.create_future()
                await self._wake
                continue
            record = inbox.popleft()
            message = to_message(record, secret, self.decrypt, opener)
            ok = True
            for func in tuple(self._handlers):
                try:
                    result = func(message)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception:
                    ok = False
                    log.exception("handler for %s failed on %s", self.name, record.idem)
            if ok and self.auto_ack and not self._stopped:
                frame = ack_frame(client.client_id, record)
                if frame is not None:
                    await post(frame, "ACK")

    def _stop(self) -> asyncio.Task[None] | None:
        """Stop handling; returns the worker to wait for (cancelled unless it is the caller)."""
        self._stopped = True
        self._inbox.clear()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not asyncio.current_task():
            worker.cancel()
        sub_task = self._sub_task
        if sub_task is not None and not sub_task.done() and sub_task is not asyncio.current_task():
            sub_task.cancel()
        return worker

    # ------------------------------------------------------------ control

    async def _settled(self) -> None:
        """Wait for a SUB in flight, so later requests follow it on the wire."""
        task = self._sub_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            await asyncio.wait([task])

    async def ack(self, idem: str, block: int | str) -> str:
        return await self._client.ack(self.name, idem, block)

    async def pause(self, reason: str = "") -> dict[str, Any]:
        await self._settled()
        return await self._client.pause(self.name, reason)

    async def resume(self) -> dict[str, Any]:
        await self._settled()
        return await self._client.resume(self.name)

    async def defer(self, idem: str, delay_ms: int = 1000, reason: str = "") -> dict[str, Any]:
        return await self._client.defer(self.name, idem, delay_ms, reason)

    async def discard(self, idem: str, reason: str = "") -> dict[str, Any]:
        return await self._client.discard(self.name, idem, reason)

    async def rollback(self, idem: str, block: int | str) -> str:
        return await self._client.rollback(idem, block)

    async def replay(self, idem: str) -> dict[str, Any]:
        return await self._client.replay(
            self.name, idem, secret_key=self._secret, decrypt=self.decrypt
        )

    async def unsubscribe(self) -> None:
        await self._settled()
        if self._client._subs.get(self.name) is not self:
            raise EnSyncSubscriptionError(f"not subscribed to {self.name}")
        await self._client.unsubscribe(self.name)


def _log_sub_failure(task: asyncio.Task[Subscription]) -> None:
    if task.cancelled():
        return
    exc = task.exception()  # retrieved here so an unawaited failure is not lost
    if exc is not None:
        log.warning("subscribe failed: %s", exc)
