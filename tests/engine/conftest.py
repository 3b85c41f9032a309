"""Engine fixtures: an engine on 127.0.0.1:0 and raw protocol clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine import EngineConfig, EngineServer, MessageSpec
from ensync_tui.engine.sandbox import Identity, make_identities
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.crypto import encrypt_payload, payload_metadata
from tests.engine.api import ADMIN

TIMEOUT = 10.0

MESSAGES = [
    MessageSpec("orders/created"),
    MessageSpec("orders/status", {"order_id": "string", "status": "string", "qty": "long"}),
    MessageSpec("billing/invoice"),
]


class RawClient:
    """A bare protocol client: replies in one queue, records in another."""

    def __init__(self, ws: ClientConnection, answer_pings: bool = True) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.records: asyncio.Queue[replies.Record] = asyncio.Queue()
        self.pings = 0
        self.client_id = ""
        self.public_key = ""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                assert isinstance(frame, str)
                if frame == "PING":
                    self.pings += 1
                    if self.answer_pings:
                        await self.ws.send("PONG")
                elif frame.startswith("+RECORD:"):
                    self.records.put_nowait(replies.Record.from_json(frame[8:]))
                else:
                    self.replies.put_nowait(frame)

    async def send(self, frame: str) -> None:
        await self.ws.send(frame)

    async def reply(self) -> str:
        return await asyncio.wait_for(self.replies.get(), TIMEOUT)

    async def request(self, frame: str) -> str:
        await self.send(frame)
        return await self.reply()

    async def ok(self, frame: str) -> dict[str, str]:
        reply = await self.request(frame)
        assert reply.startswith(("+PASS:", "+REPLAY:")), reply
        return replies.parse_kv(reply[6:]) if reply.startswith("+PASS:") else {}

    async def record(self, timeout: float = TIMEOUT) -> replies.Record:
        return await asyncio.wait_for(self.records.get(), timeout)

    async def ack(self, record: replies.Record) -> None:
        await self.ok(
            frames.Ack(self.client_id, record.idem, str(record.block), record.name).encode()
        )

    async def take(self, count: int, ack: bool = True) -> list[replies.Record]:
        """``count`` records, each acked before the next is awaited (one at a
        time is all the engine pushes by default)."""
        got = []
        for _ in range(count):
            got.append(await self.record())
            if ack:
                await self.ack(got[-1])
        return got

    async def no_record(self, wait: float = 0.3) -> None:
        with contextlib.suppress(TimeoutError):
            got = await asyncio.wait_for(self.records.get(), wait)
            raise AssertionError(f"unexpected record {got}")

    async def pub(
        self,
        name: str,
        to: str,
        payload: Any = None,
        metadata: dict[str, Any] | None = None,
        with_pm: bool = True,
    ) -> str:
        payload = {"order_id": "A1", "status": "new", "qty": 3} if payload is None else payload
        req = frames.Pub(
            self.client_id,
            name,
            encrypt_payload(payload, [to]),
            to,
            metadata if metadata is not None else {"persist": True, "headers": {}},
            payload_metadata(payload) if with_pm else None,
        )
        return await self.request(req.encode())

    async def pub_ok(self, name: str, to: str, payload: Any = None, **kw: Any) -> dict[str, str]:
        reply = await self.pub(name, to, payload, **kw)
        assert reply.startswith("+PASS:"), reply
        return replies.parse_kv(reply[6:])

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


@pytest.fixture
def ids() -> dict[str, Identity]:
    return make_identities(["alice", "bob", "carol", "limited"])


WIDE = 100_000  # a window for tests about something else than need-based push


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "window(n): the engine fixtures deliver up to n records per subscription before "
        "an answer (tests about backlogs, pipelining or slow readers, not about need-based push)",
    )


def engine_config(ids: dict[str, Identity], **kw: Any) -> EngineConfig:
    clients = [ids[n].spec() for n in ("alice", "bob", "carol")]
    clients.append(ids["limited"].spec(send=["orders/*"], receive=["billing/*"]))
    kw.setdefault("port", 0)
    kw.setdefault("accounts", [ADMIN])
    return EngineConfig(clients=clients, messages=list(MESSAGES), **kw)


def _window(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("window")
    return {} if marker is None else {"max_in_flight": marker.args[0]}


@pytest.fixture
async def engine(
    ids: dict[str, Identity], request: pytest.FixtureRequest
) -> AsyncIterator[EngineServer]:
    async with EngineServer(engine_config(ids, **_window(request))) as server:
        yield server


Connect = Callable[..., Awaitable[RawClient]]


@pytest.fixture
async def connect(engine: EngineServer) -> AsyncIterator[Connect]:
    clients: list[RawClient] = []

    async def _connect(
        who: Identity | None = None, server: EngineServer | None = None, **kw: Any
    ) -> RawClient:
        url = (server or engine).url + "/message"
        ws = await ws_connect(url, max_size=None, compression=None)
        client = RawClient(ws, **kw)
        clients.append(client)
        if who is not None:
            fields = await client.ok(frames.Conn(who.access_key).encode())
            client.client_id = fields["clientId"]
            client.public_key = fields["clientHash"]
        return client

    yield _connect
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


@pytest.fixture
async def engine_factory(
    ids: dict[str, Identity], request: pytest.FixtureRequest
) -> AsyncIterator[tuple[EngineServer, Connect]]:
    """An engine with a 0.1 s PING interval."""
    cfg = engine_config(ids, ping_interval=0.1, **_window(request))
    async with EngineServer(cfg) as server:
        clients: list[RawClient] = []

        async def _connect(who: Identity | None = None, **kw: Any) -> RawClient:
            ws = await ws_connect(server.url + "/message", max_size=None)
            client = RawClient(ws, **kw)
            clients.append(client)
            if who is not None:
                fields = await client.ok(frames.Conn(who.access_key).encode())
                client.client_id = fields["clientId"]
                client.public_key = fields["clientHash"]
            return client

        yield server, _connect
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
