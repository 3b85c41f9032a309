"""A small raw HTTP client for the engine's management API tests: one request per
connection (or raw bytes), answers parsed with h11."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any

import h11

from ensync_tui.engine import EngineServer
from ensync_tui.engine.config import AccountSpec
from ensync_tui.engine.management import API_PATH

ADMIN_KEY = "admin-key-for-tests-0123456789"
ADMIN = AccountSpec("admin", ADMIN_KEY)
TIMEOUT = 10.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        return str(self.json["message"])


def parse_answers(data: bytes, count: int = 1) -> list[Answer]:
    """``count`` answers from the bytes a server sent (requests not HEAD)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    out: list[Answer] = []
    head: h11.Response | None = None
    body = b""
    while len(out) < count:
        event = conn.next_event()
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            head, body = event, b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            headers = {k.decode(): v.decode() for k, v in head.headers}
            out.append(Answer(head.status_code, headers, body))
            if len(out) < count:
                conn.start_next_cycle()
                conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
                conn.send(h11.EndOfMessage())
        else:
            raise AssertionError(f"unexpected {event!r} after {len(out)} answers")
    return out


async def exchange(
    server: EngineServer, data: bytes, tls: ssl.SSLContext | None = None, wait_close: bool = True
) -> bytes:
    """Send raw bytes; everything the engine sends back until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=tls)
    try:
        writer.write(data)
        await writer.drain()
        if not wait_close:
            return b""
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()


def request_bytes(
    method: str,
    path: str,
    body: Any = None,
    key: str | None = ADMIN_KEY,
    header: str = "X-ACCESS-KEY",
    extra: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> bytes:
    """One request with ``Connection: close``; ``path`` is under the API's base path."""
    data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {API_PATH}{path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if key is not None:
        lines.append(f"{header}: {key}")
    if data or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def call(
    server: EngineServer,
    method: str,
    path: str,
    body: Any = None,
    tls: ssl.SSLContext | None = None,
    **kw: Any,
) -> Answer:
    raw = await exchange(server, request_bytes(method, path, body, **kw), tls)
    return parse_answers(raw)[0]


async def ok(server: EngineServer, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    """The JSON of a 2xx answer (None for 204)."""
    answer = await call(server, method, path, body, **kw)
    assert 200 <= answer.status < 300, (answer.status, answer.body)
    return answer.json if answer.body else None


async def refused(
    server: EngineServer, status: int, method: str, path: str, body: Any = None, **kw: Any
) -> str:
    """The message of an answer with ``status`` (a JSON error body)."""
    answer = await call(server, method, path, body, **kw)
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/json"
    error = answer.json
    assert error["status"] == status and error["message"], error
    return str(error["message"])
