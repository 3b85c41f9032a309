"""Every refusal: a -FAIL that says what is wrong, and the connection stays usable."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from ensync_tui.engine import EngineServer
from ensync_tui.protocol import frames
from ensync_tui.protocol.crypto import encrypt_payload, payload_metadata

from .conftest import Connect

B64 = "e30="  # base64 of "{}"


async def test_nothing_works_before_conn_and_wrong_key_fails(connect: Connect, ids) -> None:
    c = await connect()
    pub = frames.Pub("x", "orders/created", B64, ids["bob"].public_key, {}).encode()
    assert (
        await c.request(pub) == "-FAIL:not authenticated: send CONN with a valid access key first"
    )
    assert await c.request(frames.Conn("wrong-key").encode()) == "-FAIL:invalid access key"
    assert (await c.request(frames.Sub("x", "orders/created").encode())).startswith(
        "-FAIL:not authenticated"
    )
    fields = await c.ok(frames.Conn(ids["alice"].access_key).encode())
    c.client_id = fields["clientId"]
    await c.pub_ok("orders/created", ids["bob"].public_key)


async def test_wrong_client_id(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    reply = await alice.request(frames.Sub("someone-else", "orders/created").encode())
    assert (
        reply == "-FAIL:CLIENT_ID is not this connection's client (use the clientId CONN answered)"
    )
    await alice.ok(frames.Sub(alice.client_id, "orders/created").encode())


async def test_unknown_message_name(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    assert await alice.pub("orders/unknown", ids["bob"].public_key) == (
        "-FAIL:unknown message name 'orders/unknown'"
    )
    for frame in (
        frames.Sub(alice.client_id, "x/y").encode(),
        frames.Pause(alice.client_id, "x/y", "").encode(),
        frames.Continue(alice.client_id, "x/y").encode(),
    ):
        assert await alice.request(frame) == "-FAIL:unknown message name 'x/y'"


async def test_send_and_receive_permissions(connect: Connect, ids) -> None:
    limited, alice = await connect(ids["limited"]), await connect(ids["alice"])
    assert await limited.pub("billing/invoice", alice.public_key) == (
        "-FAIL:client 'limited' is not allowed to send 'billing/invoice'"
    )
    await limited.pub_ok("orders/created", alice.public_key)
    assert await limited.request(frames.Sub(limited.client_id, "orders/created").encode()) == (
        "-FAIL:client 'limited' is not allowed to receive 'orders/created'"
    )
    await limited.ok(frames.Sub(limited.client_id, "billing/invoice").encode())
    assert await alice.pub("orders/created", limited.public_key) == (
        "-FAIL:recipient 'limited' is not allowed to receive 'orders/created'"
    )


async def test_bad_recipients(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    reply = await alice.request(
        frames.Pub(alice.client_id, "orders/created", B64, "nope", {}).encode()
    )
    assert reply == "-FAIL:DELIVERY_TO 'nope' is not a 32-byte base64 public key"
    stranger = "A" * 43 + "="
    reply = await alice.request(
        frames.Pub(alice.client_id, "orders/created", B64, stranger, {}).encode()
    )
    assert reply.startswith("-FAIL:unknown recipient AAAA"), reply


async def test_schema_checks(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), ids["bob"].public_key
    good = {"order_id": "A1", "status": "new", "qty": 3}
    await alice.pub_ok("orders/status", bob, good)
    await alice.pub_ok("orders/status", bob, {**good, "qty": 2**40})
    assert await alice.pub("orders/status", bob, {**good, "order_id": 7}) == (
        "-FAIL:schema mismatch: field 'order_id' expected string got integer"
    )
    assert await alice.pub("orders/status", bob, {"order_id": "A", "qty": 1}) == (
        "-FAIL:schema mismatch: field 'status' is missing"
    )
    assert await alice.pub("orders/status", bob, {**good, "extra": True}) == (
        "-FAIL:schema mismatch: unexpected field 'extra'"
    )
    # without PAYLOAD_METADATA (as the official Python SDK sends) nothing can be checked
    await alice.pub_ok("orders/status", bob, {"anything": 1}, with_pm=False)


async def test_payload_and_frame_limits(ids) -> None:
    from .conftest import RawClient, engine_config

    cfg = engine_config(ids, max_frame=300_000, max_payload=200_000)
    async with EngineServer(cfg) as server:
        ws = await ws_connect(server.url + "/message", max_size=None)
        c = RawClient(ws)
        c.client_id = (await c.ok(frames.Conn(ids["alice"].access_key).encode()))["clientId"]
        bob = ids["bob"].public_key
        big = "A" * 200_004
        reply = await c.request(frames.Pub(c.client_id, "orders/created", big, bob, {}).encode())
        assert reply == "-FAIL:payload is 200004 bytes, over the 200000-byte limit"
        pm = {"byte_size": 250_000, "skeleton": {}}
        reply = await c.request(
            frames.Pub(c.client_id, "orders/created", B64, bob, {}, pm).encode()
        )
        assert reply == "-FAIL:payload is 250000 bytes, over the 200000-byte limit"
        huge = "A" * 400_000
        frame = frames.Pub(c.client_id, "orders/created", huge, bob, {}).encode()
        reply = await c.request(frame)
        assert reply == f"-FAIL:frame is {len(frame)} bytes, over the 300000-byte limit"
        await c.pub_ok("orders/created", bob, {"after": "limits"})
        await c.close()


async def test_default_limits_are_4_and_6_mib(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), ids["bob"].public_key
    big = "A" * (4 * 1024 * 1024 + 4)
    reply = await alice.request(
        frames.Pub(alice.client_id, "orders/created", big, bob, {}).encode()
    )
    assert reply == f"-FAIL:payload is {len(big)} bytes, over the 4194304-byte limit"
    frame = "PUB;" + "x" * (6 * 1024 * 1024)
    assert (await alice.request(frame)).startswith("-FAIL:frame is 6291460 bytes, over the")
    await alice.pub_ok("orders/created", bob)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("", "empty frame"),
        ("HELLO", "unknown verb 'HELLO'"),
        ("PUB;CLIENT_ID=:x", "PUB: expected field EVENT_NAME at position 16"),
        ("SUB;EVENT_NAME=:a", "SUB: expected field CLIENT_ID at position 3"),
    ],
)
async def test_malformed_frames(connect: Connect, ids, frame: str, reason: str) -> None:
    alice = await connect(ids["alice"])
    assert await alice.request(frame) == "-FAIL:" + reason
    await alice.pub_ok("orders/created", ids["bob"].public_key)


async def test_malformed_values(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), ids["bob"].public_key
    cid = alice.client_id
    base = f"PUB;CLIENT_ID=:{cid};EVENT_NAME=:orders/created;PAYLOAD=:{B64};DELIVERY_TO=:{bob}"
    reply = await alice.request(base + ";METADATA=:{not json")
    assert reply.startswith("-FAIL:METADATA is not valid JSON"), reply
    reply = await alice.request(base + ";METADATA=:[1]")
    assert reply == "-FAIL:METADATA must be a JSON object, got list"
    reply = await alice.request(
        f"PUB;CLIENT_ID=:{cid};EVENT_NAME=:orders/created;PAYLOAD=:not base64!;"
        f"DELIVERY_TO=:{bob};METADATA=:{{}}"
    )
    assert reply == "-FAIL:PAYLOAD is not base64"
    reply = await alice.request(
        f"DEFER;CLIENT_ID=:{cid};EVENT_IDEM=:x;EVENT_NAME=:orders/created;DELAY=:soon;REASON=:"
    )
    assert reply == "-FAIL:DEFER: DELAY must be whole milliseconds, got 'soon'"
    await alice.send(b"binary")
    assert await alice.reply() == "-FAIL:binary frames are not supported; send text frames"
    await alice.pub_ok("orders/created", bob)


async def test_message_operations_refused(connect: Connect, ids) -> None:
    alice, bob, carol = [await connect(ids[n]) for n in ("alice", "bob", "carol")]
    sent = await alice.pub_ok("orders/created", bob.public_key)
    idem, block = sent["idem"], sent["block"]
    cid = bob.client_id
    name = "orders/created"

    async def fails(c, frame: str, reason: str) -> None:
        assert await c.request(frame) == "-FAIL:" + reason

    await fails(
        bob, frames.Ack(cid, "nope", "1", name).encode(), "no message 'nope' for this client"
    )
    await fails(
        carol,
        frames.Ack(carol.client_id, idem, block, name).encode(),
        f"no message '{idem}' for this client",
    )
    await fails(
        bob,
        frames.Ack(cid, idem, "999", name).encode(),
        f"BLOCK 999 does not match message '{idem}' (block {block})",
    )
    await fails(
        bob, frames.Ack(cid, idem, "x", name).encode(), "BLOCK must be a whole number, got 'x'"
    )
    await fails(
        bob,
        frames.Ack(cid, idem, block, "billing/invoice").encode(),
        f"message '{idem}' is 'orders/created', not 'billing/invoice'",
    )
    for delay in (999, 86_400_001):
        await fails(
            bob,
            frames.Defer(cid, idem, name, delay, "").encode(),
            f"DELAY must be 1000 ms to 24 h (86400000 ms), got {delay}",
        )
    await bob.ok(frames.Ack(cid, idem, block, name).encode())
    await bob.ok(frames.Ack(cid, idem, block, name).encode())  # acking twice is harmless
    await fails(
        bob,
        frames.Defer(cid, idem, name, 1000, "").encode(),
        f"message '{idem}' is already acknowledged",
    )
    await fails(
        bob,
        frames.Discard(cid, idem, name, "").encode(),
        f"message '{idem}' is already acknowledged",
    )
    await fails(bob, frames.Unsub(cid, name).encode(), "not subscribed to 'orders/created'")


async def test_replay_refused(connect: Connect, ids) -> None:
    alice, bob, carol = [await connect(ids[n]) for n in ("alice", "bob", "carol")]
    sent = await alice.pub_ok("orders/created", bob.public_key)
    name = "orders/created"
    reply = await carol.request(frames.Replay(carol.client_id, sent["idem"], name).encode())
    assert reply == f"-FAIL:no message '{sent['idem']}' sent or received by this client"
    reply = await bob.request(frames.Replay(bob.client_id, "missing", name).encode())
    assert reply == "-FAIL:no message 'missing' sent or received by this client"
    transient = await alice.pub_ok(name, bob.public_key, metadata={"persist": False, "headers": {}})
    reply = await bob.request(frames.Replay(bob.client_id, transient["idem"], name).encode())
    assert reply == f"-FAIL:message '{transient['idem']}' was published with persist=false"


async def test_other_path_is_refused(engine: EngineServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        await ws_connect(engine.url + "/other")
    assert info.value.response.status_code == 404


async def test_garbage_from_one_client_does_not_disturb_another(connect: Connect, ids) -> None:
    alice, bob, mallory = await connect(ids["alice"]), await connect(ids["bob"]), await connect()
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())

    async def spam() -> None:
        for i in range(200):
            await mallory.send(["", "PUB", "CONN;ACCESS_KEY=:x", "\x00" * 50, "SUB;;;"][i % 5])

    async def work() -> list[str]:
        return [
            (await alice.pub_ok("orders/created", bob.public_key, {"n": i}))["idem"]
            for i in range(20)
        ]

    _, sent = await asyncio.gather(spam(), work())
    assert [r.idem for r in await bob.take(len(sent))] == sent
    replies = [await mallory.reply() for _ in range(200)]
    assert all(r.startswith("-FAIL:") for r in replies)


async def test_pub_with_sdk_style_metadata_is_accepted(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    payload = encrypt_payload({"a": 1}, [bob.public_key])
    frame = (
        f"PUB;CLIENT_ID=:{alice.client_id};EVENT_NAME=:orders/status;PAYLOAD=:{payload};"
        f'DELIVERY_TO=:{bob.public_key};METADATA=:{{"persist": true, "headers": {{"k": "v"}}}}'
    )
    assert (await alice.request(frame)).startswith("+PASS:{idem=")
    await bob.ok(frames.Sub(bob.client_id, "orders/status").encode())
    assert (await bob.record()).metadata == {"persist": True, "headers": {"k": "v"}}
    assert payload_metadata({"a": 1})["byte_size"] == 7


async def test_unknown_message_for_every_message_verb(connect: Connect, ids) -> None:
    bob = await connect(ids["bob"])
    cid, name = bob.client_id, "orders/created"
    gone = "-FAIL:no message 'gone' for this client"
    assert await bob.request(frames.Rollback(cid, "gone", "1").encode()) == gone
    assert await bob.request(frames.Discard(cid, "gone", name, "r").encode()) == gone
    assert await bob.request(frames.Defer(cid, "gone", name, 5000, "r").encode()) == gone
    assert await bob.request(frames.Ack(cid, "", "1", name).encode()) == "-FAIL:EVENT_IDEM is empty"
    assert await bob.request(frames.Replay(cid, "", name).encode()) == "-FAIL:EVENT_IDEM is empty"


async def test_receive_permission_for_pause_and_continue(connect: Connect, ids) -> None:
    limited = await connect(ids["limited"])
    for frame in (
        frames.Pause(limited.client_id, "orders/created", "").encode(),
        frames.Continue(limited.client_id, "orders/created").encode(),
    ):
        assert await limited.request(frame) == (
            "-FAIL:client 'limited' is not allowed to receive 'orders/created'"
        )
    await limited.ok(frames.Pause(limited.client_id, "billing/invoice", "").encode())


async def test_discarded_message_cannot_be_acked_but_can_be_rolled_back(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await alice.pub_ok("orders/created", bob.public_key)
    idem, block, cid = sent["idem"], sent["block"], bob.client_id
    await bob.ok(frames.Discard(cid, idem, "orders/created", "no").encode())
    assert await bob.request(frames.Ack(cid, idem, block, "orders/created").encode()) == (
        f"-FAIL:message '{idem}' was discarded"
    )
    await bob.ok(frames.Rollback(cid, idem, block).encode())
    assert engine.store.delivery_state(idem, bob.public_key) == "pending"


async def test_numbers_with_thousands_of_digits(connect: Connect, ids) -> None:
    bob = await connect(ids["bob"])
    cid, huge = bob.client_id, "9" * 5000
    reply = await bob.request(
        f"DEFER;CLIENT_ID=:{cid};EVENT_IDEM=:x;EVENT_NAME=:orders/created;DELAY=:{huge};REASON=:"
    )
    assert reply == "-FAIL:DEFER: DELAY is too large (5000 digits)"
    reply = await bob.request(frames.Ack(cid, "x", huge, "orders/created").encode())
    assert reply == "-FAIL:no message 'x' for this client"
    alice = await connect(ids["alice"])
    sent = await alice.pub_ok("orders/created", bob.public_key)
    reply = await bob.request(frames.Ack(cid, sent["idem"], huge, "orders/created").encode())
    assert reply.startswith("-FAIL:BLOCK must be a whole number")
    await bob.ok(frames.Ack(cid, sent["idem"], sent["block"], "orders/created").encode())
