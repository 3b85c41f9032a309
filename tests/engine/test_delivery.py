"""Delivery under load, storage failures and TLS.

The tests about backlogs, pipelining and slow readers run with a wide window
(``window`` marker), so that many records are in flight at once; need-based
push itself is tested in test_push.py."""

from __future__ import annotations

import asyncio
import sqlite3
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine import EngineServer
from ensync_tui.engine.server import send_frames
from ensync_tui.protocol import frames, replies
from tests.tls import self_signed

from .conftest import WIDE, Connect, RawClient, engine_config

NAME = "orders/created"


async def _publish_many(alice: RawClient, to: str, count: int) -> list[str]:
    texts = [
        frames.Pub(alice.client_id, NAME, "e30=", to, {"persist": True, "headers": {}}).encode()
    ] * count
    await send_frames(alice.ws, texts)
    answers = [await alice.reply() for _ in texts]
    assert all(r.startswith("+PASS:") for r in answers)
    return [replies.parse_kv(r[6:])["idem"] for r in answers]


@pytest.mark.window(WIDE)
async def test_big_backlog_arrives_in_order_with_live_messages_after(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await _publish_many(alice, bob.public_key, 1500)
    await bob.ok(frames.Sub(bob.client_id, NAME).encode())
    live = asyncio.create_task(_publish_many(alice, bob.public_key, 200))
    got = [(await bob.record()).idem for _ in range(1700)]
    more = await live
    assert got == sent + more
    await bob.no_record(0.2)


@pytest.mark.window(WIDE)
async def test_pause_during_backlog_then_continue_loses_nothing(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await _publish_many(alice, bob.public_key, 1200)
    await bob.send(frames.Sub(bob.client_id, NAME).encode())
    await bob.send(frames.Pause(bob.client_id, NAME, "").encode())
    assert (await bob.reply()).startswith("+PASS") and (await bob.reply()).startswith("+PASS")
    first = []
    while True:
        try:
            first.append((await bob.record(0.3)).idem)
        except TimeoutError:
            break
    await bob.ok(frames.Continue(bob.client_id, NAME).encode())
    rest = [(await bob.record()).idem for _ in range(len(sent) - len(first))]
    assert first + rest == sent
    await bob.no_record(0.2)


@pytest.mark.window(WIDE)
async def test_acks_pipelined_with_delivery(connect: Connect, ids, engine: EngineServer) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, NAME).encode())
    sent = await _publish_many(alice, bob.public_key, 300)
    records = [await bob.record() for _ in sent]
    acks = [frames.Ack(bob.client_id, r.idem, str(r.block), NAME).encode() for r in records]
    await send_frames(bob.ws, acks)
    replies = [await bob.reply() for _ in acks]
    assert all(r.startswith("+PASS:{acked=") for r in replies)
    assert {engine.store.delivery_state(i, bob.public_key) for i in sent} == {"acked"}


async def test_storage_failure_refuses_the_batch_and_keeps_serving(
    connect: Connect, ids, engine: EngineServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, NAME).encode())
    before = engine.store.count()
    original = engine.store.insert

    def broken(rows):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(engine.store, "insert", broken)
    reply = await alice.pub("orders/created", bob.public_key)
    assert reply == "-FAIL:storage error: disk I/O error"
    await bob.no_record(0.2)  # never delivered what was not stored
    monkeypatch.setattr(engine.store, "insert", original)
    assert engine.store.count() == before
    ok = await alice.pub_ok("orders/created", bob.public_key)
    assert (await bob.record()).idem == ok["idem"]


async def test_tls(tmp_path: Path, ids) -> None:
    cert, key = self_signed(tmp_path)
    async with EngineServer(engine_config(ids, tls_cert=cert, tls_key=key)) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        context = ssl.create_default_context(cafile=cert)
        async with ws_connect(server.url + "/message", ssl=context) as ws:
            await ws.send(frames.Conn(ids["alice"].access_key).encode())
            assert (await ws.recv()).startswith("+PASS:{clientId=")


@pytest.mark.window(WIDE)
async def test_slow_reader_falls_back_to_the_store_and_keeps_order(
    connect: Connect, ids, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ensync_tui.engine import delivery

    monkeypatch.setattr(delivery, "LIVE_LIMIT", 5)
    monkeypatch.setattr(delivery, "SINK_HIGH_WATER", 3)
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, NAME).encode())
    sent = []
    for _ in range(4):
        sent += await _publish_many(alice, bob.public_key, 60)
    got = [(await bob.record()).idem for _ in sent]
    assert got == sent
    await bob.no_record(0.2)
