"""What the official SDKs (Python, Node, Go) write, in raw frames: each is accepted."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine import EngineServer, MessageSpec
from ensync_tui.engine.config import EngineConfig
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.crypto import encrypt_payload

from .conftest import Connect, RawClient, engine_config

NAME = "orders/created"


@pytest.mark.parametrize("path", ["/", "/message", "/message/", "/message?v=1"])
async def test_the_upgrade_is_taken_on_each_path_an_sdk_uses(
    engine: EngineServer, ids, path: str
) -> None:
    async with ws_connect(engine.url + path) as ws:
        await ws.send(frames.Conn(ids["alice"].access_key).encode())
        assert str(await ws.recv()).startswith("+PASS:{clientId=")


async def test_the_ensync_protocol_subprotocol_is_granted(engine: EngineServer, ids) -> None:
    async with ws_connect(engine.url + "/message", subprotocols=["ensync-protocol"]) as ws:
        assert ws.subprotocol == "ensync-protocol"
        await ws.send(frames.Conn(ids["alice"].access_key).encode())
        assert str(await ws.recv()).startswith("+PASS:")
    async with ws_connect(engine.url + "/message") as ws:  # none asked, none given
        assert ws.subprotocol is None


def _pub(client: RawClient, to: str, skeleton: dict[str, str], name: str) -> str:
    payload = encrypt_payload({"x": 1}, [to])
    pm = '{"byte_size":7,"skeleton":' + frames.compact_json(skeleton) + "}"
    return (
        f"PUB;CLIENT_ID=:{client.client_id};EVENT_NAME=:{name};PAYLOAD=:{payload};"
        f'DELIVERY_TO=:{to};METADATA=:{{"persist":true,"headers":{{}}}};PAYLOAD_METADATA=:{pm}'
    )


async def test_skeleton_words_number_and_float_match_numeric_fields(ids, connect: Connect) -> None:
    typed = MessageSpec("typed/n", {"i": "integer", "l": "long", "d": "double", "s": "string"})
    loose = MessageSpec("typed/loose", {"n": "number"})  # EnSync's docs' word, in a schema
    cfg = engine_config(ids)
    cfg = EngineConfig(clients=cfg.clients, messages=[typed, loose], port=0)
    async with EngineServer(cfg) as server:
        alice = await connect(ids["alice"], server=server)
        to = ids["bob"].public_key
        for word in ("number", "float"):  # Node and Go write number; EnSync's docs float
            skeleton = {"i": word, "l": word, "d": word, "s": "string"}
            assert (await alice.request(_pub(alice, to, skeleton, "typed/n"))).startswith("+PASS:")
        for field in ("i", "l", "d"):
            skeleton = {"i": "integer", "l": "long", "d": "double", "s": "string", field: "string"}
            reply = await alice.request(_pub(alice, to, skeleton, "typed/n"))
            expected = {"i": "integer", "l": "long", "d": "double"}[field]
            assert reply == f"-FAIL:schema mismatch: field {field!r} expected {expected} got string"
        for word in ("integer", "long", "double", "float", "number"):
            reply = await alice.request(_pub(alice, to, {"n": word}, "typed/loose"))
            assert reply.startswith("+PASS:"), (word, reply)
        reply = await alice.request(_pub(alice, to, {"n": "boolean"}, "typed/loose"))
        assert reply == "-FAIL:schema mismatch: field 'n' expected number got boolean"


async def test_rollback_with_partition_block_as_the_go_sdk_writes_it(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, NAME).encode())
    await alice.pub_ok(NAME, bob.public_key)
    record = await bob.record()
    await bob.ack(record)
    frame = f"ROLLBACK;CLIENT_ID=:{bob.client_id};EVENT_IDEM=:{record.idem};PARTITION_BLOCK=:"
    assert await bob.request(frame + "999") == (
        f"-FAIL:BLOCK 999 does not match message {record.idem!r} (block {record.block})"
    )
    assert await bob.request(frame + str(record.block)) == f"+PASS:{{rolledBack={record.idem}}}"
    assert engine.store.delivery_state(record.idem, bob.public_key) == "pending"
    assert (await bob.record()).idem == record.idem


async def test_unknown_trailing_fields_are_ignored(connect: Connect, ids, engine: EngineServer):
    """Older Go clients append ``;MSG_ID=:<n>`` to every frame."""
    n = iter(range(1, 100))

    def go(frame: str) -> str:
        return f"{frame};MSG_ID=:{next(n)}"

    alice, bob = await connect(), await connect()
    for client, who in ((alice, "alice"), (bob, "bob")):
        fields = await client.ok(go(frames.Conn(ids[who].access_key).encode()))
        client.client_id, client.public_key = fields["clientId"], fields["clientHash"]
    assert await bob.request(go(frames.Sub(bob.client_id, NAME).encode())) == (
        f"+PASS:{{subscribed={NAME}}}"
    )
    pub = frames.Pub(
        alice.client_id, NAME, encrypt_payload({"n": 1}, [bob.public_key]), bob.public_key,
        {"persist": True, "headers": {"trace": "a;B=:1"}},
    )  # fmt: skip
    sent = replies.parse_kv((await alice.request(go(pub.encode())))[6:])
    record = await bob.record()
    assert record.idem == sent["idem"] and record.metadata["headers"] == {"trace": "a;B=:1"}
    ack = frames.Ack(bob.client_id, record.idem, str(record.block), NAME).encode()
    assert await bob.request(go(ack)) == f"+PASS:{{acked={record.idem}}}"
    assert engine.store.delivery_state(record.idem, bob.public_key) == "acked"
    for request in (
        frames.Pause(bob.client_id, NAME, "a reason"),
        frames.Continue(bob.client_id, NAME),
        frames.Replay(bob.client_id, record.idem, NAME),
        frames.Unsub(bob.client_id, NAME),
    ):
        reply = await bob.request(go(request.encode()))
        assert reply.startswith(("+PASS:", "+REPLAY:")), (request, reply)
    await bob.send("PONG;MSG_ID=:77")
    # a known key at the end is a value, as before: the last field is not cut
    reply = await bob.request(f"SUB;CLIENT_ID=:{bob.client_id};EVENT_NAME=:{NAME};CLIENT_ID=:x")
    assert reply.startswith("-FAIL:unknown message name"), reply


async def test_a_frame_of_a_million_extra_fields_is_answered_at_once(connect: Connect, ids):
    bob = await connect(ids["bob"])
    frame = frames.Sub(bob.client_id, NAME).encode() + ";X=:1" * 1_000_000  # 5 MB
    reply = await bob.request(frame)  # within the client's 10 s (it took a minute)
    assert reply.startswith("-FAIL:unknown message name 'orders/created;X=:1;X=:1"), reply[:80]
    assert await bob.request(frames.Sub(bob.client_id, NAME).encode()) == (
        f"+PASS:{{subscribed={NAME}}}"
    )


async def _silent_peer(port: int, first: str | None) -> asyncio.StreamWriter:
    """A peer that completes the upgrade, maybe sends one frame, then never
    reads and never closes (a socket left in CLOSE-WAIT)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /message HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    if first is not None:
        data, mask = first.encode(), os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        writer.write(bytes([0x81, 0x80 | len(data)]) + mask + masked)
    await writer.drain()
    return writer


async def test_peers_that_never_close_do_not_hold_up_the_stop(ids, connect: Connect) -> None:
    server = EngineServer(engine_config(ids))
    await server.start()
    polite = await connect(ids["bob"], server=server)
    stuck = [
        await _silent_peer(server.port, frames.Conn(ids["alice"].access_key).encode()),
        await _silent_peer(server.port, None),
    ]
    while server.connections < 3:
        await asyncio.sleep(0.01)
    start = time.monotonic()
    await server.stop()
    took = time.monotonic() - start
    assert took < 2.5, took  # closed, a grace of 1 s, then aborted (was 5 s and more)
    await asyncio.wait_for(polite.ws.wait_closed(), 1)
    assert polite.ws.close_code == 1001
    assert server.connections == 0
    for writer in stuck:
        writer.close()
