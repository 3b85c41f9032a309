"""The official Python SDK (ensync-sdk-ws 0.4.3) as a peer of the engine.

That SDK's known bugs are worked around as the protocol notes describe: its
decorator never sends SUB (we await ``_subscribe_internal``), it cannot open
its own hybrid envelopes (we open them with our crypto), and its defer and
discard raise after the engine has answered (we check the engine's state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ensync_tui.engine import EngineServer
from ensync_tui.engine.sandbox import Identity
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.crypto import decrypt_payload, encrypt_payload, payload_metadata

from .conftest import TIMEOUT, Connect, engine_config

sdk = pytest.importorskip("ensync_sdk_ws")
from ensync_core import EnSyncError  # noqa: E402

NAME = "orders/created"
SdkConnect = Callable[[Identity], Awaitable[Any]]


@pytest.fixture
async def sdk_connect(engine: EngineServer) -> AsyncIterator[SdkConnect]:
    clients: list[Any] = []

    async def _connect(who: Identity) -> Any:
        engine_ = sdk.EnSyncEngine(engine.url, {"maxReconnectAttempts": 0})
        client = await engine_.create_client(who.access_key, {"appSecretKey": who.secret_key})
        clients.append(client)
        return client

    yield _connect
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


async def sdk_subscribe(client: Any, name: str) -> asyncio.Queue[dict[str, Any]]:
    """Subscribe through the SDK without auto-ack; received messages land in a queue."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(message: dict[str, Any]) -> None:
        inbox.put_nowait(message)

    client._on(name, handler, None, False)
    await client._subscribe_internal(name, {"autoAck": False})
    return inbox


