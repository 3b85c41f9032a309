"""The one place the explorer talks to EnSync: owns the client, posts facts as messages.

The app runs ``Runtime.run`` in a single worker (on a thread of its own, with its
own event loop, when connected to a real engine). Delivered records are buffered
by the subscription handler and posted as one ``RecordsReceived`` per flush
interval, so a firehose costs one Textual message per ~50 ms, not one per record.
With auto-ack on, each record is acked from here as it arrives, with nothing
waiting for the UI: under EnSync's one-at-a-time push the next record follows at
the engine's pace. The answers go to the UI with the next batch.
``Tuning`` holds the process settings a firehose needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from textual.message import Message

from ensync_tui.app.controller import with_demo
from ensync_tui.app.history import Entry
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
from ensync_tui.errors import error_text
from ensync_tui.settings import Settings

if TYPE_CHECKING:
    from ensync_tui.client import publishing
    from ensync_tui.recording.writer import Recorder

__all__ = ["ClientLike", "DemoLike", "NotConnected", "Runtime", "Tuning"]

FLUSH_INTERVAL = 0.05
PING_EVERY = 5.0
GC_FREEZE_RATE = 1_000  # records/s from which the collector is kept off held records
GC_THAW_RATE = 100  # ... until the flow falls below this (a flood near 1,000/s must not flip it)
SWITCH_INTERVAL = 0.001
RECONNECT_CAP = 3.0  # seconds between attempts at most (a person waits; scripts: the client's 30)
T = TypeVar("T")


class DemoLike(Protocol):
    banner: str
    window: int  # records its engine keeps in flight per name

    async def start(self) -> Settings: ...

    async def stop(self) -> None: ...


class StateLike(Protocol):
    """A connection state as the client reports it."""

    @property
    def status(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def delay(self) -> float: ...
    @property
    def reason(self) -> str: ...


class SubscriptionLike(Protocol):
    def handler(self, func: Callable[[dict[str, Any]], Any]) -> Any: ...

    def __await__(self) -> Generator[Any, None, Any]: ...


class ClientLike(Protocol):
    """What the runtime uses of an ``EnSyncClient``."""

    def get_client_public_key(self) -> str: ...

    def subscribe(self, name: str, auto_ack: bool = ..., *, decrypt: bool = ...) -> Any: ...

    async def ping(self) -> float: ...

    def reconnect_now(self) -> bool: ...

    async def close(self) -> None: ...

    async def unsubscribe(self, name: str) -> None: ...

    async def ack(self, name: str, idem: str, block: int | str) -> Any: ...

    async def send_ack(self, name: str, idem: str, block: int | str) -> asyncio.Future[Any]: ...

    async def pause(self, name: str, reason: str = ...) -> Any: ...

    async def resume(self, name: str) -> Any: ...

    async def defer(self, name: str, idem: str, delay_ms: int, reason: str = ...) -> Any: ...

    async def discard(self, name: str, idem: str, reason: str = ...) -> Any: ...

    async def replay(self, name: str, idem: str) -> dict[str, Any]: ...

    async def publish(
        self,
        name: str,
        recipients: list[str],
        payload: Any,
        metadata: Any = ...,
        options: Any = ...,
    ) -> list[dict[str, Any]]: ...


class NotConnected(Exception):
    """An action was asked for while there is no client."""

    def __str__(self) -> str:
        return "not connected"


class Runtime:
    """Connects, subscribes, batches deliveries and runs actions for the app."""

    def __init__(
        self,
        settings: Settings,
        post: Callable[[Message], object],
        demo: DemoLike | None = None,
        flush_interval: float = FLUSH_INTERVAL,
        ping_every: float = PING_EVERY,
        recorder: Recorder | None = None,
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.post = post
        self.demo = demo
        self.flush_interval = flush_interval
        self.ping_every = ping_every
        self.client: ClientLike | None = None
        self.subs: dict[str, SubscriptionLike] = {}
        self.paused: dict[str, str] = {}
        self.status = "connecting"
        self.auto_ack = settings.auto_ack  # set by the app (a plain flag, read on this loop)
        self._buffer: list[Entry] = []
        self._acked: list[tuple[str, str, int]] = []  # auto-acks answered since the flush
        self._ack_failures: list[tuple[str, Exception]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None
        self._opening: asyncio.Task[Any] | None = None  # the first connection, while it waits
        self._generation = 0  # of that attempt: states of one given up on are not shown

    # -- the worker ----------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled: start a demo if any, connect, subscribe, pump messages."""
        self.loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        try:
            if self.demo is not None:
                self.post(ConnectionChanged("connecting", reason="starting the demo"))
                try:
                    self.settings = with_demo(self.settings, await self.demo.start())
                except Exception as exc:
                    self.post(ConnectionChanged("closed", reason=f"demo failed: {exc}"))
                    return
                self.auto_ack = self.auto_ack or self.settings.auto_ack
                self.post(DemoStarted(self.settings, self.demo.banner, self.demo.window))
                if self.recorder is not None:  # the demo's identity, to open it with
                    s = self.settings
                    self.recorder.know(s.url or "", "", s.app_secret_key)
            if not self.settings.can_connect:
                self.post(NeedsConnection())
                return
            if not await self._connect():
                return
            self._tasks = [asyncio.create_task(self._ping_loop())]
            for name in self.settings.subscribe:
                try:
                    await self._subscribe(name)
                except Exception as exc:
                    self.post(Notice(f"subscribe {name} failed: {error_text(exc)}", "error"))
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
        """Run on an event loop of its own in the calling (worker) thread."""
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self.run())

    def client_options(self) -> dict[str, object]:
        """The settings' client options, retrying forever at most RECONNECT_CAP apart."""
        return {**self.settings.client_options(), "max_reconnect_delay": RECONNECT_CAP}

    async def _connect(self) -> bool:
        from ensync_tui.client import EnSyncEngine, EnSyncError

        settings = self.settings
        # the engine may not be there yet: the client retries, each state is shown
        try:
            engine = EnSyncEngine(str(settings.url), self.client_options())
            while True:
                self._generation += 1
                generation = self._generation
                opening = self._opening = asyncio.create_task(
                    engine.create_client(
                        str(settings.access_key),
                        {"appSecretKey": settings.app_secret_key},
                        retry=True,
                        on_state=functools.partial(self._on_state, generation=generation),
                    )
                )
                try:
                    self.client = client = await opening
                    break
                except asyncio.CancelledError:
                    if generation == self._generation:  # not restarted: stopped
                        raise
                finally:
                    self._opening = None
        except EnSyncError as exc:  # the login refused (never retried), or a bad setting
            if self.status != "closed":
                self.post(ConnectionChanged("closed", reason=error_text(exc)))
            return False
        public_key = ""
        with contextlib.suppress(Exception):
            public_key = client.get_client_public_key()
        self.post(SessionReady(self.settings, public_key))
        return True

    def _on_state(self, state: StateLike, generation: int = 0) -> None:
        if generation and generation != self._generation:
            return  # an attempt given up on for a new one (reconnect now)
        self.status = state.status
        if self.recorder is not None:
            self.recorder.connection(state.status, state.reason)
        self.post(ConnectionChanged(state.status, state.attempt, state.delay, state.reason))

    async def _ping_loop(self) -> None:
        while True:
            if self.status == "connected":
                try:
                    rtt = await asyncio.wait_for(self._client().ping(), timeout=10)
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
        if self._buffer or self._acked or self._ack_failures:
            batch, self._buffer = self._buffer, []
            acked, self._acked = self._acked, []
            failures, self._ack_failures = self._ack_failures, []
            self.post(RecordsReceived(batch, acked, failures))

    def _on_message(self, message: dict[str, Any]) -> Awaitable[None] | None:
        # the entry is made here, on the runtime's thread; flushed in batches
        record = message["record"]
        if self.recorder is not None:
            self.recorder.record(record)
        entry = Entry(record)
        self._buffer.append(entry)
        if self.auto_ack and self.client is not None:
            # acked from here, before the next record is handled: no task, no wait
            return self._auto_ack(self.client, (entry.name, entry.idem, entry.block))
        return None

    async def _auto_ack(self, client: ClientLike, item: tuple[str, str, int]) -> None:
        try:
            answer = await client.send_ack(*item)
        except Exception as exc:
            self._ack_failures.append((item[1], exc))
            return
        answer.add_done_callback(lambda done: self._ack_done(item, done))

    def _ack_done(self, item: tuple[str, str, int], future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._acked.append(item)
            self._recorded(item[0], item[1], "acked")
        elif isinstance(error, Exception):
            self._ack_failures.append((item[1], error))

    def _recorded(self, name: str, idem: str, state: str, **how: Any) -> None:
        if self.recorder is not None:
            self.recorder.state(name, idem, state, **how)

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

    async def reconnect_now(self) -> bool:
        """Try to connect now, not at the end of the wait; False when none is waiting."""
        return await self._on_loop(self._reconnect_now())

    async def _reconnect_now(self) -> bool:
        if self.client is not None:
            return self.client.reconnect_now()
        if (opening := self._opening) is None or self.status != "reconnecting":
            return False
        self._generation += 1  # _connect starts a new first attempt at once
        opening.cancel()
        return True

    # -- actions -------------------------------------------------------------
    # Callable from the app's loop; each runs on the runtime's loop (which may be
    # another thread) and raises EnSyncError or NotConnected on failure.
    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
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

    def _client(self) -> ClientLike:
        if self.client is None:
            raise NotConnected()
        return self.client

    def _changed(self) -> None:
        self.post(SubscriptionsChanged(list(self.subs), dict(self.paused)))

    async def subscribe(self, name: str) -> None:
        await self._on_loop(self._subscribe(name))

    async def _subscribe(self, name: str) -> None:
        client = self._client()
        if name in self.subs:
            return
        sub: SubscriptionLike = client.subscribe(name, auto_ack=False, decrypt=False)
        sub.handler(self._on_message)
        await sub
        self.subs[name] = sub
        self._changed()

    async def unsubscribe(self, name: str) -> None:
        await self._on_loop(self._unsubscribe(name))

    async def _unsubscribe(self, name: str) -> None:
        await self._client().unsubscribe(name)
        self.subs.pop(name, None)
        self.paused.pop(name, None)
        self._changed()

    async def ack(self, name: str, idem: str, block: int) -> None:
        await self._on_loop(self._client().ack(name, idem, block))
        self._recorded(name, idem, "acked")

    async def pause(self, name: str, reason: str = "") -> None:
        await self._on_loop(self._pause(name, reason))

    async def _pause(self, name: str, reason: str) -> None:
        await self._client().pause(name, reason)
        self.paused[name] = reason
        self._changed()

    async def resume(self, name: str) -> None:
        await self._on_loop(self._resume(name))

    async def _resume(self, name: str) -> None:
        await self._client().resume(name)
        self.paused.pop(name, None)
        self._changed()

    async def defer(self, name: str, idem: str, delay_ms: int, reason: str = "") -> None:
        await self._on_loop(self._client().defer(name, idem, delay_ms, reason))
        self._recorded(name, idem, "deferred", reason=reason, delay_ms=delay_ms)

    async def discard(self, name: str, idem: str, reason: str = "") -> None:
        await self._on_loop(self._client().discard(name, idem, reason))
        self._recorded(name, idem, "discarded", reason=reason)

    async def replay(self, name: str, idem: str) -> dict[str, Any]:
        """The stored message ``idem``, as the client gives it (its ``record`` included)."""
        message = dict(await self._on_loop(self._client().replay(name, idem)))
        if self.recorder is not None and message.get("record") is not None:
            self.recorder.record(message["record"], replayed=True)
        return message

    async def publish(self, message: publishing.Message) -> list[dict[str, Any]]:
        """Publish what the composer made of its form (one PUB per recipient)."""
        answers = list(await self._on_loop(message.publish(self._client())))
        if self.recorder is not None:
            self.recorder.published(
                message.name, message.recipients, message.payload, message.metadata, answers
            )
        return answers


class Tuning:
    """The process settings a firehose needs, and their undoing.

    While the runtime parses on a thread of its own, the UI thread gets the GIL
    back within 1 ms (not 5), so keys and redraws stay quick. Under a flood,
    survivors are moved out of the collector's way (``gc.freeze``): held records
    are freed by reference counting when the ring drops them, and only the full
    collections that rescan them all (long pauses) are avoided. When the flow
    calms down, everything is handed back to the collector.
    """

    def __init__(self) -> None:
        self.frozen = False  # the collector is kept off what is held
        self._seen = 0
        self._switch: float | None = None

    def quick_switch(self) -> None:
        if self._switch is None:
            self._switch = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)

    def observe(self, received: int, seconds: float) -> None:
        """``received`` records in all so far, ``seconds`` after the last call."""
        rate = (received - self._seen) / seconds
        self._seen = received
        if rate >= GC_FREEZE_RATE:
            gc.freeze()
            self.frozen = True
        elif self.frozen and rate < GC_THAW_RATE:
            gc.unfreeze()
            self.frozen = False

    def restore(self) -> None:
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
            self._switch = None
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
