"""The connection to an EnSync engine: the only client code with sockets and clocks.

One reader task owns the socket's incoming side. Requests are pipelined: each
is noted in the sans-I/O :class:`ClientProtocol` and written at once, and its
answer comes back on a future. A supervisor task reconnects with exponential
backoff and jitter when the connection drops, authenticates again and calls
``on_ready`` (the API layer resubscribes there) before requests flow again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.protocol import State

from ensync_tui.client.errors import (
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncError,
    EnSyncTimeoutError,
    EnSyncValidationError,
)
from ensync_tui.client.link import Link, LinkClosed
from ensync_tui.client.options import Options, ssl_context
from ensync_tui.client.protocol import (
    Delivery,
    Malformed,
    Orphan,
    PingReceived,
    Reply,
    outcome,
)
from ensync_tui.crashlog import redact
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.limits import MAX_RECEIVED_FRAME

__all__ = ["ConnectionState", "Session"]

log = logging.getLogger("ensync_tui.client")
frames_log = logging.getLogger("ensync_tui.client.frames")  # frames skipped as unreadable

HIGH_WATER = 4 * 1024 * 1024  # unsent bytes above which senders wait
_PONG = frames.Pong().encode()


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """Where the connection is: connecting, connected, reconnecting or closed."""

    status: str
    attempt: int = 0
    delay: float = 0.0
    reason: str = ""


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: about base * 2**(attempt-1), at most cap."""
    delay = min(cap, base * (2 ** min(attempt - 1, 30)))
    return delay * (0.5 + random.random() / 2)


def _usable_id(client_id: str) -> bool:
    """A clientId goes into every request: printable ASCII without the field separator."""
    return (
        bool(client_id) and client_id.isascii() and client_id.isprintable() and ";" not in client_id
    )


def _connect_reason(exc: BaseException, url: str) -> str:
    """Why connecting failed, also when the exception has no text (a reset connection)."""
    text = str(exc)
    if not text and isinstance(exc, ConnectionError | EOFError):
        text = "the engine closed the connection"
        if url.startswith("wss://"):
            text += " during the TLS handshake (does it serve plain ws:// instead?)"
    return text or type(exc).__name__


