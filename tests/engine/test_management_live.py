"""What the management API changes holds at once for WebSocket clients (connected
and new) and survives a restart; how engine.toml seeds the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect

from ensync_tui.engine import EngineServer, MessageSpec
from ensync_tui.engine.sandbox import Identity
from ensync_tui.engine.store import StoreError
from ensync_tui.protocol import frames
from ensync_tui.protocol.crypto import decrypt_payload
from tests.engine.api import ok
from tests.engine.conftest import TIMEOUT, Connect, RawClient, engine_config


def _identity(made: dict) -> Identity:
    """The identity a SERVICE key's creation answered."""
    pair = made["service_key_pair"]
    return Identity(made["name"], made["accessKey"], pair["public_key"], pair["private_key"])


async def _service(server: EngineServer, name: str, **permissions: list[str]) -> Identity:
    body = {"type": "SERVICE", "name": name, "permissions": permissions}
    return _identity(await ok(server, "POST", "/access-key", body))


async def test_a_new_service_key_connects_and_receives_at_once(engine, connect: Connect, ids):
    alice = await connect(ids["alice"])  # connected before the key exists
    new = await _service(engine, "shipping", send=["*"], receive=["orders/*"])
    client = await connect(new)
    assert client.public_key == new.public_key
    await client.ok(frames.Sub(client.client_id, "orders/created").encode())
    await alice.pub_ok("orders/created", new.public_key, {"order": 7})
    record = await client.record()
    assert decrypt_payload(record.payload, new.secret_key) == {"order": 7}
    await client.ack(record)


