"""Need-based push: at most ``max_in_flight`` records delivered and unanswered per
subscription, redelivery after ``ack_wait`` and after a reconnect, marked in the
record's metadata, and a grace after SUB before the first push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ensync_tui.engine import EngineServer
from ensync_tui.protocol import frames

from .conftest import Connect, RawClient, engine_config

NAME = "orders/created"
PLAIN = {"persist": True, "headers": {}}


def again(count: int) -> dict[str, Any]:
    """The metadata of a record delivered for the ``count``-th time."""
    return {**PLAIN, "redelivered": True, "deliveryCount": count}


class Clock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def published(alice: RawClient, to: str, count: int) -> list[str]:
    return [(await alice.pub_ok(NAME, to, {"n": i}))["idem"] for i in range(count)]


async def subscribed(client: RawClient, name: str = NAME) -> None:
    await client.ok(frames.Sub(client.client_id, name).encode())


async def test_one_record_at_a_time_until_each_is_answered(
    connect: Connect, ids, engine: EngineServer
) -> None:
    assert engine.cfg.max_in_flight == 1  # the default, as EnSync does
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await published(alice, bob.public_key, 4)
    await subscribed(bob)
    first = await bob.record()
    assert first.idem == sent[0] and first.metadata == PLAIN
    await bob.no_record()
    await bob.ack(first)
    second = await bob.record()
    assert second.idem == sent[1]
    await bob.no_record()
    await bob.ok(frames.Defer(bob.client_id, second.idem, NAME, 60_000, "later").encode())
    third = await bob.record()  # a deferral answers too
    assert third.idem == sent[2]
    await bob.no_record()
    await bob.ok(frames.Discard(bob.client_id, third.idem, NAME, "bad").encode())
    assert (await bob.record()).idem == sent[3]  # and so does a discard
    await bob.no_record()


async def test_live_records_wait_for_the_answer_too(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await subscribed(bob)
    await bob.no_record()  # past the grace: what comes now goes straight out
    sent = await published(alice, bob.public_key, 3)
    got = [await bob.record()]
    await bob.no_record()
    for _ in range(2):
        await bob.ack(got[-1])
        got.append(await bob.record())
        await bob.no_record()
    assert [r.idem for r in got] == sent


async def test_a_wider_window_holds_that_many(ids, connect: Connect) -> None:
    async with EngineServer(engine_config(ids, max_in_flight=3)) as server:
        alice = await connect(ids["alice"], server=server)
        bob = await connect(ids["bob"], server=server)
        sent = await published(alice, bob.public_key, 5)
        await subscribed(bob)
        window = [await bob.record() for _ in range(3)]
        assert [r.idem for r in window] == sent[:3]
        await bob.no_record()
        await bob.ack(window[1])
        assert (await bob.record()).idem == sent[3]
        await bob.no_record()
        await bob.ack(window[0])
        assert (await bob.record()).idem == sent[4]


async def test_connections_of_one_identity_compete_for_its_queue(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    bob1, bob2 = await connect(ids["bob"]), await connect(ids["bob"])
    sent = await published(alice, bob1.public_key, 4)
    await subscribed(bob1)
    await subscribed(bob2)
    a, b = await bob1.record(), await bob2.record()
    assert {a.idem, b.idem} == set(sent[:2])
    await bob1.no_record(0.2)
    await bob2.no_record(0.1)
    await bob2.ack(b)
    assert (await bob2.record()).idem == sent[2]
    await bob1.no_record(0.1)
    await bob1.ack(a)
    assert (await bob1.record()).idem == sent[3]


async def test_unsubscribing_hands_what_it_held_to_another_connection(
    connect: Connect, ids
) -> None:
    alice = await connect(ids["alice"])
    bob1, bob2 = await connect(ids["bob"]), await connect(ids["bob"])
    sent = await published(alice, bob1.public_key, 1)
    await subscribed(bob1)
    held = await bob1.record()
    await subscribed(bob2)
    await bob2.no_record()
    await bob1.ok(frames.Unsub(bob1.client_id, NAME).encode())
    handed = await bob2.record()
    assert handed.idem == held.idem == sent[0]
    assert handed.metadata == again(2)


async def test_a_reconnect_gets_the_unanswered_record_first_marked(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await published(alice, bob.public_key, 3)
    await subscribed(bob)
    assert (await bob.record()).idem == sent[0]
    bob.ws.transport.abort()
    bob2 = await connect(ids["bob"])
    await subscribed(bob2)
    first = await bob2.record()
    assert first.idem == sent[0] and first.metadata == again(2)
    await bob2.no_record()  # the rule holds on the new connection
    await bob2.ack(first)
    second = await bob2.record()
    assert second.idem == sent[1] and second.metadata == PLAIN


async def test_pause_and_continue_keep_the_window(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    await subscribed(bob)
    await bob.ok(frames.Pause(bob.client_id, NAME, "").encode())
    sent = await published(alice, bob.public_key, 3)
    await bob.no_record()
    await bob.ok(frames.Continue(bob.client_id, NAME).encode())
    first = await bob.record()
    await bob.no_record()
    # paused with one in flight: its ack goes through, nothing new comes
    await bob.ok(frames.Pause(bob.client_id, NAME, "").encode())
    await bob.ack(first)
    await bob.no_record()
    await bob.ok(frames.Continue(bob.client_id, NAME).encode())
    assert [first.idem] + [r.idem for r in await bob.take(2)] == sent


async def test_rollback_waits_for_room_and_comes_first(
    connect: Connect, ids, engine: EngineServer
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await published(alice, bob.public_key, 3)
    await subscribed(bob)
    done = (await bob.take(1))[0]
    in_flight = await bob.record()
    await bob.ok(frames.Rollback(bob.client_id, done.idem, str(done.block)).encode())
    assert engine.store.delivery_state(done.idem, bob.public_key) == "pending"
    await bob.no_record()  # the window is full
    await bob.ack(in_flight)
    back = await bob.record()
    assert back.idem == sent[0] and back.metadata["redelivered"] is True
    await bob.no_record()
    await bob.ack(back)
    assert (await bob.record()).idem == sent[2]


async def test_a_deferred_record_comes_back_marked_and_within_the_window(
    connect: Connect, ids
) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    sent = await published(alice, bob.public_key, 2)
    await subscribed(bob)
    first = await bob.record()
    await bob.ok(frames.Defer(bob.client_id, first.idem, NAME, 1000, "").encode())
    second = await bob.record()
    assert second.idem == sent[1]
    await bob.no_record(1.5)  # due by now, but the window is full
    await bob.ack(second)
    back = await bob.record()
    assert back.idem == sent[0] and back.metadata == again(2)


@pytest.fixture
async def clocked(ids) -> AsyncIterator[tuple[EngineServer, Clock]]:
    clock = Clock()
    async with EngineServer(engine_config(ids, clock=clock, ack_wait=30)) as server:
        yield server, clock


async def test_unanswered_for_ack_wait_goes_out_again(clocked, connect: Connect, ids) -> None:
    server, clock = clocked
    assert server.broker is not None
    alice = await connect(ids["alice"], server=server)
    bob = await connect(ids["bob"], server=server)
    sent = await published(alice, bob.public_key, 2)
    await subscribed(bob)
    first = await bob.record()
    clock.now += 29.5
    server.broker.wake_timers()
    await bob.no_record()
    clock.now += 1
    server.broker.wake_timers()
    repeat = await bob.record()
    assert repeat.idem == first.idem and repeat.metadata == again(2)
    await bob.no_record()  # the window still holds one: the second waits
    clock.now += 31
    server.broker.wake_timers()
    assert (await bob.record()).metadata == again(3)
    await bob.ack(repeat)
    second = await bob.record()
    assert second.idem == sent[1] and second.metadata == PLAIN


async def test_ack_wait_with_the_real_clock(ids, connect: Connect) -> None:
    async with EngineServer(engine_config(ids, ack_wait=0.3)) as server:
        alice = await connect(ids["alice"], server=server)
        bob = await connect(ids["bob"], server=server)
        await subscribed(bob)
        await alice.pub_ok(NAME, bob.public_key)
        loop = asyncio.get_running_loop()
        first = await bob.record()
        start = loop.time()
        repeat = await bob.record(timeout=5)
        assert loop.time() - start >= 0.25
        assert repeat.idem == first.idem and repeat.metadata == again(2)
        await bob.ack(repeat)
        await bob.no_record(0.5)


async def test_a_lease_ending_while_paused_waits_for_continue(
    clocked, connect: Connect, ids
) -> None:
    server, clock = clocked
    assert server.broker is not None
    alice = await connect(ids["alice"], server=server)
    bob = await connect(ids["bob"], server=server)
    sent = await published(alice, bob.public_key, 2)
    await subscribed(bob)
    first = await bob.record()
    await bob.ok(frames.Pause(bob.client_id, NAME, "").encode())
    clock.now += 31
    server.broker.wake_timers()
    await bob.no_record()
    await bob.ok(frames.Continue(bob.client_id, NAME).encode())
    back = await bob.record()
    assert back.idem == first.idem == sent[0] and back.metadata == again(2)
    await bob.no_record()


async def test_the_first_push_waits_for_the_grace_after_sub(ids, connect: Connect) -> None:
    async with EngineServer(engine_config(ids, sub_grace=0.5)) as server:
        alice = await connect(ids["alice"], server=server)
        bob = await connect(ids["bob"], server=server)
        sent = await published(alice, bob.public_key, 1)
        loop = asyncio.get_running_loop()
        await subscribed(bob)
        answered = loop.time()
        first = await bob.record(timeout=5)
        assert first.idem == sent[0]
        assert loop.time() - answered >= 0.45


async def test_no_grace_pushes_at_once(ids, connect: Connect) -> None:
    async with EngineServer(engine_config(ids, sub_grace=0)) as server:
        alice = await connect(ids["alice"], server=server)
        bob = await connect(ids["bob"], server=server)
        sent = await published(alice, bob.public_key, 1)
        await bob.send(frames.Sub(bob.client_id, NAME).encode())
        assert (await bob.reply()).startswith("+PASS:")
        assert (await bob.record(timeout=0.3)).idem == sent[0]


async def test_metadata_may_not_claim_a_redelivery(connect: Connect, ids) -> None:
    alice, bob = await connect(ids["alice"]), await connect(ids["bob"])
    for key in ("redelivered", "deliveryCount"):
        reply = await alice.pub(NAME, bob.public_key, metadata={**PLAIN, key: True})
        assert reply == (
            "-FAIL:METADATA must not set redelivered or deliveryCount: "
            "the engine sets them when it delivers a record again"
        )
