"""Every socket the engine accepts starts here, behind TLS when the engine has a
certificate, so ``wss://`` and ``https://`` share one port as ``ws://`` and
``http://`` do.

The front reads the request line and decides: a target under ``/api/`` is a
request for the management API, answered over HTTP (http.py); anything else goes,
with the bytes read so far, to a websockets :class:`ServerConnection`, which then
owns the socket (``transport.set_protocol``) and runs the opening handshake as
``websockets.serve`` would. Once a WebSocket is open nothing of the front is left
on its path. (websockets' own HTTP parser refuses every method but GET before any
hook runs, so the API cannot be served from inside it.)
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection

from ensync_tui.batching import BatchedTransport
from ensync_tui.engine.http import App, HttpChannel, error_reply

API_PREFIX = b"/api/"
MAX_REQUEST_LINE = 8 * 1024


class Gate(Protocol):
    """What the front needs from the engine (server.py)."""

    @property
    def conn_timeout(self) -> float: ...

    def opened(self, front: Front) -> None: ...
    def closed(self, front: Front) -> None: ...
    def authenticated(self, front: Front) -> None: ...
    def websocket(self, front: Front) -> EngineConnection: ...
    def serve_websocket(self, ws: EngineConnection) -> None: ...
    def api(self) -> App | None: ...


class EngineConnection(ServerConnection):
    """A websockets server connection the front made (not ``websockets.serve``): it
    tells the engine when it ends, and its handler is started by the engine."""

    front: Front

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Connection's part only: ServerConnection's would start serve()'s handler
        Connection.connection_made(self, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.gate.closed(self.front)
        super().connection_lost(exc)


class Front(asyncio.Protocol):
    """One accepted socket until it is known to be HTTP or a WebSocket."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.transport: asyncio.Transport | None = None
        self.ws: EngineConnection | None = None
        self.http: HttpChannel | None = None
        self.refused = False  # over the connection limit: answered 503
        self.opened_at = time.monotonic()
        self._head = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def peer(self) -> str:
        addr = self.transport.get_extra_info("peername") if self.transport else None
        if isinstance(addr, tuple) and len(addr) >= 2:
            return f"{addr[0]}:{addr[1]}"
        return str(addr)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # --------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.gate.conn_timeout, self._timed_out)
        self.gate.opened(self)

    def data_received(self, data: bytes) -> None:
        if self.http is not None:
            self.http.data_received(data)
            return
        head = self._head
        head += data
        end = head.find(b"\n", 0, MAX_REQUEST_LINE)
        if end < 0:
            if len(head) >= MAX_REQUEST_LINE:
                self._cancel_timer()
                self._http().refuse(414, f"the request line is over {MAX_REQUEST_LINE} bytes")
            return
        parts = bytes(head[:end]).split(b" ")
        self._cancel_timer()
        if len(parts) == 3 and parts[1].startswith(API_PREFIX):
            self._http().data_received(bytes(head))
        else:
            self._upgrade()

    def eof_received(self) -> bool | None:
        if self.http is not None:
            self.http.eof_received()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self.http is not None:
            self.http.connection_lost()
        self.gate.closed(self)

    def pause_writing(self) -> None:
        if self.http is not None:
            self.http.pause_writing()

    def resume_writing(self) -> None:
        if self.http is not None:
            self.http.resume_writing()

    # ---------------------------------------------------------------- choices

    def _http(self) -> HttpChannel:
        assert self.transport is not None
        app = self.gate.api()
        if self.refused or app is None:
            message = (
                "too many connections" if self.refused else "the management API is not served here"
            )
            status = 503 if self.refused else 404
            app = lambda request: error_reply(status, message)  # noqa: E731
        self.http = HttpChannel(
            self.transport,
            app,
            self.peer,
            self.gate.conn_timeout,
            lambda: self.gate.authenticated(self),
        )
        self._head = bytearray()
        return self.http

    def _upgrade(self) -> None:
        """Hand the socket and what it sent so far to a websockets connection."""
        assert self.transport is not None
        ws = self.ws = self.gate.websocket(self)
        data, self._head = bytes(self._head), bytearray()
        self.transport.set_protocol(ws)
        ws.connection_made(BatchedTransport(self.transport, asyncio.get_running_loop()))
        ws.data_received(data)
        self.gate.serve_websocket(ws)

    def _timed_out(self) -> None:
        """No request line in time: a socket that says nothing is closed."""
        self._timer = None
        if self.http is None and self.ws is None:
            self.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
