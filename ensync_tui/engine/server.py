"""The engine's server: one port for the WebSocket endpoint (path ``/message``,
one task per connection, see connection.py) and the management API under
``/api/v1/ensync`` (management.py); front.py tells the two apart.

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
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ensync_tui.engine.broker import Broker
from ensync_tui.engine.config import ClientSpec, EngineConfig
from ensync_tui.engine.connection import Link, send_frames
from ensync_tui.engine.front import EngineConnection, Front
from ensync_tui.engine.http import App
from ensync_tui.engine.logs import RepeatFilter
from ensync_tui.engine.management import API_PATH, ManagementApi
from ensync_tui.engine.outbox import Outbox
from ensync_tui.engine.registry import Registry
from ensync_tui.engine.store import Store
from ensync_tui.safetext import visible

try:
    import resource
except ImportError:  # pragma: no cover - not on this platform
    resource = None  # type: ignore[assignment]

__all__ = ["API_PATH", "PATH", "EngineServer", "Outbox", "send_frames"]

log = logging.getLogger("ensync_tui.engine")

PATH = "/message"
PATHS = ("/message", "/message/", "/")  # the Go SDK connects to the URL as given
SUBPROTOCOL = "ensync-protocol"  # some clients ask for it; it is granted when asked
SERVER_HEADER = "ensync-tui-engine"
FILE_RESERVE = 64  # files kept for the database, logs and the listening sockets
OVER_LIMIT = 64  # sockets beyond the limit that may stay to be answered 503
STOP_GRACE = 1.0  # seconds peers have to answer the close frame when the engine stops
CLOSE_TIMEOUT = 10.0  # seconds a WebSocket closing handshake may take (as websockets.serve)


class _Hub:
    """What a websockets connection asks of its server: whether it still serves."""

    def __init__(self, engine: EngineServer) -> None:
        self._engine = engine

    def is_serving(self) -> bool:
        listener = self._engine._listener
        return listener is not None and listener.is_serving()


class EngineServer:
    """The local EnSync engine. ``async with EngineServer(cfg) as server: ...``"""

    def __init__(self, cfg: EngineConfig, label: str = "engine.toml") -> None:
        cfg.check()
        self.cfg = cfg
        self.label = label  # the config file's name, in errors about it
        self._store: Store | None = None  # set by start()
        self.broker: Broker | None = None
        self.registry: Registry | None = None
        self._api: ManagementApi | None = None
        self._listener: asyncio.Server | None = None
        self._hub = _Hub(self)
        self.port = cfg.port
        self.max_connections = cfg.max_connections  # lowered by start() to what files allow
        self._fronts: set[Front] = set()
        self._unauthenticated: dict[Front, None] = {}  # oldest first
        self._links: set[Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
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
        """Sockets open now (HTTP, in the handshake, unauthenticated or authenticated)."""
        return len(self._fronts)

    @property
    def conn_timeout(self) -> float:
        return self.cfg.conn_timeout

    @property
    def url(self) -> str:
        scheme = "wss" if self.cfg.tls_cert else "ws"
        host = self.cfg.host if self.cfg.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The management API's base URL (EnSync's CLI calls it ``base_url``)."""
        scheme = "https" if self.cfg.tls_cert else "http"
        return scheme + self.url[self.url.index(":") :] + API_PATH

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
            self.registry = Registry(store, self.broker, self.broker.now_ms)
            self.registry.load(cfg, self.label)
            self.registry.on_revoked = self._revoked
            self._api = ManagementApi(self.registry)
            self._listener = await asyncio.get_running_loop().create_server(
                lambda: Front(self),
                cfg.host or None,
                cfg.port,
                ssl=ssl_context,
                ssl_handshake_timeout=cfg.conn_timeout if ssl_context else None,
                ssl_shutdown_timeout=STOP_GRACE if ssl_context else None,
            )
        except BaseException:
            log.removeFilter(self._log_filter)
            await self.broker.stop()
            store.close()
            raise
        self.broker.start()
        self._flusher = asyncio.create_task(self._flush_logs(), name="ensync-log-summaries")
        sockets = list(self._listener.sockets)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        where = "every interface" if cfg.host in ("", "0.0.0.0", "::") else "loopback only"
        if cfg.host not in ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):
            where = f"{cfg.host} only"
        log.info("engine listening on %s%s, %s (db %s)", self.url, PATH, where, cfg.db)

    async def stop(self) -> None:
        if self._listener is not None:
            await self._close_sockets()
            self._listener = None
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
        """Stop listening, send every WebSocket peer a close frame, and abort the
        sockets of peers that have not closed within :data:`STOP_GRACE` (a peer
        that never reads or never closes must not hold up the stop)."""
        assert self._listener is not None
        self._listener.close()
        closing = [
            asyncio.create_task(f.ws.close(1001, "engine stopping"))
            for f in list(self._fronts)
            if f.ws is not None and f.ws.state is State.OPEN
        ]
        if closing:
            _, late = await asyncio.wait(closing, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        for front in list(self._fronts):
            front.abort()
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listener.wait_closed(), STOP_GRACE)

    async def serve_forever(self) -> None:
        assert self._listener is not None
        await self._listener.serve_forever()

    async def __aenter__(self) -> EngineServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------ the front's gate (front.py)

    def opened(self, front: Front) -> None:
        self._fronts.add(front)
        if len(self._fronts) > self.max_connections:
            oldest = next(iter(self._unauthenticated), None)
            if oldest is not None:
                self._unauthenticated.pop(oldest)
                log.debug("%s: closed to make room (not authenticated)", oldest.peer)
                oldest.abort()
            elif self._over < OVER_LIMIT:
                front.refused = True  # answered 503 by _admit, or by the front for HTTP
                self._over += 1
            else:
                front.abort()
                return
        self._unauthenticated[front] = None

    def closed(self, front: Front) -> None:
        if front not in self._fronts:
            return  # told twice (the front, then its websocket)
        self._fronts.discard(front)
        self._unauthenticated.pop(front, None)
        if front.refused:
            front.refused = False
            self._over -= 1

    def authenticated(self, front: Front) -> None:
        self._unauthenticated.pop(front, None)

    def api(self) -> App | None:
        return None if self._api is None else self._api.handle

    def websocket(self, front: Front) -> EngineConnection:
        protocol = ServerProtocol(
            select_subprotocol=lambda _, offered: _subprotocol(offered),
            max_size=self.cfg.max_frame * 2,
        )
        ws = EngineConnection(
            protocol,
            self._hub,  # type: ignore[arg-type]
            ping_interval=None,
            close_timeout=CLOSE_TIMEOUT,
            max_queue=16,
        )
        ws.front = front
        return ws

    def serve_websocket(self, ws: EngineConnection) -> None:
        task = asyncio.create_task(self._run_websocket(ws))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ connections

    async def _run_websocket(self, ws: EngineConnection) -> None:
        """The opening handshake (within conn_timeout), then the connection's life."""
        try:
            async with asyncio.timeout(self.cfg.conn_timeout):
                await ws.handshake(self._admit, None, SERVER_HEADER)
        except Exception:
            ws.transport.abort()
            return
        if ws.protocol.state is not State.OPEN:
            ws.transport.abort()
            return
        try:
            async with ws:
                await self._handle(ws)
        except Exception:
            log.exception("%s: connection handler failed", ws.front.peer)

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        front = connection.front  # type: ignore[attr-defined]
        path = request.path.split("?", 1)[0]
        if path not in PATHS:
            log.info("%s: refused path %s", front.peer, visible(path[:80]))
            return connection.respond(
                404,
                f"unknown path {path[:80]!r}: the EnSync endpoint is {PATH},"
                f" the management API is under {API_PATH}\n",
            )
        if front.refused:
            log.warning("%s: refused, %d connections open", front.peer, len(self._fronts))
            return connection.respond(
                503, f"too many connections (the engine takes {self.max_connections})\n"
            )
        return None

    async def _handle(self, ws: EngineConnection) -> None:
        assert self.broker is not None
        front = ws.front
        link = Link(ws, self.broker, self.cfg, front.peer)
        link.opened = front.opened_at
        link.on_authenticated = lambda: self.authenticated(front)
        self._links.add(link)
        try:
            await link.run()
        finally:
            self._links.discard(link)

    def _revoked(self, spec: ClientSpec, why: str) -> None:
        """``spec`` is no longer an identity: its connections are dropped."""
        for link in list(self._links):
            if link.session.client is spec:
                task = asyncio.create_task(link.drop(1008, why))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _flush_logs(self) -> None:
        while True:
            await asyncio.sleep(self._log_filter.window)
            self._log_filter.flush()


def _subprotocol(offered: Sequence[Subprotocol]) -> Subprotocol | None:
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
