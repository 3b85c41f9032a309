"""The client's only socket and clock code: websockets and asyncio around a Connection.

One reader task owns the socket's incoming side and feeds every frame to the
sans-I/O :class:`~ensync_tui.client.connection.Connection`; one timer per link
runs its deadlines. Requests are written at once through websockets' public
``send``, whose drain makes senders wait while more than ``HIGH_WATER`` bytes
are queued for the socket; the frames written in one loop tick leave in one
system call (``BatchedTransport`` under the connection). When a link drops, a
supervisor task reconnects on the connection's backoff schedule, logs in again
and resubscribes before requests flow again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from ensync_tui.batching import BatchedTransport
from ensync_tui.client.connection import (
    Connection,
    ConnectionState,
    ConnectionStatus,
    connect_failure,
)
from ensync_tui.client.errors import (
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncError,
    EnSyncTimeoutError,
    EnSyncValidationError,
)
from ensync_tui.client.events import (
    Answer,
    Delivery,
    Event,
    LinkDead,
    Malformed,
    Orphan,
    PingDue,
    Ready,
    ResubscribeFailed,
    Send,
    SetupFailed,
)
from ensync_tui.client.feed import StateFeed
from ensync_tui.client.nap import Nap
from ensync_tui.client.options import Options, ssl_context
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.limits import MAX_RECEIVED_FRAME

__all__ = ["HIGH_WATER", "Transport"]

log = logging.getLogger("ensync_tui.client")
frames_log = logging.getLogger("ensync_tui.client.frames")  # frames skipped as unreadable

HIGH_WATER = 4 * 1024 * 1024  # bytes queued for the socket above which senders wait
_INF = float("inf")


class _Batched(ClientConnection):
    """A websockets client connection over a BatchedTransport."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        inner = cast("asyncio.Transport", transport)
        super().connection_made(BatchedTransport(inner, asyncio.get_running_loop()))


