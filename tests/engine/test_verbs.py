"""Every verb over a real socket, on the happy path."""

from __future__ import annotations

import asyncio

from ensync_tui.engine import EngineServer
from ensync_tui.protocol import frames, replies
from ensync_tui.protocol.crypto import decrypt_payload

from .conftest import Connect


async def test_conn_gives_stable_client_id_and_public_key(connect: Connect, ids) -> None:
    a1 = await connect(ids["alice"])
    a2 = await connect(ids["alice"])
    b = await connect(ids["bob"])
    assert a1.public_key == ids["alice"].public_key
    assert a1.client_id == a2.client_id
    assert a1.client_id != b.client_id
    assert ids["alice"].access_key not in a1.client_id


async def test_pub_stores_and_delivers_live(connect: Connect, ids, engine: EngineServer) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    fields = await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    assert set(fields) == {"idem", "block"}
    record = await bob.record()
    assert record.idem == fields["idem"]
    assert record.block == int(fields["block"])
    assert record.name == "orders/created"
    assert record.sender == alice.public_key
    assert record.metadata == {"persist": True, "headers": {}}
    assert decrypt_payload(record.payload, ids["bob"].secret_key) == {"n": 1}
    assert engine.store.delivery_state(fields["idem"], bob.public_key) == "pending"