async def next_message(inbox: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(inbox.get(), TIMEOUT)


async def test_sdk_connects_and_gets_its_identity(sdk_connect: SdkConnect, ids) -> None:
    client = await sdk_connect(ids["alice"])
    assert client.get_client_public_key() == ids["alice"].public_key


async def test_sdk_publish_to_one_is_received_and_decrypted_by_sdk(
    sdk_connect: SdkConnect, ids, engine: EngineServer
) -> None:
    alice, bob = await sdk_connect(ids["alice"]), await sdk_connect(ids["bob"])
    inbox = await sdk_subscribe(bob, NAME)
    response = await alice.publish(NAME, [ids["bob"].public_key], {"order": 1})
    fields = replies.parse_kv(response.removeprefix("+PASS:"))
    message = await next_message(inbox)
    assert message["payload"] == {"order": 1}
    assert message["idem"] == fields["idem"]
    assert message["sender"] == ids["alice"].public_key
    assert message["messageName"] == NAME
    await bob._ack(message["idem"], message["block"], NAME)
    assert engine.store.delivery_state(message["idem"], ids["bob"].public_key) == "acked"


async def test_our_direct_record_is_decrypted_by_sdk(
    sdk_connect: SdkConnect, connect: Connect, ids
) -> None:
    bob = await sdk_connect(ids["bob"])
    inbox = await sdk_subscribe(bob, NAME)
    alice = await connect(ids["alice"])
    await alice.pub_ok(NAME, ids["bob"].public_key, {"from": "ensync-tui", "n": 2})
    assert (await next_message(inbox))["payload"] == {"from": "ensync-tui", "n": 2}


async def test_sdk_publish_to_several_recipients(
    sdk_connect: SdkConnect, connect: Connect, ids
) -> None:
    alice = await sdk_connect(ids["alice"])
    bob, carol = await connect(ids["bob"]), await connect(ids["carol"])
    for c in (bob, carol):
        await c.ok(frames.Sub(c.client_id, NAME).encode())
    keys = [ids["bob"].public_key, ids["carol"].public_key]
    response = await alice.publish(NAME, keys, {"to": "both"})
    idems = [replies.parse_kv(p.rstrip(","))["idem"] for p in response.split("+PASS:") if p]
    assert len(set(idems)) == 2
    for c, who in ((bob, "bob"), (carol, "carol")):
        record = await c.record()
        assert record.idem in idems
        # the SDK writes hybrid envelopes it cannot open itself; ours can
        assert decrypt_payload(record.payload, ids[who].secret_key) == {"to": "both"}


async def test_sdk_pause_continue_replay_unsubscribe(
    sdk_connect: SdkConnect, connect: Connect, ids
) -> None:
    bob = await sdk_connect(ids["bob"])
    inbox = await sdk_subscribe(bob, NAME)
    alice = await connect(ids["alice"])
    paused = await bob._pause_processing(NAME, "maintenance")
    assert paused["action"] == "paused"
    sent = [(await alice.pub_ok(NAME, ids["bob"].public_key, {"n": i}))["idem"] for i in range(3)]
    await asyncio.sleep(0.2)
    assert inbox.empty()
    assert (await bob._continue_processing(NAME))["action"] == "continued"
    got = []
    for _ in sent:  # one at a time: the next comes once this one is acked
        got.append(await next_message(inbox))
        await asyncio.sleep(0.2)
        assert inbox.empty()
        await bob._ack(got[-1]["idem"], got[-1]["block"], NAME)
    assert [m["idem"] for m in got] == sent
    assert [m["payload"] for m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
    replayed = await bob._replay(sent[1], NAME)
    assert replayed["idem"] == sent[1] and replayed["payload"] == {"n": 1}
    await bob._unsubscribe(NAME)
    await alice.pub_ok(NAME, ids["bob"].public_key, {"n": 9})
    await asyncio.sleep(0.2)
    assert inbox.empty()


async def test_sdk_defer_and_discard_reach_the_engine(
    sdk_connect: SdkConnect, connect: Connect, ids, engine: EngineServer
) -> None:
    bob = await sdk_connect(ids["bob"])
    inbox = await sdk_subscribe(bob, NAME)
    alice = await connect(ids["alice"])
    first = (await alice.pub_ok(NAME, ids["bob"].public_key, {"n": 1}))["idem"]
    second = (await alice.pub_ok(NAME, ids["bob"].public_key, {"n": 2}))["idem"]
    assert (await next_message(inbox))["idem"] == first
    # the SDK raises after a successful answer (it calls asyncio.get_message_loop)
    with pytest.raises(EnSyncError):
        await bob._defer_message(first, NAME, 1000, "later")
    assert (await next_message(inbox))["idem"] == second  # the deferral made room
    with pytest.raises(EnSyncError):
        await bob._discard_message(second, NAME, "bad")
    assert engine.store.delivery_state(first, ids["bob"].public_key) == "deferred"
    assert engine.store.delivery_state(second, ids["bob"].public_key) == "discarded"
    again = await next_message(inbox)  # the deferred one comes back after 1 s
    assert again["idem"] == first and again["payload"] == {"n": 1}


async def test_sdk_sees_failures(sdk_connect: SdkConnect, ids, engine: EngineServer) -> None:
    with pytest.raises(EnSyncError, match="invalid access key"):
        await sdk.EnSyncEngine(engine.url, {"maxReconnectAttempts": 0}).create_client("not-a-key")
    limited = await sdk_connect(ids["limited"])
    alice = await sdk_connect(ids["alice"])
    bob_key = ids["bob"].public_key
    with pytest.raises(
        EnSyncError, match="client 'limited' is not allowed to send 'billing/invoice'"
    ):
        await limited.publish("billing/invoice", [bob_key], {"x": 1})
    with pytest.raises(EnSyncError, match="not allowed to receive 'orders/created'"):
        await limited._subscribe_internal(NAME, {"autoAck": False})
    with pytest.raises(EnSyncError, match="unknown message name 'no/such'"):
        await alice.publish("no/such", [bob_key], {"x": 1})
    # the SDK sends no PAYLOAD_METADATA, so a schema name is accepted unchecked ...
    assert (await alice.publish("orders/status", [bob_key], {"any": "thing"})).startswith("+PASS:")
    # ... and a frame that carries one is checked, on the SDK's own connection
    payload = {"order_id": 5, "status": "new", "qty": 1}
    frame = frames.Pub(
        alice._EnSyncEngine__config["clientId"],
        "orders/status",
        encrypt_payload(payload, [bob_key]),
        bob_key,
        {"persist": True, "headers": {}},
        payload_metadata(payload),
    ).encode()
    with pytest.raises(EnSyncError, match="field 'order_id' expected string got integer"):
        await alice._send_message(frame)
    # still connected and usable
    assert (await alice.publish(NAME, [bob_key], {"ok": True})).startswith("+PASS:")


async def test_sdk_answers_pings(ids) -> None:
    async with EngineServer(engine_config(ids, ping_interval=0.1)) as server:
        client = await sdk.EnSyncEngine(server.url, {"maxReconnectAttempts": 0}).create_client(
            ids["alice"].access_key, {"appSecretKey": ids["alice"].secret_key}
        )
        try:
            await asyncio.sleep(0.6)  # six PINGs: a silent client is dropped after two
            response = await client.publish(NAME, [ids["bob"].public_key], {"alive": True})
            assert response.startswith("+PASS:")
        finally:
            await client.close()


def test_sdk_metadata_is_plain_json_dumps() -> None:
    # what the SDK puts in METADATA: json.dumps with default separators
    assert json.dumps({"persist": True}) == '{"persist": true}'


async def test_sdk_gets_a_whole_backlog_20_times_out_of_20(
    sdk_connect: SdkConnect, connect: Connect, ids, engine: EngineServer
) -> None:
    # the SDK's own order: SUB, and once it is answered, the handler. What
    # comes before the handler is dropped unacked: the engine's grace after
    # SUB is what makes this pass.
    assert engine.cfg.sub_grace > 0 and engine.cfg.max_in_flight == 1
    alice = await connect(ids["alice"])
    for round_ in range(20):
        sent = [
            (await alice.pub_ok(NAME, ids["bob"].public_key, {"round": round_, "n": i}))["idem"]
            for i in range(5)
        ]
        bob = await sdk_connect(ids["bob"])
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        subscription = await bob._subscribe_internal(NAME, {"autoAck": False})

        async def handler(message: dict[str, Any], inbox: Any = inbox) -> None:
            inbox.put_nowait(message)

        subscription.on(handler)
        got = []
        for _ in sent:
            message = await asyncio.wait_for(inbox.get(), 5)
            got.append(message["idem"])
            await subscription.ack(message["idem"], message["block"])
        assert got == sent, f"round {round_}"
        await bob.close()
