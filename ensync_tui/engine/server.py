"""The engine's WebSocket server: path ``/message``, one task per connection
(see connection.py), and the limits on connections.

At most ``max_connections`` sockets are open at once (fewer if the process may
not open that many files). When a new one comes at the limit, the oldest
socket that has not authenticated yet is closed to make room; when every one
has, the newcomer is answered HTTP 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.config import EngineConfig
from ensync_tui.engine.connection import Link, send_frames
from ensync_tui.engine.logs import RepeatFilter
from ensync_tui.engine.outbox import Outbox
from ensync_tui.engine.store import Store
from ensync_tui.safetext import visible

try:
    import resource
except ImportError:  # pragma: no cover - not on this platform
    resource = None  # type: ignore[assignment]

__all__ = ["PATH", "EngineServer", "Outbox", "send_frames"]

log = logging.getLogger("ensync_tui.engine")

PATH = "/message"
PATHS = ("/message", "/message/", "/")  # the Go SDK connects to the URL as given
SUBPROTOCOL = "ensync-protocol"  # some clients ask for it; it is granted when asked
FILE_RESERVE = 64  # files kept for the database, logs and the listening sockets
OVER_LIMIT = 64  # sockets beyond the limit that may stay to be answered 503
STOP_GRACE = 1.0  # seconds peers have to answer the close frame when the engine stops


class EngineServer:
    """The local EnSync engine. ``async with EngineServer(cfg) as server: ...``"""

    def __init__(self, cfg: EngineConfig) -> None:
        cfg.check()
        self.cfg = cfg
        self._store: Store | None = None  # set by start()
        self.broker: Broker | None = None
        self._server: Server | None = None
        self.port = cfg.port
        self.max_connections = cfg.max_connections  # lowered by start() to what files allow
        self._sockets: set[ServerConnection] = set()
        self._unauthenticated: dict[ServerConnection, None] = {}  # oldest first
        self._over = 0  # sockets over the limit waiting for their 503
        self._log_filter = RepeatFilter()
        self._flusher: asyncio.Task[None] | None = None

    @property
    def store(self) -> Store:
        """The engine's storage (after start)."""
        if self._store is None:
            raise RuntimeError("the engine is not started")
        return self._store

    @property
    def connections(self) -> int:
        """Sockets open now (in the handshake, unauthenticated or authenticated)."""
        return len(self._sockets)

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
        self.max_connections = _connection_limit(cfg.max_connections)
        self._store = store = await asyncio.to_thread(Store, cfg.db)
        self.broker = Broker(cfg, store)
        log.addFilter(self._log_filter)
        try:
            self._server = await serve(
                self._handle,
                cfg.host,
                cfg.port,
                ssl=ssl_context,
                process_request=self._admit,
                max_size=cfg.max_frame * 2,
                max_queue=16,
                compression=None,
                select_subprotocol=_subprotocol,
                open_timeout=cfg.conn_timeout,
                ping_interval=None,
                server_header="ensync-tui-engine",
                create_connection=self._connection_class(),
            )
        except BaseException:
            log.removeFilter(self._log_filter)
            await self.broker.stop()
            store.close()
            raise
        self.broker.start()
        self._flusher = asyncio.create_task(self._flush_logs(), name="ensync-log-summaries")
        sockets = list(self._server.sockets)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        where = "every interface" if cfg.host in ("", "0.0.0.0", "::") else "loopback only"
        if cfg.host not in ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):
            where = f"{cfg.host} only"
        log.info("engine listening on %s%s, %s (db %s)", self.url, PATH, where, cfg.db)

    async def stop(self) -> None:
        if self._server is not None:
            await self._close_sockets()
            self._server = None
        if self.broker is not None:
            await self.broker.stop()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self._log_filter.flush(force=True)
        log.info("engine stopped")
        log.removeFilter(self._log_filter)

    async def _close_sockets(self) -> None:
        """Stop listening, send every peer a close frame, and abort the sockets
        of peers that have not closed within :data:`STOP_GRACE` (a peer that
        never reads or never closes must not hold up the stop)."""
        assert self._server is not None
        self._server.close(close_connections=False)
        closing = [
            asyncio.create_task(ws.close(1001, "engine stopping"))
            for ws in list(self._sockets)
            if ws.state is State.OPEN
        ]
        if closing:
            _, late = await asyncio.wait(closing, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        for ws in list(self._sockets):
            ws.transport.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), STOP_GRACE)

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> EngineServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ connections

    def _connection_class(self) -> type[ServerConnection]:
        engine = self

        class Counted(ServerConnection):
            """A connection that counts itself against the engine's limit."""

            opened_at = 0.0
            refused = False

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                self.opened_at = time.monotonic()
                engine._opened(self)

            def connection_lost(self, exc: Exception | None) -> None:
                engine._closed(self)
                super().connection_lost(exc)

        return Counted

    def _opened(self, ws: Any) -> None:
        self._sockets.add(ws)
        if len(self._sockets) > self.max_connections:
            oldest = next(iter(self._unauthenticated), None)
            if oldest is not None:
                self._unauthenticated.pop(oldest)
                log.debug("%s: closed to make room (no CONN yet)", _peer(oldest))
                oldest.transport.abort()
            elif self._over < OVER_LIMIT:
                ws.refused = True  # answered 503 by _admit
                self._over += 1
            else:
                ws.transport.abort()
                return
        self._unauthenticated[ws] = None

    def _closed(self, ws: Any) -> None:
        self._sockets.discard(ws)
        self._unauthenticated.pop(ws, None)
        if ws.refused:
            ws.refused = False
            self._over -= 1

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path not in PATHS:
            log.info("%s: refused path %s", _peer(connection), visible(path[:80]))
            return connection.respond(
                404, f"unknown path {path[:80]!r}: the EnSync endpoint is {PATH}\n"
            )
        if getattr(connection, "refused", False):
            log.warning("%s: refused, %d connections open", _peer(connection), len(self._sockets))
            return connection.respond(
                503, f"too many connections (the engine takes {self.max_connections})\n"
            )
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert self.broker is not None
        link = Link(ws, self.broker, self.cfg, _peer(ws))
        link.on_authenticated = lambda: self._unauthenticated.pop(ws, None)
        await link.run()

    async def _flush_logs(self) -> None:
        while True:
            await asyncio.sleep(self._log_filter.window)
            self._log_filter.flush()


def _subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """``ensync-protocol`` when the client offers it; else none (not a refusal)."""
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None


def _connection_limit(wanted: int) -> int:
    """``wanted``, or fewer when the process may not open that many files."""
    if resource is None:
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(int(soft) - FILE_RESERVE - OVER_LIMIT, 1)
    if room < wanted:
        log.warning(
            "max_connections lowered from %d to %d: the process may open %d files"
            " (raise it with ulimit -n)",
            wanted,
            room,
            soft,
        )
        return room
    return wanted


def _peer(ws: ServerConnection) -> str:
    addr = ws.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