async def test_blocks_increase_per_name_and_idems_are_unique(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    created = [await alice.pub_ok("orders/created", bob.public_key, {"n": i}) for i in range(3)]
    other = await alice.pub_ok("billing/invoice", bob.public_key, {"n": 9})
    blocks = [int(f["block"]) for f in created]
    assert blocks == sorted(blocks) and len(set(blocks)) == 3
    assert int(other["block"]) == 1
    assert len({f["idem"] for f in [*created, other]}) == 4


async def test_sub_delivers_backlog_oldest_first_then_live(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = [
        (await alice.pub_ok("orders/created", bob.public_key, {"n": i}))["idem"] for i in range(5)
    ]
    await alice.pub_ok("billing/invoice", bob.public_key, {"other": True})
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    got = [r.idem for r in await bob.take(5)]
    assert got == sent
    live = await alice.pub_ok("orders/created", bob.public_key, {"n": 5})
    assert (await bob.record()).idem == live["idem"]
    await bob.no_record()


async def test_only_the_recipient_receives(connect: Connect, ids) -> None:
    alice, bob, carol = [await connect(ids[n]) for n in ("alice", "bob", "carol")]
    for c in (bob, carol):
        await c.ok(frames.Sub(c.client_id, "orders/created").encode())
    await alice.pub_ok("orders/created", carol.public_key, {"for": "carol"})
    assert decrypt_payload((await carol.record()).payload, ids["carol"].secret_key) == {
        "for": "carol"
    }
    await bob.no_record()


async def test_ack_marks_done_and_it_is_not_redelivered(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    first = await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    second = await alice.pub_ok("orders/created", bob.public_key, {"n": 2})
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    r1 = await bob.record()
    await bob.no_record()  # one at a time: the second waits for an answer to the first
    await bob.ack(r1)
    r2 = await bob.record()
    assert engine.store.delivery_state(first["idem"], bob.public_key) == "acked"
    assert engine.store.delivery_state(second["idem"], bob.public_key) == "pending"
    assert r2.idem == second["idem"] and r2.metadata == {"persist": True, "headers": {}}
    await bob.close()
    bob2 = await connect(ids["bob"])
    await bob2.ok(frames.Sub(bob2.client_id, "orders/created").encode())
    again = await bob2.record()
    assert again.idem == r2.idem  # unacked: delivered again after reconnect, and marked
    assert again.metadata == {
        "persist": True,
        "headers": {},
        "redelivered": True,
        "deliveryCount": 2,
    }
    await bob2.no_record()


async def test_unacked_inflight_message_is_redelivered_after_drop(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    sent = await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    assert (await bob.record()).idem == sent["idem"]
    bob.ws.transport.abort()  # drop without a close handshake
    bob2 = await connect(ids["bob"])
    await bob2.ok(frames.Sub(bob2.client_id, "orders/created").encode())
    assert (await bob2.record()).idem == sent["idem"]


async def test_unsub_stops_live_delivery(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    await bob.ok(frames.Unsub(bob.client_id, "orders/created").encode())
    await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    await bob.no_record()


async def test_pause_holds_messages_and_continue_delivers_in_order(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    await bob.ok(frames.Pause(bob.client_id, "orders/created", "maintenance").encode())
    sent = [
        (await alice.pub_ok("orders/created", bob.public_key, {"n": i}))["idem"] for i in range(4)
    ]
    await bob.no_record()
    await bob.ok(frames.Continue(bob.client_id, "orders/created").encode())
    assert [r.idem for r in await bob.take(4)] == sent
    live = await alice.pub_ok("orders/created", bob.public_key, {"n": 9})
    assert (await bob.record()).idem == live["idem"]
    await bob.no_record()


async def test_discard_keeps_reason(connect: Connect, ids, engine: EngineServer) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    await bob.ok(
        frames.Discard(bob.client_id, sent["idem"], "orders/created", "bad order").encode()
    )
    assert engine.store.delivery_state(sent["idem"], bob.public_key) == "discarded"
    stored = engine.store.get(sent["idem"])
    assert stored is not None and stored.reason == "bad order"
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    await bob.no_record()


async def test_defer_hides_then_redelivers(connect: Connect, ids, engine: EngineServer) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    sent = await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    record = await bob.record()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await bob.ok(frames.Defer(bob.client_id, record.idem, record.name, 1000, "later").encode())
    assert engine.store.delivery_state(sent["idem"], bob.public_key) == "deferred"
    again = await bob.record(timeout=5)
    assert again.idem == sent["idem"]
    assert loop.time() - start >= 0.9
    assert engine.store.delivery_state(sent["idem"], bob.public_key) == "pending"


async def test_rollback_makes_acked_pending_and_delivers_again(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
    await alice.pub_ok("orders/created", bob.public_key, {"n": 1})
    r = await bob.record()
    await bob.ok(frames.Ack(bob.client_id, r.idem, str(r.block), r.name).encode())
    await bob.ok(frames.Rollback(bob.client_id, r.idem, str(r.block)).encode())
    assert engine.store.delivery_state(r.idem, bob.public_key) == "pending"
    assert (await bob.record()).idem == r.idem


async def test_replay_by_sender_and_recipient_whatever_state(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await alice.pub_ok("orders/created", bob.public_key, {"n": 7})
    await bob.ok(frames.Ack(bob.client_id, sent["idem"], sent["block"], "orders/created").encode())
    for who, key in ((bob, ids["bob"].secret_key), (alice, None)):
        reply = await who.request(
            frames.Replay(who.client_id, sent["idem"], "orders/created").encode()
        )
        frame = replies.parse_server_frame(reply)
        assert isinstance(frame, replies.ReplayReply), reply
        assert frame.record.idem == sent["idem"]
        assert frame.record.sender == alice.public_key
        if key:
            assert decrypt_payload(frame.record.payload, key) == {"n": 7}


async def test_ping_is_sent_and_pong_keeps_connection(ids, engine_factory) -> None:
    server, connect_to = engine_factory
    assert server.cfg.ping_interval == 0.1
    alice = await connect_to(ids["alice"])
    for _ in range(100):  # well past two intervals: a silent client would be gone
        if alice.pings >= 4:
            break
        await asyncio.sleep(0.05)
    assert alice.pings >= 4
    await alice.pub_ok("orders/created", ids["bob"].public_key, {"still": "here"})


async def test_client_missing_two_pings_is_dropped(ids, engine_factory) -> None:
    _, connect_to = engine_factory
    silent = await connect_to(ids["alice"], answer_pings=False)
    await asyncio.wait_for(silent.ws.wait_closed(), 5)
    assert silent.pings == 2
    assert silent.ws.close_code == 1008
    assert "PING" in (silent.ws.close_reason or "")


async def test_pipelined_requests_get_replies_in_order(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    texts = []
    for i in range(200):
        if i % 7 == 3:
            texts.append(
                frames.Pub(alice.client_id, "nope/unknown", "e30=", bob.public_key, {}).encode()
            )
        elif i % 11 == 5:
            texts.append("BOGUS;X=:1")
        else:
            texts.append(
                frames.Pub(alice.client_id, "orders/created", "e30=", bob.public_key, {}).encode()
            )
    for f in texts:
        await alice.send(f)
    answers = [await alice.reply() for _ in texts]
    for f, r in zip(texts, answers, strict=True):
        if "nope/unknown" in f:
            assert r == "-FAIL:unknown message name 'nope/unknown'"
        elif f.startswith("BOGUS"):
            assert r.startswith("-FAIL:unknown verb"), r
        else:
            assert r.startswith("+PASS:{idem="), r
    blocks = [int(replies.parse_kv(r[6:])["block"]) for r in answers if r.startswith("+PASS")]
    assert blocks == sorted(blocks)


async def test_pause_lasts_while_the_client_is_connected(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice = await connect(ids["alice"])
    bob1, bob2 = await connect(ids["bob"]), await connect(ids["bob"])
    await bob1.ok(frames.Pause(bob1.client_id, "orders/created", "").encode())
    await bob1.close()
    await bob2.ok(frames.Sub(bob2.client_id, "orders/created").encode())
    sent = await alice.pub_ok("orders/created", bob2.public_key, {"n": 1})
    await bob2.no_record()  # still paused: bob has a live connection
    await bob2.close()
    assert engine.broker is not None
    for _ in range(200):  # the engine notices the close a moment later
        if ids["bob"].public_key not in engine.broker._connected:
            break
        await asyncio.sleep(0.01)
    bob3 = await connect(ids["bob"])  # bob's last connection ended: the pause ended too
    await bob3.ok(frames.Sub(bob3.client_id, "orders/created").encode())
    assert (await bob3.record()).idem == sent["idem"]