async def test_a_new_name_can_be_published_at_once(engine, connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    reply = await alice.pub("fresh/name", ids["bob"].public_key, {"a": 1})
    assert reply.startswith("-FAIL:") and "unknown message name" in reply
    await ok(engine, "POST", "/event", {"name": "fresh/name", "payload": {"a": "integer"}})
    await alice.pub_ok("fresh/name", ids["bob"].public_key, {"a": 1})
    wrong = await alice.pub("fresh/name", ids["bob"].public_key, {"a": "text"})
    assert "schema mismatch" in wrong


async def test_a_schema_and_a_name_change_hold_on_the_next_request(engine, connect: Connect, ids):
    alice = await connect(ids["alice"])
    to = ids["bob"].public_key
    await alice.pub_ok("orders/created", to, {"anything": True})
    page = await ok(engine, "GET", "/event/orders%2Fcreated")
    await ok(engine, "PUT", f"/event/{page['id']}", {"payload": {"order_id": "string"}})
    assert "schema mismatch" in await alice.pub("orders/created", to, {"anything": True})
    await alice.pub_ok("orders/created", to, {"order_id": "A1"})
    await ok(engine, "PUT", f"/event/{page['id']}", {"name": "orders/made"})
    assert "unknown message name" in await alice.pub("orders/created", to, {"order_id": "A"})
    await alice.pub_ok("orders/made", to, {"order_id": "A2"})


async def test_permission_changes_hold_on_the_next_request(engine, connect: Connect, ids):
    limited = await connect(ids["limited"])
    to = ids["alice"].public_key
    await limited.pub_ok("orders/created", to)
    assert "not allowed to receive" in await limited.request(
        frames.Sub(limited.client_id, "orders/created").encode()
    )
    key = ids["limited"].access_key
    new = {"send": ["billing/*"], "receive": ["orders/*"]}
    await ok(engine, "POST", f"/access-key/{key}/permissions", new)
    assert "not allowed to send" in await limited.pub("orders/created", to)
    await limited.ok(frames.Sub(limited.client_id, "orders/created").encode())
    # and others see the change too: alice may no longer deliver billing/* to it
    alice = await connect(ids["alice"])
    reply = await alice.pub("billing/invoice", ids["limited"].public_key)
    assert "not allowed to receive" in reply


async def test_deleting_a_key_drops_its_connections(engine, connect: Connect, ids) -> None:
    bob = await connect(ids["bob"])
    page = await ok(engine, "GET", "/access-key?name=bob")
    await ok(engine, "DELETE", f"/access-key/{page['results'][0]['id']}")
    await asyncio.wait_for(bob.ws.wait_closed(), TIMEOUT)
    assert bob.ws.close_code == 1008 and "deleted" in (bob.ws.close_reason or "")
    again = await connect()
    assert "invalid access key" in await again.request(frames.Conn(ids["bob"].access_key).encode())
    alice = await connect(ids["alice"])
    assert "unknown recipient" in await alice.pub("orders/created", ids["bob"].public_key)


async def test_rotating_a_key_pair_drops_and_readdresses(engine, connect: Connect, ids) -> None:
    carol = await connect(ids["carol"])
    key = ids["carol"].access_key
    pair = await ok(engine, "PUT", "/access/service-key-pair", {"access_key": key})
    await asyncio.wait_for(carol.ws.wait_closed(), TIMEOUT)
    assert "rotated" in (carol.ws.close_reason or "")
    new = Identity("carol", key, pair["public_key"], pair["private_key"])
    carol = await connect(new)
    assert carol.public_key == pair["public_key"]
    assert carol.client_id  # the same access key: the same client id
    alice = await connect(ids["alice"])
    assert "unknown recipient" in await alice.pub("orders/created", ids["carol"].public_key)
    await carol.ok(frames.Sub(carol.client_id, "orders/created").encode())
    await alice.pub_ok("orders/created", new.public_key, {"n": 1})
    record = await carol.record()
    assert decrypt_payload(record.payload, new.secret_key) == {"n": 1}


# ------------------------------------------------------------------ restarts


async def _conn(server: EngineServer, who: Identity) -> str:
    ws = RawClient(await ws_connect(server.url + "/message"))
    try:
        return await ws.request(frames.Conn(who.access_key).encode())
    finally:
        await ws.close()


async def test_what_the_api_made_survives_a_restart(ids, tmp_path: Path) -> None:
    db = str(tmp_path / "ensync.db")
    async with EngineServer(engine_config(ids, db=db)) as server:
        made = await _service(server, "survivor", send=["*"], receive=["*"])
        await ok(server, "POST", "/event", {"name": "kept/name", "payload": {"x": "string"}})
        await ok(server, "POST", f"/access-key/{ids['bob'].access_key}/permissions", {"send": []})
    async with EngineServer(engine_config(ids, db=db)) as server:
        assert (await _conn(server, made)).startswith("+PASS:")
        event = await ok(server, "GET", "/event/kept%2Fname")
        assert event["payload"] == {"x": "string"}
        bob = await ok(server, "GET", f"/access-key/{ids['bob'].access_key}/permissions")
        assert bob["permissions"] == {"send": [], "receive": []}


async def test_engine_toml_wins_only_for_what_changed_in_it(ids, tmp_path: Path) -> None:
    db = str(tmp_path / "ensync.db")
    async with EngineServer(engine_config(ids, db=db)) as server:
        created = await ok(server, "GET", "/event/orders%2Fcreated")
        await ok(server, "PUT", f"/event/{created['id']}", {"payload": {"api": "string"}})
        status = await ok(server, "GET", "/event/orders%2Fstatus")
        await ok(server, "PUT", f"/event/{status['id']}", {"payload": {"api": "string"}})
        carol = await ok(server, "GET", "/access-key?name=carol")
        await ok(server, "DELETE", f"/access-key/{carol['results'][0]['id']}")
    # the file changes orders/status and drops billing/invoice; the rest is as before
    cfg = engine_config(ids, db=db)
    cfg.messages = [
        MessageSpec("orders/created"),
        MessageSpec("orders/status", {"file": "string"}),
    ]
    async with EngineServer(cfg) as server:
        created = await ok(server, "GET", "/event/orders%2Fcreated")
        assert created["payload"] == {"api": "string"}  # unchanged in the file: the API's
        status = await ok(server, "GET", "/event/orders%2Fstatus")
        assert status["payload"] == {"file": "string"}  # edited in the file: the file's
        names = await ok(server, "GET", "/event")
        assert "billing/invoice" not in [e["name"] for e in names["results"]]
        assert "invalid access key" in await _conn(server, ids["carol"])  # stays deleted
        assert (await _conn(server, ids["alice"])).startswith("+PASS:")


async def test_a_file_entry_that_clashes_with_the_database_is_named(ids, tmp_path) -> None:
    db = str(tmp_path / "ensync.db")
    async with EngineServer(engine_config(ids, db=db)) as server:
        made = await _service(server, "api-made")
    cfg = engine_config(ids, db=db)
    cfg.clients[0].access_key = made.access_key
    with pytest.raises(StoreError) as refused:
        async with EngineServer(cfg):
            pass
    assert "'alice'" in str(refused.value) and "'api-made'" in str(refused.value)
    async with EngineServer(engine_config(ids, db=db)) as server:  # nothing was lost
        assert (await _conn(server, made)).startswith("+PASS:")
