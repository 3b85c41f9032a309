"""The HTTP side of the engine's one port: malformed and oversized requests, slow
clients, keep-alive, the connection limit, and TLS for https:// and wss:// together."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine import EngineServer
from ensync_tui.engine.http import MAX_BODY, MAX_HEAD
from ensync_tui.engine.management import API_PATH
from ensync_tui.protocol import frames
from tests.engine.api import ADMIN_KEY, TIMEOUT, exchange, parse_answers, request_bytes
from tests.engine.conftest import RawClient, engine_config
from tests.tls import self_signed

HEAD = f"Host: x\r\nX-ACCESS-KEY: {ADMIN_KEY}\r\n"


async def _answer(server: EngineServer, data: bytes) -> tuple[int, dict]:
    answer = parse_answers(await exchange(server, data))[0]
    return answer.status, answer.json


async def test_malformed_requests_get_400_with_a_json_error(engine) -> None:
    for data in [
        f"GET {API_PATH}/event HTTP/1.1\r\nno colon here\r\n\r\n".encode(),
        f"POST {API_PATH}/event HTTP/1.1\r\n{HEAD}Content-Length: ten\r\n\r\n".encode(),
        f"GET {API_PATH}/event\x00 HTTP/1.1\r\n{HEAD}\r\n".encode(),
    ]:
        status, error = await _answer(engine, data)
        assert status == 400 and error["status"] == 400, (data, error)
        assert "malformed HTTP request" in error["message"]
    status, error = await _answer(engine, f"GET {API_PATH}/ping HTTP/9.9\r\n\r\n".encode())
    assert status == 505 and "HTTP/1.1" in error["message"]


async def test_oversized_bodies_and_heads_are_refused(engine) -> None:
    big = b"x" * (MAX_BODY + 1)
    status, error = await _answer(engine, request_bytes("POST", "/event", raw=big))
    assert status == 413 and "body is over" in error["message"]
    chunked = (
        f"POST {API_PATH}/event HTTP/1.1\r\n{HEAD}Transfer-Encoding: chunked\r\n\r\n".encode()
        + b"".join(b"%x\r\n%s\r\n" % (64 * 1024, b"y" * 64 * 1024) for _ in range(5))
    )
    status, error = await _answer(engine, chunked)
    assert status == 413
    huge_head = f"GET {API_PATH}/event HTTP/1.1\r\n{HEAD}X-Pad: {'p' * MAX_HEAD}\r\n\r\n"
    status, error = await _answer(engine, huge_head.encode())
    assert status == 431
    long_line = f"GET {API_PATH}/{'a' * 9000}".encode()  # no end of line in sight
    status, error = await _answer(engine, long_line)
    assert status == 414
    names = parse_answers(await exchange(engine, request_bytes("GET", "/event")))[0].json
    assert names["resultsLength"] == 3  # and the engine goes on


async def test_a_slow_request_times_out_with_408(ids) -> None:
    async with EngineServer(engine_config(ids, conn_timeout=0.3)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET {API_PATH}/event HTTP/1.1\r\nHost: x\r\n".encode())  # never ends
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        answer = parse_answers(data)[0]
        assert answer.status == 408 and "within 0.3 s" in answer.json["message"]
        # a socket that says nothing is closed too
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        writer.close()


async def test_keep_alive_and_pipelined_requests(ids) -> None:
    async with EngineServer(engine_config(ids, conn_timeout=0.5)) as server:
        one = f"GET {API_PATH}/event?limit=1 HTTP/1.1\r\n{HEAD}\r\n".encode()
        ping = f"GET {API_PATH}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(one + ping + one)  # pipelined
        data = await asyncio.wait_for(reader.read(), TIMEOUT)  # closed once idle
        writer.close()
        answers = parse_answers(data, 3)
        assert [a.status for a in answers] == [200, 200, 200]
        assert answers[1].body == b"pong"
        assert answers[0].json == answers[2].json


async def test_expect_100_continue(engine) -> None:
    body = b'{"name": "cont/inued"}'
    head = (
        f"POST {API_PATH}/event HTTP/1.1\r\n{HEAD}Connection: close\r\n"
        f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
    writer.write(head)
    first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert first.startswith(b"HTTP/1.1 100")
    writer.write(body)
    rest = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    assert parse_answers(first + rest)[0].status == 201


async def test_http_sockets_count_against_the_connection_limit(ids) -> None:
    async with EngineServer(engine_config(ids, max_connections=2)) as server:
        url = server.url + "/message"
        held = []
        for who in ("alice", "bob"):
            c = RawClient(await ws_connect(url))
            await c.ok(frames.Conn(ids[who].access_key).encode())
            held.append(c)
        status, error = await _answer(server, request_bytes("GET", "/event"))
        assert status == 503 and "too many connections" in error["message"]
        await held[0].close()
        for _ in range(100):  # the engine sees the close
            if server.connections < 2:
                break
            await asyncio.sleep(0.02)
        status, _ = await _answer(server, request_bytes("GET", "/event"))
        assert status == 200
        await held[1].close()


async def test_a_non_api_path_still_goes_to_the_websocket_side(engine) -> None:
    data = await exchange(engine, b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 404") and b"/api/v1/ensync" in data


@pytest.fixture
def tls_files(tmp_path) -> tuple[str, str]:
    return self_signed(tmp_path)


async def test_https_and_wss_share_the_port(ids, tls_files) -> None:
    cert, key = tls_files
    async with EngineServer(engine_config(ids, tls_cert=cert, tls_key=key)) as server:
        assert server.api_url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=cert)
        answer = parse_answers(await exchange(server, request_bytes("GET", "/event"), trusted))[0]
        assert answer.status == 200 and answer.json["resultsLength"] == 3
        ws = RawClient(await ws_connect(server.url + "/message", ssl=trusted))
        fields = await ws.ok(frames.Conn(ids["alice"].access_key).encode())
        assert fields["clientHash"] == ids["alice"].public_key
        await ws.close()
        with pytest.raises(ssl.SSLError):  # an untrusted certificate is refused
            await exchange(server, request_bytes("GET", "/ping"), ssl.create_default_context())
        # plain HTTP on the TLS port gets nothing useful and hurts no one
        assert b"pong" not in await exchange(server, request_bytes("GET", "/ping", key=None))


async def _sent_whole(server: EngineServer, data: bytes) -> bytes:
    """Send ``data`` and end the stream: what the engine answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def test_random_requests_never_break_the_front(ids, caplog) -> None:
    """Mangled request heads and bodies: each gets an answer or a close, never a crash,
    and the engine serves the next good request."""
    import logging
    import random

    caplog.set_level(logging.ERROR)
    async with EngineServer(engine_config(ids, conn_timeout=0.5)) as engine:
        await _fuzz(engine, random.Random(14))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _fuzz(engine: EngineServer, rng: Any) -> None:
    good = request_bytes("POST", "/event", {"name": "fuzz/name", "payload": {"a": "string"}})
    alphabet = b' \r\n:/%?&=;{}[]"\\\x00\xff\x1bGETPOSTHTTP/1.1'
    answered = 0
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[at] = rng.choice(alphabet)
            else:
                data[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        reply = await _sent_whole(engine, bytes(data[: rng.randint(1, len(data))]))
        assert reply == b"" or reply.startswith(b"HTTP/1.1 "), reply[:80]
        answered += reply.startswith(b"HTTP/1.1 ")
    assert answered >= 50, answered  # most mangled requests still get an HTTP answer
    status, _ = await _answer(engine, request_bytes("GET", "/event"))
    assert status == 200
