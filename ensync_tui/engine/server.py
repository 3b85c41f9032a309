"""The engine's WebSocket server: path ``/message``, one task per connection.

Each connection reads frames, hands them to its :class:`Session`, and queues
the replies in request order in an :class:`Outbox`; one sender task writes
the outbox (replies, records and ``PING``) to the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.config import EngineConfig
from ensync_tui.engine.session import Session, fail
from ensync_tui.engine.store import Store
from ensync_tui.engine.writer import Refused, StorageError

log = logging.getLogger("ensync_tui.engine")

PATH = "/message"
READ_HIGH_WATER = 10_000  # stop reading while this many frames wait to be sent
READ_LOW_WATER = 2_000


class Outbox:
    """Frames waiting to be sent; a future stands for a reply not known yet."""

    def __init__(self) -> None:
        self._items: deque[str | asyncio.Future[Any]] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: str | asyncio.Future[Any]) -> None:
        self._items.append(item)
        self._ready.set()

    async def wait_below(self, size: int) -> None:
        while len(self._items) >= size:
            self._room.clear()
            await self._room.wait()

    async def get(self, limit: int = 256) -> list[str]:
        """The next frames to send, in order: waits for the first, then takes
        every following one that is ready, up to ``limit``."""
        while not self._items:
            self._ready.clear()
            self._room.set()
            await self._ready.wait()
        items = self._items
        frames = [await self._resolve(items[0])]
        items.popleft()
        while items and len(frames) < limit:
            item = items[0]
            if not isinstance(item, str):
                if not item.done():
                    break
                item = await self._resolve(item)
            frames.append(item)
            items.popleft()
        if len(items) < READ_LOW_WATER:
            self._room.set()
        return frames

    @staticmethod
    async def _resolve(item: str | asyncio.Future[Any]) -> str:
        if isinstance(item, str):
            return item
        try:
            frame: str = await item
        except (Refused, StorageError) as exc:
            return fail(str(exc))
        except asyncio.CancelledError:
            if not item.cancelled():
                raise
            return fail("cancelled")
        return frame

    def discard(self) -> None:
        """Drop everything; cancel replies still waiting (the peer has gone)."""
        while self._items:
            item = self._items.popleft()
            if not isinstance(item, str):
                item.cancel()
        self._room.set()


class EngineServer:
    """The local EnSync engine. ``async with EngineServer(cfg) as server: ...``"""

    def __init__(self, cfg: EngineConfig) -> None:
        cfg.check()
        self.cfg = cfg
        self._store: Store | None = None  # set by start()
        self.broker: Broker | None = None
        self._server: Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.port = cfg.port

    @property
    def store(self) -> Store:
        """The engine's storage (after start)."""
        if self._store is None:
            raise RuntimeError("the engine is not started")
        return self._store

    @property
    def url(self) -> str:
        scheme = "wss" if self.cfg.tls_cert else "ws"
        host = self.cfg.host if self.cfg.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        cfg = self.cfg
        ssl_context = None
        if cfg.tls_cert and cfg.tls_key:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        self._store = store = await asyncio.to_thread(Store, cfg.db)
        self.broker = Broker(cfg, store)
        try:
            self._server = await serve(
                self._handle,
                cfg.host,
                cfg.port,
                ssl=ssl_context,
                process_request=_check_path,
                max_size=cfg.max_frame * 2,
                max_queue=64,
                compression=None,
                ping_interval=None,
                server_header="ensync-tui-engine",
            )
        except BaseException:
            await self.broker.stop()
            store.close()
            raise
        self.broker.start()
        sockets = list(self._server.sockets)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        where = "every interface" if cfg.host in ("", "0.0.0.0", "::") else "loopback only"
        if cfg.host not in ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):
            where = f"{cfg.host} only"
        log.info("engine listening on %s%s, %s (db %s)", self.url, PATH, where, cfg.db)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        if self.broker is not None:
            await self.broker.stop()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
        log.info("engine stopped")

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> EngineServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        assert self.broker is not None
        peer = _peer(ws)
        outbox = Outbox()
        session = Session(self.broker, outbox, peer)
        log.debug("%s: connected", peer)
        sender = asyncio.create_task(self._send_loop(ws, outbox))
        pinger = asyncio.create_task(self._ping_loop(ws, session, outbox))
        max_frame = self.cfg.max_frame
        reason = "closed by client"
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    reply: Any = session.refuse("binary frames are not supported; send text frames")
                else:
                    size = len(frame) if frame.isascii() else len(frame.encode())
                    if size > max_frame:
                        reply = session.refuse(
                            f"frame is {size} bytes, over the {max_frame}-byte limit"
                        )
                    else:
                        try:
                            reply = session.handle(frame)
                        except Exception:  # a bug must not cost the client its connection
                            log.exception("%s: cannot handle a frame", session.who)
                            verb = frame.split(";", 1)[0][:20]
                            reply = fail(f"internal error while handling {verb!r}")
                if reply is not None:
                    outbox.push(reply)
                if len(outbox) >= READ_HIGH_WATER:
                    await outbox.wait_below(READ_LOW_WATER)
        except ConnectionClosed as exc:
            reason = f"connection lost ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except Exception:
            log.exception("%s: connection failed", session.who)
            reason = "internal error"
        finally:
            session.close()
            pinger.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            outbox.discard()
            if ws.close_reason:
                reason = ws.close_reason
            log.info("%s: disconnected (%s)", session.who, reason)

    async def _send_loop(self, ws: ServerConnection, outbox: Outbox) -> None:
        try:
            while True:
                await send_frames(ws, await outbox.get())
        except ConnectionClosed:
            pass

    async def _ping_loop(self, ws: ServerConnection, session: Session, outbox: Outbox) -> None:
        interval = self.cfg.ping_interval
        while True:
            await asyncio.sleep(interval)
            if session.missed_pings >= 2:
                log.info("%s: no PONG to 2 PINGs, dropping the connection", session.who)
                await ws.close(1008, "no PONG to 2 PINGs")
                return
            session.missed_pings += 1
            outbox.push("PING")


async def send_frames(ws: Connection, frames: list[str]) -> None:
    """Send text frames in order, several per write: one system call per batch
    instead of one per frame, with the connection's usual flow control."""
    if len(frames) == 1:
        await ws.send(frames[0])
        return
    async with ws.send_context():
        protocol = ws.protocol
        for frame in frames:
            protocol.send_text(frame.encode())
        chunks = protocol.data_to_send()
        data = b"".join(chunks)
        if data:
            ws.transport.write(data)
        if chunks and not chunks[-1]:  # the protocol asked to end the stream
            if ws.transport.can_write_eof():
                ws.transport.write_eof()
            else:
                ws.transport.close()


def _check_path(connection: ServerConnection, request: Request) -> Response | None:
    path = request.path.split("?", 1)[0]
    if path == PATH:
        return None
    log.info("%s: refused path %r", _peer(connection), path[:80])
    return connection.respond(404, f"unknown path {path[:80]!r}: the EnSync endpoint is {PATH}\n")


def _peer(ws: ServerConnection) -> str:
    addr = ws.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