class Session:
    """A connected, authenticated and self-healing link to one engine."""

    def __init__(
        self,
        url: str,
        access_key: str,
        options: Options,
        *,
        on_record: Callable[[replies.Record], None],
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.options = options
        self._access_key = access_key
        self._ssl: ssl.SSLContext | None = ssl_context(url, options)
        self._on_record = on_record
        self._on_ready = on_ready
        self.client_id = ""
        self.client_hash = ""
        self.state = ConnectionState("connecting")
        self._listeners: list[asyncio.Queue[ConnectionState]] = []
        self._link: Link | None = None
        self._online = False
        self._online_changed: asyncio.Future[bool] | None = None
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Connect and authenticate once; raises EnSyncConnectionError or EnSyncAuthError."""
        self._set_state(ConnectionState("connecting"))
        try:
            await self._connect()
        except BaseException as exc:
            reason = exc.message if isinstance(exc, EnSyncError) else type(exc).__name__
            self._closing = True
            self._set_state(ConnectionState("closed", reason=reason))
            raise
        self._go_online()
        self._supervisor = asyncio.create_task(self._supervise(), name="ensync-supervisor")

    async def close(self, reason: str = "closed by the client") -> None:
        """Close the connection for good; pending requests fail. Safe to call twice."""
        if self._closing and self.state.status == "closed":
            return
        self._closing = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            await self._drop(link, reason)
        self._go_offline(closed=True)
        self._set_state(ConnectionState("closed", reason=reason))

    @property
    def closed(self) -> bool:
        return self._closing

    async def state_changes(self) -> AsyncIterator[ConnectionState]:
        """Each new connection state, until (and including) "closed"."""
        if self.state.status == "closed":
            return
        queue: asyncio.Queue[ConnectionState] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                state = await queue.get()
                yield state
                if state.status == "closed":
                    return
        finally:
            self._listeners.remove(queue)

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.state and state.status != "connecting":
            return
        self.state = state
        log.info("connection %s%s", state.status, f": {state.reason}" if state.reason else "")
        for queue in self._listeners:
            queue.put_nowait(state)

    # ------------------------------------------------------------ requests

    async def request(self, req: frames.Request, timeout: float | None = None) -> Any:
        """Send one request and wait for its answer (Pass or ReplayReply); raises EnSyncError."""
        return await (await self.submit(req, timeout))

    async def submit(
        self, req: frames.Request, timeout: float | None = None, *, ready: bool = True
    ) -> asyncio.Future[Any]:
        """Send one request now; returns the future of its answer (for pipelining)."""
        try:
            text = req.encode()
        except frames.WireError as exc:
            raise EnSyncValidationError(str(exc)) from None
        return await self.submit_text(req.VERB, text, timeout, ready=ready)

    async def submit_text(
        self, verb: str, text: str, timeout: float | None = None, *, ready: bool = True
    ) -> asyncio.Future[Any]:
        """Send one encoded request frame; returns the future of its answer."""
        link = self._link
        if link is None or not (self._online or not ready) or self._closing:
            link = await self._usable_link(ready)
        elif link.backlog() > HIGH_WATER:
            await self._drain(link)
        return self._send(link, verb, text, timeout)

    def try_submit(
        self, verb: str, text: str, timeout: float | None = None
    ) -> asyncio.Future[Any] | None:
        """Like submit_text without waiting: None when it would have to wait."""
        link = self._link
        if link is None or not self._online or self._closing or link.backlog() > HIGH_WATER:
            return None
        return self._send(link, verb, text, timeout)

    def _send(self, link: Link, verb: str, text: str, timeout: float | None) -> asyncio.Future[Any]:
        loop = link.ws.loop
        future: asyncio.Future[Any] = loop.create_future()
        slot = link.proto.request(verb, future)
        try:
            link.write(text)
        except LinkClosed as exc:
            link.proto.cancel_last(slot)
            raise EnSyncConnectionError(f"connection {exc} while sending {verb}") from None
        except UnicodeEncodeError:
            link.proto.cancel_last(slot)
            raise EnSyncValidationError(f"{verb}: a lone surrogate cannot be sent") from None
        seconds = self.options.request_timeout if timeout is None else timeout
        slot.timeout = seconds
        slot.deadline = deadline = loop.time() + seconds
        if link.sweeper is None or deadline < link.sweep_at:
            self._arm(link, deadline)
        return future

    def _arm(self, link: Link, when: float) -> None:
        if link.sweeper is not None:
            link.sweeper.cancel()
        link.sweep_at = when
        link.sweeper = link.ws.loop.call_at(when, self._sweep, link)

    def post(self, text: str, verb: str) -> bool:
        """Send a request frame whose answer nobody waits for (auto-ack); -FAIL is logged.

        Returns False when it could not be sent (not connected).
        """
        link = self._link
        if link is None or not self._online:
            return False
        slot = link.proto.request(verb, None)
        try:
            link.write(text)
        except (LinkClosed, UnicodeEncodeError):
            link.proto.cancel_last(slot)
            return False
        return True

    async def _drain(self, link: Link) -> None:
        """Wait while too much is queued for the socket (the engine reads slowly)."""
        while link.backlog() > HIGH_WATER // 4 and link.ws_proto.state is State.OPEN:
            await asyncio.sleep(0.002)

    async def ping(self) -> float:
        """Round trip of a WebSocket ping, in seconds."""
        link = await self._usable_link(True)
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

    async def _usable_link(self, ready: bool) -> Link:
        if self._closing:
            raise EnSyncConnectionError("the client is closed")
        if ready and not self._online:
            await self._wait_online()
        link = self._link
        if link is None:
            raise EnSyncConnectionError("not connected")
        return link

    async def _wait_online(self) -> None:
        loop = asyncio.get_running_loop()
        if self._online_changed is None or self._online_changed.done():
            self._online_changed = loop.create_future()
        try:
            async with asyncio.timeout(self.options.request_timeout):
                online = await asyncio.shield(self._online_changed)
        except TimeoutError:
            raise EnSyncConnectionError(
                f"not connected ({self.state.status}: {self.state.reason})"
            ) from None
        if not online:
            raise EnSyncConnectionError("the client is closed")

    def _go_online(self) -> None:
        self._online = True
        self._set_state(ConnectionState("connected"))
        if self._online_changed is not None and not self._online_changed.done():
            self._online_changed.set_result(True)

    def _go_offline(self, closed: bool = False) -> None:
        self._online = False
        if closed and self._online_changed is not None and not self._online_changed.done():
            self._online_changed.set_result(False)

    def _sweep(self, link: Link) -> None:
        """Fail requests past their deadline; one timer per link, not one per request."""
        link.sweeper = None
        loop = link.ws.loop
        now = loop.time()
        upcoming = 0.0
        for slot in link.proto.pending:
            future = slot.waiter
            if future is None or slot.abandoned or future.done():
                continue
            if slot.deadline <= now:
                slot.abandoned = True  # its late answer still takes this slot
                future.set_exception(
                    EnSyncTimeoutError(f"no answer to {slot.verb} within {slot.timeout:g} s")
                )
            elif not upcoming or slot.deadline < upcoming:
                upcoming = slot.deadline
        if upcoming:
            step = min(1.0, self.options.request_timeout / 20)  # timeouts may run this late
            self._arm(link, max(upcoming, now + step))

    # ------------------------------------------------------------ connection

    async def _connect(self) -> None:
        # a link that stops answering is dropped within two ping intervals:
        # the next ping, half an interval for its pong, a quarter for the close
        interval = self.options.ping_interval
        try:
            ws = await connect(
                self.url,
                ssl=self._ssl,
                compression=None,
                open_timeout=self.options.open_timeout,
                ping_interval=interval,
                ping_timeout=interval / 2 if interval else None,
                close_timeout=min(1.0, interval / 4) if interval else 1.0,
                max_size=MAX_RECEIVED_FRAME,
                max_queue=64,
            )
        except (OSError, WebSocketException, TimeoutError, ssl.SSLError, EOFError) as exc:
            raise EnSyncConnectionError(
                f"cannot connect to {self.url}: {_connect_reason(exc, self.url)}"
            ) from None
        link = Link(ws)
        link.reader = asyncio.create_task(self._read(link), name="ensync-reader")
        self._link = link
        try:
            future = await self.submit(frames.Conn(self._access_key), ready=False)
            answer = await future
            fields = answer.fields()
            client_id = fields.get("clientId", "")
            if not _usable_id(client_id):
                raise EnSyncAuthError(
                    f"the engine's CONN answer has no usable clientId: {answer.body[:80]}"
                )
            self.client_id = client_id
            self.client_hash = fields.get("clientHash", "")
            if self._on_ready is not None:
                await self._on_ready()
        except BaseException:
            self._link = None
            await self._drop(link, "connection setup failed")
            raise

    async def _drop(self, link: Link, reason: str) -> None:
        """Close a link, wait for its reader, fail what it still had pending."""
        link.reason = link.reason or reason
        await link.ws.close()
        if link.reader is not None and link.reader is not asyncio.current_task():
            await asyncio.gather(link.reader, return_exceptions=True)
        self._fail_pending(link)

    def _fail_pending(self, link: Link) -> None:
        if link.sweeper is not None:
            link.sweeper.cancel()
            link.sweeper = None
        for slot in link.proto.drop_all():
            future = slot.waiter
            if future is not None and not future.done():
                future.set_exception(
                    EnSyncConnectionError(
                        f"connection lost before the {slot.verb} answer:"
                        f" {link.reason or 'connection closed'}"
                    )
                )

    async def _read(self, link: Link) -> None:
        ws, proto = link.ws, link.proto
        receive = proto.receive
        on_record = self._on_record
        try:
            async for data in ws:
                event = receive(data)  # never raises
                kind = type(event)
                try:  # nothing a frame holds may stop the reader
                    if kind is Delivery:
                        on_record(event.record)  # type: ignore[union-attr]
                    elif kind is Reply:
                        self._resolve(event)  # type: ignore[arg-type]
                    elif kind is PingReceived:
                        await ws.send(_PONG)
                    elif kind is Orphan:
                        log.warning("answer with no pending request ignored: %.80r", event)
                    elif kind is Malformed:
                        frames_log.warning(
                            "skipped a malformed frame from the engine (%s): %.80s",
                            event.error,  # type: ignore[union-attr]
                            event.text,  # type: ignore[union-attr]
                        )
                except ConnectionClosed:
                    raise
                except Exception:
                    log.exception("handling a %s frame failed", kind.__name__)
            code = ws.close_code
            link.reason = link.reason or f"connection closed by the engine (code {code})"
        except ConnectionClosed as exc:
            link.reason = link.reason or f"connection lost: {exc}"
        except Exception as exc:  # never leave pending requests hanging
            log.exception("reader stopped")
            link.reason = link.reason or f"reader stopped: {exc}"
            await ws.close()
        finally:
            self._fail_pending(link)

    def _resolve(self, reply: Reply) -> None:
        slot, frame = reply.slot, reply.frame
        future = slot.waiter
        if isinstance(frame, replies.Fail):  # an engine may quote the access key: never show it
            reason = frame.reason if len(frame.reason) <= 1000 else frame.reason[:999] + "…"
            frame = replies.Fail(redact(reason, (self._access_key,)))
        if future is None:
            if isinstance(frame, replies.Fail):
                log.warning("%s failed: %s", slot.verb, frame.reason)
            return
        if slot.abandoned or future.done():
            return
        result = outcome(slot.verb, frame)
        if isinstance(result, EnSyncError):
            future.set_exception(result)
        else:
            future.set_result(result)

    async def _supervise(self) -> None:
        """Wait for the link to drop, then reconnect until it works or attempts run out."""
        while not self._closing:
            link = self._link
            if link is None or link.reader is None:
                return
            await asyncio.gather(link.reader, return_exceptions=True)
            if self._closing:
                return
            self._go_offline()
            self._link = None
            reason = link.reason or "connection lost"
            await link.ws.close()
            if not await self._reconnect(reason):
                return
            self._go_online()

    async def _reconnect(self, reason: str) -> bool:
        opts = self.options
        cap = max(opts.max_reconnect_delay, opts.reconnect_interval)
        attempt = 0
        while not self._closing:
            attempt += 1
            if opts.max_reconnect_attempts and attempt > opts.max_reconnect_attempts:
                await self.close(f"gave up after {opts.max_reconnect_attempts} attempts: {reason}")
                return False
            delay = backoff_delay(attempt, opts.reconnect_interval, cap)
            self._set_state(ConnectionState("reconnecting", attempt, delay, reason))
            await asyncio.sleep(delay)
            if self._closing:
                break
            self._set_state(ConnectionState("connecting", attempt))
            try:
                await self._connect()
                return True
            except EnSyncAuthError as exc:
                await self.close(f"authentication refused: {exc.message}")
                return False
            except EnSyncError as exc:
                reason = exc.message
            except Exception as exc:  # unexpected: keep trying, but say what it was
                log.exception("reconnect attempt %d failed", attempt)
                reason = f"{type(exc).__name__}: {exc}"
        return False
