"""The one place the explorer talks to EnSync: owns the client, posts facts as messages.

The app runs ``Session.run`` in a single worker. Delivered messages are buffered
by the subscription handler and posted as one ``RecordsReceived`` per flush
interval, so a firehose costs one Textual message per ~50 ms, not one per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from textual.message import Message

from ensync_tui.app.history import Entry, entry_from_message
from ensync_tui.app.messages import (
    ConnectionChanged,
    DemoStarted,
    NeedsConnection,
    Notice,
    RecordsReceived,
    RttMeasured,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.settings import Settings

FLUSH_INTERVAL = 0.05
PING_EVERY = 5.0
ACK_CHUNK = 256
T = TypeVar("T")


class DemoLike(Protocol):
    banner: str

    async def start(self) -> Settings: ...

    async def stop(self) -> None: ...


class NotConnected(Exception):
    """An action was asked for while there is no client."""

    def __str__(self) -> str:
        return "not connected"


class Session:
    """Connects, subscribes, batches deliveries and runs actions for the app."""

    def __init__(
        self,
        settings: Settings,
        post: Callable[[Message], Any],
        demo: DemoLike | None = None,
        flush_interval: float = FLUSH_INTERVAL,
        ping_every: float = PING_EVERY,
    ) -> None:
        self.settings = settings
        self.post = post
        self.demo = demo
        self.flush_interval = flush_interval
        self.ping_every = ping_every
        self.client: Any = None
        self.subs: dict[str, Any] = {}
        self.paused: dict[str, str] = {}
        self.status = "connecting"
        self._buffer: list[Entry] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None

    # -- the worker ----------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled: start a demo if any, connect, subscribe, pump messages."""
        self.loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        try:
            if self.demo is not None:
                self.post(ConnectionChanged("connecting", reason="starting the demo"))
                try:
                    self.settings = await self.demo.start()
                except Exception as exc:
                    self.post(ConnectionChanged("closed", reason=f"demo failed: {exc}"))
                    return
                self.post(DemoStarted(self.settings, self.demo.banner))
            if not self.settings.can_connect:
                self.post(NeedsConnection("no engine URL or access key"))
                return
            if not await self._connect():
                return
            self._tasks = [asyncio.create_task(self._ping_loop())]
            for name in self.settings.subscribe:
                try:
                    await self._subscribe(name)
                except Exception as exc:
                    self.post(Notice(f"subscribe {name} failed: {_reason(exc)}", "error"))
            await self._flush_loop()
        finally:
            await self.close()

    def stop(self) -> None:
        """Ask ``run`` to finish (from any thread); it closes the client and the demo."""
        loop, main = self.loop, self._main
        if loop is None or main is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop just closed
            loop.call_soon_threadsafe(main.cancel)

    def run_in_thread(self) -> None:
        """Run the session on its own event loop in the calling (worker) thread."""
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self.run())

    async def _connect(self) -> bool:
        from ensync_tui.client import EnSyncEngine, EnSyncError

        settings = self.settings
        # the engine may not be there yet: the client retries, each state is shown
        options = {**settings.client_options(), "max_reconnect_delay": 10_000}
        try:
            engine = EnSyncEngine(str(settings.url), options)
            self.client = await engine.create_client(
                str(settings.access_key),
                {"appSecretKey": settings.app_secret_key},
                retry=True,
                on_state=self._on_state,
            )
        except EnSyncError as exc:  # the login refused (never retried), or a bad setting
            if self.status != "closed":
                self.post(ConnectionChanged("closed", reason=_reason(exc)))
            return False
        public_key = ""
        with contextlib.suppress(Exception):
            public_key = self.client.get_client_public_key()
        client_id = str(getattr(self.client, "client_id", "") or "")
        self.post(SessionReady(self.settings, public_key, client_id))
        return True

    def _on_state(self, state: Any) -> None:
        self.status = state.status
        self.post(ConnectionChanged(state.status, state.attempt, state.delay, state.reason))

    async def _ping_loop(self) -> None:
        while True:
            if self.status == "connected":
                try:
                    rtt = await asyncio.wait_for(self.client.ping(), timeout=10)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    pass
                else:
                    self.post(RttMeasured(rtt))
            await asyncio.sleep(self.ping_every)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.post(RecordsReceived(batch))

    def _on_message(self, message: dict[str, Any]) -> None:
        # the entry is built here, on the session's thread; flushed in batches
        self._buffer.append(entry_from_message(0, message, time.monotonic()))

    async def close(self) -> None:
        """Stop the tasks, close the client, stop the demo. Safe to call more than once."""
        if self._closing:
            return
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if self.client is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.client.close(), timeout=5)
        if self.demo is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.demo.stop(), timeout=10)

    # -- actions -------------------------------------------------------------
    # Callable from the app's loop; each runs on the session's loop (which may be
    # another thread) and raises EnSyncError or NotConnected on failure.
    async def _on_session(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.loop
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is None or loop is current:
            return await coro
        if loop.is_closed() or not loop.is_running():
            coro.close()
            raise NotConnected()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def _client(self) -> Any:
        if self.client is None:
            raise NotConnected()
        return self.client

    def _changed(self) -> None:
        self.post(SubscriptionsChanged(list(self.subs), dict(self.paused)))

    async def subscribe(self, name: str) -> None:
        await self._on_session(self._subscribe(name))

    async def _subscribe(self, name: str) -> None:
        client = self._client()
        if name in self.subs:
            return
        sub = client.subscribe(name, auto_ack=False, decrypt=False)
        sub.handler(self._on_message)
        await sub
        self.subs[name] = sub
        self._changed()

    async def unsubscribe(self, name: str) -> None:
        await self._on_session(self._unsubscribe(name))

    async def _unsubscribe(self, name: str) -> None:
        await self._client().unsubscribe(name)
        self.subs.pop(name, None)
        self.paused.pop(name, None)
        self._changed()

    async def ack(self, name: str, idem: str, block: int) -> None:
        await self._on_session(self._client().ack(name, idem, block))

    async def ack_many(self, items: list[tuple[str, str, int]]) -> list[tuple[str, Exception]]:
        """Ack several records, pipelined; returns (idem, error) for each failure."""
        return await self._on_session(self._ack_many(items))

    async def _ack_many(self, items: list[tuple[str, str, int]]) -> list[tuple[str, Exception]]:
        client = self._client()
        failures: list[tuple[str, Exception]] = []
        for start in range(0, len(items), ACK_CHUNK):
            chunk = items[start : start + ACK_CHUNK]
            results = await asyncio.gather(
                *(client.ack(name, idem, block) for name, idem, block in chunk),
                return_exceptions=True,
            )
            for (_, idem, _), result in zip(chunk, results, strict=True):
                if isinstance(result, Exception):
                    failures.append((idem, result))
        return failures

    async def pause(self, name: str, reason: str = "") -> None:
        await self._on_session(self._pause(name, reason))

    async def _pause(self, name: str, reason: str) -> None:
        await self._client().pause(name, reason)
        self.paused[name] = reason
        self._changed()

    async def resume(self, name: str) -> None:
        await self._on_session(self._resume(name))

    async def _resume(self, name: str) -> None:
        await self._client().resume(name)
        self.paused.pop(name, None)
        self._changed()

    async def defer(self, name: str, idem: str, delay_ms: int, reason: str = "") -> None:
        await self._on_session(self._client().defer(name, idem, delay_ms, reason))

    async def discard(self, name: str, idem: str, reason: str = "") -> None:
        await self._on_session(self._client().discard(name, idem, reason))

    async def replay(self, name: str, idem: str) -> dict[str, Any]:
        return dict(await self._on_session(self._client().replay(name, idem)))

    async def publish(
        self, name: str, recipients: list[str], payload: Any, metadata: dict[str, Any], hybrid: bool
    ) -> list[dict[str, Any]]:
        return list(
            await self._on_session(
                self._client().publish(
                    name, recipients, payload, metadata or None, {"useHybridEncryption": hybrid}
                )
            )
        )

    async def ping(self) -> float:
        return float(await self._on_session(self._client().ping()))


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text)
