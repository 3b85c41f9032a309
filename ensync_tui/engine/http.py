"""HTTP/1.1 on a socket the front (front.py) found to carry a request for the
management API: requests read with h11, each answered by the API, keep-alive.

Limits: a request head of at most :data:`MAX_HEAD` bytes, a body of at most
:data:`MAX_BODY`; a request must arrive whole within ``timeout`` seconds of the
previous answer (or of the connection opening), which also closes an idle
keep-alive connection. A request that breaks these or HTTP itself gets a 4xx with a
JSON error, and the connection is closed after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import h11

log = logging.getLogger("ensync_tui.engine")

MAX_HEAD = 16 * 1024
MAX_BODY = 256 * 1024
SERVER = "ensync-tui-engine"
LINGER = 2.0  # seconds a refused request's remaining bytes are read and dropped


@dataclass(slots=True)
class HttpRequest:
    method: str
    target: str  # as sent: path and query, still percent-encoded
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    peer: str


@dataclass(slots=True)
class HttpReply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    authenticated: bool = False  # the request carried a valid account key


def json_reply(status: int, value: object, **kw: object) -> HttpReply:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpReply(status, body, **kw)  # type: ignore[arg-type]


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_reply(status: int, message: str, **kw: object) -> HttpReply:
    body = {"status": status, "error": phrase(status), "message": message}
    return json_reply(status, body, **kw)


App = Callable[[HttpRequest], HttpReply]


class HttpChannel:
    """One HTTP connection: feed it bytes, it answers on the transport."""

    def __init__(
        self,
        transport: asyncio.Transport,
        app: App,
        peer: str,
        timeout: float,
        on_authenticated: Callable[[], object] = lambda: None,
    ) -> None:
        self.transport = transport
        self.app = app
        self.peer = peer
        self.timeout = timeout
        self.on_authenticated = on_authenticated
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._started = False  # bytes of the next request have arrived
        self._closed = False
        self._lingering = False
        self._writing_paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    # ------------------------------------------------------ from the transport

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return  # lingering after a refusal: what comes is dropped
        self._started = True
        self.conn.receive_data(data)
        self._pump()

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()
        elif not self._closed:
            self.conn.receive_data(b"")
            self._pump()

    def connection_lost(self) -> None:
        self._closed = True
        self._disarm()

    def pause_writing(self) -> None:
        """The peer does not read its answers: read no more requests until it does."""
        self._writing_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self.transport.resume_reading()
        self._pump()

    # ------------------------------------------------------------------ events

    def _pump(self) -> None:
        conn = self.conn
        while not self._closed and not self._writing_paused:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._fail(exc.error_status_hint, f"malformed HTTP request: {exc}")
                return
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    self._next_cycle()
                    continue
                return
            if isinstance(event, h11.Request):
                if not self._begin(event):
                    return
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > MAX_BODY:
                    self._fail(413, f"the request body is over {MAX_BODY} bytes")
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._answer()
            elif isinstance(event, h11.ConnectionClosed):
                self._close()
                return

    def _begin(self, request: h11.Request) -> bool:
        self._request, self._body = request, bytearray()
        if request.http_version not in (b"1.0", b"1.1"):
            version = request.http_version.decode("ascii", "replace")
            self._fail(505, f"HTTP/{version} is not served (HTTP/1.1 is)")
            return False
        size = len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers)
        if size > MAX_HEAD:
            self._fail(431, f"the request head is over {MAX_HEAD} bytes")
            return False
        for name, value in request.headers:
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
                self._fail(413, f"the request body is over {MAX_BODY} bytes")
                return False
        if self.conn.they_are_waiting_for_100_continue:
            self._write(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        return True

    def _answer(self) -> None:
        request = self._request
        assert request is not None
        self._request = None
        try:
            target = request.target.decode("ascii")
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        except UnicodeDecodeError:
            reply = error_reply(400, "the request target must be ASCII (percent-encoded)")
        else:
            req = HttpRequest(
                request.method.decode("ascii", "replace"),
                target,
                headers,
                bytes(self._body),
                self.peer,
            )
            try:
                reply = self.app(req)
            except Exception:  # a bug must not cost the peer its answer
                log.exception("%s: management API request failed", self.peer)
                reply = error_reply(500, "internal error")
        if reply.authenticated:
            self.on_authenticated()
        self._send(reply, head_only=request.method == b"HEAD")
        if self.conn.our_state is h11.MUST_CLOSE:
            self._close()
        elif self.conn.their_state is h11.DONE:
            self._next_cycle()

    def _next_cycle(self) -> None:
        try:
            self.conn.start_next_cycle()
        except h11.LocalProtocolError:
            self._close()
            return
        self._started = False
        self._arm()

    # ----------------------------------------------------------------- answers

    def _send(self, reply: HttpReply, head_only: bool = False, close: bool = False) -> None:
        headers = [("server", SERVER), ("cache-control", "no-store"), *reply.headers]
        if reply.status != 204:  # a 204 has no body, nor a length
            headers += [
                ("content-type", reply.content_type),
                ("content-length", str(len(reply.body))),
            ]
        if close:
            headers.append(("connection", "close"))
        try:
            head = h11.Response(
                status_code=reply.status, headers=headers, reason=phrase(reply.status)
            )
            data = self.conn.send(head)
            if reply.body and not head_only:
                data += self.conn.send(h11.Data(data=reply.body))
            data += self.conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            log.exception("%s: cannot write an HTTP answer", self.peer)
            self._close()
            return
        self._write(data)

    def refuse(self, status: int, message: str) -> None:
        self._fail(status, message)

    def _fail(self, status: int, message: str) -> None:
        """Answer an unusable request (if an answer can still go out) and close."""
        log.info("%s: HTTP %d: %s", self.peer, status, message)
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self._send(error_reply(status, message), close=True)
        self._close(linger=True)

    def _write(self, data: bytes | None) -> None:
        if data and not self.transport.is_closing():
            self.transport.write(data)

    # ----------------------------------------------------------------- timeout

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._closed:
            return
        if self._started:
            self._fail(408, f"the request did not arrive whole within {self.timeout:g} s")
        else:
            self._close()  # an idle keep-alive connection

    def _close(self, linger: bool = False) -> None:
        """Close after what was written. ``linger``: the peer may still be sending
        (a refused body); closing at once would reset the socket and lose the
        answer, so its output is shut, and what it sends is read and dropped for
        a while first."""
        if self._closed:
            return
        self._closed = True
        self._disarm()
        loop = asyncio.get_running_loop()
        transport = self.transport
        if linger and transport.can_write_eof():
            self._lingering = True
            transport.write_eof()
            loop.call_later(LINGER, transport.close)
        else:
            transport.close()  # what was written goes out first
        # ...unless the peer reads nothing: then it goes after a while
        loop.call_later(self.timeout + LINGER, transport.abort)