class _Link:
    """One WebSocket connection: its reader, its deadline timer, why it ended."""

    def __init__(self, ws: ClientConnection, setup: asyncio.Future[None]) -> None:
        self.ws = ws
        self.setup = setup  # done once logged in and resubscribed (or failed)
        self.reader: asyncio.Task[None] | None = None
        self.reason = ""
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = _INF
        self.tasks: set[asyncio.Task[Any]] = set()  # keepalive pings and the close after them
        self.sending = False  # a send is under way (true across an await only when it waits)
        self.drained: asyncio.Event | None = None  # set when that send is done

    def start(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class Transport:
    """A connected, authenticated and self-healing link to one engine."""

    def __init__(
        self,
        url: str,
        access_key: str,
        options: Options,
        *,
        on_record: Callable[[replies.Record], None],
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self.url = url
        self.options = options
        self._ssl: ssl.SSLContext | None = ssl_context(url, options)
        self.conn = Connection.from_options(access_key, options)
        self._on_record = on_record
        self._feed = StateFeed(on_state)
        self._link: _Link | None = None
        self._online_changed: asyncio.Future[bool] | None = None
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self.nap = Nap()  # the wait before a reconnect (reconnect_now ends it)

    # ------------------------------------------------------------ lifecycle

    @property
    def state(self) -> ConnectionState:
        return self.conn.state

    @property
    def closed(self) -> bool:
        return self._closing

    async def open(self, retry: bool = False) -> None:
        """Connect and log in; with ``retry``, on the backoff schedule until it works.
        Raises EnSyncAuthError (never retried) or EnSyncConnectionError."""
        self._feed.report(self.conn.connecting())
        try:
            try:
                await self._connect()
            except EnSyncAuthError:
                raise
            except EnSyncError as exc:
                if not retry:
                    raise
                await self._retry(exc.message)
        except BaseException as exc:
            self._closing = True
            reason = exc.message if isinstance(exc, EnSyncError) else type(exc).__name__
            if self.state.status is not ConnectionStatus.CLOSED:
                self._feed.report(self.conn.closed(reason))
            raise
        self._go_online()
        self._supervisor = asyncio.create_task(self._supervise(), name="ensync-supervisor")

    async def close(self, reason: str = "closed by the client") -> None:
        """Close the connection for good; pending requests fail. Safe to call twice."""
        if self._closing and self.state.status is ConnectionStatus.CLOSED:
            return
        self._closing = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            await self._drop(link, reason)
        if self._online_changed is not None and not self._online_changed.done():
            self._online_changed.set_result(False)  # requests waiting for a reconnect fail
        self._feed.report(self.conn.closed(reason))

    def state_changes(self) -> AsyncIterator[ConnectionState]:
        """Each new connection state, until (and including) "closed"."""
        return self._feed.changes(self.state)

    # ------------------------------------------------------------ requests

    async def request(self, req: frames.Request, timeout: float | None = None) -> Any:
        """Send one request and wait for its answer (Pass or ReplayReply); raises EnSyncError."""
        try:
            text = req.encode()
        except frames.WireError as exc:
            raise EnSyncValidationError(str(exc)) from None
        return await (await self.submit_text(req.VERB, text, timeout))

    async def submit_text(
        self, verb: str, text: str, timeout: float | None = None
    ) -> asyncio.Future[Any]:
        """Send one frame encoded by protocol.frames; returns the future of its answer."""
        link = self._link
        if link is None or not self.conn.online or self._closing:
            link = await self._usable_link()
        future: asyncio.Future[Any] = link.ws.loop.create_future()
        await self._send(link, verb, text, future, timeout)
        return future

    async def post(self, text: str, verb: str) -> bool:
        """Send a frame whose answer nobody waits for (auto-ack); a -FAIL is logged.
        Returns False when it could not be sent (not connected)."""
        link = self._link
        if link is None or not self.conn.online:
            return False
        try:
            await self._send(link, verb, text, None, None)
        except EnSyncError:
            return False
        return True

    async def _send(
        self, link: _Link, verb: str, text: str, waiter: Any, timeout: float | None
    ) -> None:
        try:
            data = text.encode()
        except UnicodeEncodeError:
            raise EnSyncValidationError(f"{verb}: a lone surrogate cannot be sent") from None
        while link.sending:  # a send waits for the socket to drain: queue behind it
            if link.drained is None:
                link.drained = asyncio.Event()
            await link.drained.wait()
        conn = self.conn
        slot = conn.request_text(verb, text, waiter, link.ws.loop.time(), timeout)
        if conn.wake_at < link.timer_at:
            self._arm(link)
        link.sending = True  # seen by others only while send() waits: the buffer is full
        try:
            await link.ws.send(data, text=True)  # queued at once (in order), then drained
        except ConnectionClosed as exc:
            conn.cancel(slot)
            raise EnSyncConnectionError(f"connection {exc} while sending {verb}") from None
        finally:
            link.sending = False
            drained, link.drained = link.drained, None
            if drained is not None:
                drained.set()

    async def ping(self) -> float:
        """Round trip of a WebSocket ping, in seconds."""
        link = await self._usable_link()
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            waiter = await link.ws.ping()
            async with asyncio.timeout(self.options.request_timeout):
                await waiter
        except ConnectionClosed as exc:
            raise EnSyncConnectionError(f"connection lost during ping: {exc}") from None
        except TimeoutError:
            raise EnSyncTimeoutError("no pong within the request timeout") from None
        return loop.time() - start

    async def _usable_link(self) -> _Link:
        """The link once online: a reconnect under way is waited for, a request timeout."""
        if not self._closing and not self.conn.online:
            if self._online_changed is None or self._online_changed.done():
                self._online_changed = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(self.options.request_timeout):
                    await asyncio.shield(self._online_changed)
            except TimeoutError:
                state = self.state
                raise EnSyncConnectionError(
                    f"not connected ({state.status}: {state.reason})"
                ) from None
        if self._closing:
            raise EnSyncConnectionError("the client is closed")
        link = self._link
        if link is None:
            raise EnSyncConnectionError("not connected")
        return link

    def _go_online(self) -> None:
        self._feed.report(self.conn.state)
        if self._online_changed is not None and not self._online_changed.done():
            self._online_changed.set_result(True)

    # ------------------------------------------------------------ events

    def _arm(self, link: _Link) -> None:
        """One timer per link, at the connection's next deadline."""
        if link.timer is not None:
            link.timer.cancel()
            link.timer = None
        link.timer_at = when = self.conn.wake_at
        if when != _INF and link is self._link:
            link.timer = link.ws.loop.call_at(when, self._on_timer, link)

    def _on_timer(self, link: _Link) -> None:
        due, link.timer, link.timer_at = link.timer_at, None, _INF
        if link is not self._link:
            return
        now = max(link.ws.loop.time(), due)  # a timer may fire a hair early
        for event in self.conn.deadlines(now):
            self._dispatch(link, event)
        self._arm(link)

    def _dispatch(self, link: _Link, event: Event) -> None:
        """Act on an event that needs no writing (Send is the reader's)."""
        if isinstance(event, Answer):
            self._resolve(event)
        elif isinstance(event, PingDue):
            link.start(self._keepalive(link), "ensync-keepalive")
        elif isinstance(event, LinkDead):
            link.reason = link.reason or f"connection lost: {event.reason}"
            link.start(link.ws.close(1011, "keepalive ping timeout"), "ensync-close")
        elif isinstance(event, Ready):
            if not link.setup.done():
                link.setup.set_result(None)
        elif isinstance(event, SetupFailed):
            if not link.setup.done():
                link.setup.set_exception(event.error)
        elif isinstance(event, ResubscribeFailed):
            log.warning("resubscribing to %s failed: %s", event.name, event.error)
        elif isinstance(event, Orphan):
            log.warning("answer with no pending request ignored: %.80r", event)
        elif isinstance(event, Malformed):
            frames_log.warning(
                "skipped a malformed frame from the engine (%s): %.80s", event.error, event.text
            )

    def _resolve(self, answer: Answer) -> None:
        slot, result = answer.slot, answer.result
        future = slot.waiter
        if future is None:
            if isinstance(result, EnSyncError):
                log.warning("%s failed: %s", slot.verb, result.message)
            return
        if future.done():
            return
        if isinstance(result, EnSyncError):
            future.set_exception(result)
        else:
            future.set_result(result)

    async def _keepalive(self, link: _Link) -> None:
        conn = self.conn
        try:
            waiter = cast("asyncio.Future[float]", await link.ws.ping())
        except ConnectionClosed:
            return
        conn.ping_sent(link.ws.loop.time())
        self._arm(link)

        def pong(answer: asyncio.Future[Any]) -> None:
            if answer.cancelled() or answer.exception() is not None:
                return  # the link closed: it is handled as lost
            if link is self._link:
                conn.pong_received()
                self._arm(link)

        waiter.add_done_callback(pong)

    # ------------------------------------------------------------ connection

    async def _connect(self) -> None:
        # a link that stops answering is dropped within two ping intervals: the
        # next ping, half an interval for its pong, a quarter for the close
        interval = self.options.ping_interval
        try:
            ws = await connect(
                self.url,
                ssl=self._ssl,
                compression=None,
                open_timeout=self.options.open_timeout,
                ping_interval=None,  # the Connection runs the keepalive
                close_timeout=min(1.0, interval / 4) if interval else 1.0,
                max_size=MAX_RECEIVED_FRAME,
                max_queue=64,
                write_limit=HIGH_WATER,
                create_connection=_Batched,
            )
        except (OSError, WebSocketException, TimeoutError, ssl.SSLError, EOFError) as exc:
            raise EnSyncConnectionError(
                f"cannot connect to {self.url}: {connect_failure(exc, self.url)}"
            ) from None
        link = _Link(ws, ws.loop.create_future())
        self._link = link
        try:
            for event in self.conn.connection_made(ws.loop.time()):
                if isinstance(event, Send):
                    await ws.send(event.text)
            self._arm(link)
            link.reader = asyncio.create_task(self._read(link), name="ensync-reader")
            await link.setup
        except ConnectionClosed as exc:
            self._link = None
            await self._drop(link, "connection setup failed")
            raise EnSyncConnectionError(f"connection lost while logging in: {exc}") from None
        except BaseException:
            self._link = None
            await self._drop(link, "connection setup failed")
            raise

    async def _drop(self, link: _Link, reason: str) -> None:
        """Close a link, wait for its reader, fail what it still had pending."""
        link.reason = link.reason or reason
        await link.ws.close()
        waits = [t for t in (link.reader, *link.tasks) if t is not None]
        waits = [t for t in waits if t is not asyncio.current_task()]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        self._lost(link)

    def _lost(self, link: _Link) -> None:
        if link.timer is not None:
            link.timer.cancel()
            link.timer = None
        reason = link.reason or "connection closed"
        if not link.setup.done():
            link.setup.set_exception(EnSyncConnectionError(f"connection lost: {reason}"))
            link.setup.exception()  # retrieved: the connect that waits raises it
        if link is self._link or self._link is None:
            for event in self.conn.connection_lost(reason):
                self._dispatch(link, event)

    async def _read(self, link: _Link) -> None:
        ws, conn = link.ws, self.conn
        receive, on_record = conn.receive, self._on_record
        try:
            async for data in ws:
                for event in receive(data):  # never raises
                    kind = type(event)
                    try:  # nothing a frame holds may stop the reader
                        if kind is Delivery:
                            on_record(event.record)  # type: ignore[union-attr]
                        elif kind is Send:
                            await ws.send(event.text)  # type: ignore[union-attr]
                        else:
                            self._dispatch(link, event)
                    except ConnectionClosed:
                        raise
                    except Exception:
                        log.exception("handling a %s event failed", kind.__name__)
                if conn.wake_at < link.timer_at:
                    self._arm(link)
            link.reason = link.reason or f"connection closed by the engine (code {ws.close_code})"
        except ConnectionClosed as exc:
            link.reason = link.reason or f"connection lost: {exc}"
        except Exception as exc:  # never leave pending requests hanging
            log.exception("reader stopped")
            link.reason = link.reason or f"reader stopped: {exc}"
            await ws.close()
        finally:
            self._lost(link)

    async def _supervise(self) -> None:
        """Wait for the link to drop, then reconnect until it works or attempts run out."""
        while not self._closing:
            link = self._link
            if link is None or link.reader is None:
                return
            await asyncio.gather(link.reader, return_exceptions=True)
            if self._closing:
                return
            self._link = None
            await link.ws.close()
            try:
                await self._retry(link.reason or "connection lost")
            except EnSyncAuthError as exc:
                await self.close(f"authentication refused: {exc.message}")
                return
            except EnSyncConnectionError:
                await self.close(self.state.reason)
                return
            self._go_online()

    async def _retry(self, reason: str) -> None:
        """Connect again on the backoff schedule. Raises EnSyncAuthError when the login
        is refused, EnSyncConnectionError when the attempts run out (the state is closed)."""
        attempt = 0
        while True:
            attempt += 1
            state = self.conn.retry(attempt, reason)
            self._feed.report(state)
            if state.status is ConnectionStatus.CLOSED:
                raise EnSyncConnectionError(state.reason)
            await self.nap.sleep(state.delay)
            if self._closing:
                raise EnSyncConnectionError("the client is closed")
            self._feed.report(self.conn.connecting(attempt))
            try:
                await self._connect()
                return
            except EnSyncAuthError:
                raise
            except EnSyncError as exc:
                reason = exc.message
            except Exception as exc:  # unexpected: keep trying, but say what it was
                log.exception("reconnect attempt %d failed", attempt)
                reason = f"{type(exc).__name__}: {exc}"
