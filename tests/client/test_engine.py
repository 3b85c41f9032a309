"""The client against the local engine: the seed's Quick Start, every API call, restarts, TLS."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from ensync_tui.client import (
    EnSyncConnectionError,
    EnSyncContinueError,
    EnSyncDeferError,
    EnSyncDiscardError,
    EnSyncEngine,
    EnSyncPauseError,
    EnSyncPublishError,
    EnSyncReplayError,
    EnSyncSubscriptionError,
    EnSyncValidationError,
    crypto,
)
from ensync_tui.client.errors import EnSyncAckError, EnSyncAuthError, EnSyncRollbackError
from ensync_tui.engine import EngineServer, MessageSpec
from ensync_tui.engine.sandbox import make_identities, sandbox_config
from tests.tls import self_signed

NAME = "orders/status"
FAST = {"reconnect_interval": 50, "max_reconnect_attempts": 0, "request_timeout": 5}


@pytest.fixture
def people():
    return make_identities(["alice", "bob", "carol"])


@pytest.fixture
async def engine(people):
    cfg = sandbox_config(people, [NAME, MessageSpec("typed/x", {"n": "integer"})], port=0)
    async with EngineServer(cfg) as server:
        yield server


async def connect(server, who, **opts):
    engine = EnSyncEngine(server.url, {**FAST, **opts})
    return await engine.create_client(who.access_key, {"appSecretKey": who.secret_key})


async def wait_until(predicate, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_seed_quick_start(engine, people):
    # The seed README's Quick Start; only the import line, the URL, the access key
    # and the recipient ("appId") are this test's own.
    from ensync_tui.client import EnSyncEngine

    received = []
    print = received.append

    # Initialize engine (uses default URL)
    engine = EnSyncEngine(engine.url)

    # Create authenticated client
    client = await engine.create_client(people["alice"].access_key)

    # Publish a message
    await client.publish(
        "orders/status", [people["alice"].public_key], {"order_id": "123", "status": "completed"}
    )

    # Subscribe to messages with decorator pattern
    subscription = client.subscribe("orders/status")

    @subscription.handler
    async def handle_message(message):
        print(f"Received: {message['payload']}")

    # Access subscription control methods
    await subscription.pause("Maintenance")
    await subscription.resume()

    await wait_until(lambda: received)
    # no appSecretKey was given, so the payload stays encrypted: None, with the reason
    assert received == ["Received: None"]
    await client.close()


async def test_quick_start_with_a_secret_key_decrypts(engine, people):
    alice = people["alice"]
    client = await EnSyncEngine(engine.url).create_client(
        alice.access_key, app_secret_key=alice.secret_key
    )
    got = []
    async with client:
        await client.publish(NAME, [alice.public_key], {"order_id": "123"})
        subscription = client.subscribe(NAME)

        @subscription.handler
        async def handle_message(message):
            got.append(message)

        await wait_until(lambda: got)
        message = got[0]
        assert message["payload"] == {"order_id": "123"}
        assert message["sender"] == alice.public_key
        assert message["metadata"] == {"persist": True, "headers": {}}
        await wait_until(
            lambda: engine.store.delivery_state(message["idem"], alice.public_key) == "acked"
        )


async def test_identity_and_auth(engine, people):
    client = await connect(engine, people["alice"])
    async with client:
        assert client.client_id
        assert client.get_client_public_key() == people["alice"].public_key
        assert (await client.ping()) >= 0
    with pytest.raises(EnSyncAuthError):
        await EnSyncEngine(engine.url).create_client("no-such-key")
    with pytest.raises(EnSyncValidationError):
        await EnSyncEngine(engine.url).create_client("")
    with pytest.raises(EnSyncValidationError):
        await EnSyncEngine(engine.url).create_client("k", {"appSecretKey": "short"})


async def test_publish_answers_and_failures(engine, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    client = await connect(engine, alice)
    async with client:
        results = await client.publish(NAME, [bob.public_key, carol.public_key], {"n": 1})
        assert [r["recipient"] for r in results] == [bob.public_key, carol.public_key]
        assert all(r["idem"] and isinstance(r["block"], int) for r in results)
        assert all(r["response"].startswith("+PASS:") for r in results)
        for r in results:
            assert engine.store.delivery_state(r["idem"], r["recipient"]) == "pending"
        with pytest.raises(EnSyncPublishError, match="unknown message name"):
            await client.publish("no/such", [bob.public_key], {"n": 1})
        with pytest.raises(EnSyncPublishError, match="unknown recipient"):
            await client.publish(NAME, [crypto.generate_keypair()[0]], {"n": 1})
        with pytest.raises(EnSyncPublishError):  # the schema says n is an integer
            await client.publish("typed/x", [bob.public_key], {"n": "one"})
        assert (await client.publish("typed/x", [bob.public_key], {"n": 1}))[0]["idem"]


async def test_pipelined_publishes_all_arrive(engine, people):
    alice, bob = people["alice"], people["bob"]
    sender = await connect(engine, alice)
    receiver = await connect(engine, bob)
    seen: set[int] = set()
    async with sender, receiver:
        sub = await receiver.subscribe(NAME)
        sub.handler(lambda m: seen.add(m["payload"]["i"]))
        results = await asyncio.gather(
            *(sender.publish(NAME, [bob.public_key], {"i": i}) for i in range(300))
        )
        assert len({r[0]["idem"] for r in results}) == 300
        await wait_until(lambda: len(seen) == 300)


async def test_subscription_controls(engine, people):
    alice, bob = people["alice"], people["bob"]
    sender = await connect(engine, alice)
    receiver = await connect(engine, bob)
    got: list[dict] = []
    async with sender, receiver:
        sub = await receiver.subscribe(NAME, auto_ack=False)
        sub.handler(got.append)
        first = (await sender.publish(NAME, [bob.public_key], {"i": 1}))[0]
        await wait_until(lambda: len(got) == 1)
        assert got[0]["idem"] == first["idem"]

        # ack, then rollback: delivered again
        assert (await sub.ack(first["idem"], first["block"])).startswith("+PASS")
        assert engine.store.delivery_state(first["idem"], bob.public_key) == "acked"
        await sub.rollback(first["idem"], first["block"])
        await wait_until(lambda: len(got) == 2)
        assert got[1]["idem"] == first["idem"]

        # discard
        await sub.discard(first["idem"], "not needed")
        assert engine.store.delivery_state(first["idem"], bob.public_key) == "discarded"

        # pause: nothing arrives; resume: it does
        await sub.pause("maintenance")
        assert sub.paused
        second = (await sender.publish(NAME, [bob.public_key], {"i": 2}))[0]
        await asyncio.sleep(0.2)
        assert len(got) == 2
        await sub.resume()
        assert not sub.paused
        await wait_until(lambda: len(got) == 3)
        assert got[2]["idem"] == second["idem"]

        # defer: delivered again after the delay
        await sub.defer(second["idem"], 1000, "later")
        assert engine.store.delivery_state(second["idem"], bob.public_key) == "deferred"
        await wait_until(lambda: len(got) == 4, timeout=5)
        assert got[3]["idem"] == second["idem"]

        # replay by either party, decrypted for the reader
        replayed = await sub.replay(second["idem"])
        assert replayed["payload"] == {"i": 2} and replayed["idem"] == second["idem"]
        by_sender = await sender.replay(NAME, second["idem"])
        assert by_sender["idem"] == second["idem"] and by_sender["decryptError"]

        # the same by name on the client
        await receiver.pause(NAME, "again")
        await receiver.resume(NAME)
        await receiver.ack(NAME, second["idem"], second["block"])

        await sub.unsubscribe()
        third = (await sender.publish(NAME, [bob.public_key], {"i": 3}))[0]
        await asyncio.sleep(0.2)
        assert third["idem"] not in {m["idem"] for m in got}
        with pytest.raises(EnSyncSubscriptionError):
            await sub.unsubscribe()


async def test_control_failures_raise_their_types(engine, people):
    bob = people["bob"]
    client = await connect(engine, bob)
    async with client:
        await client.subscribe(NAME)
        with pytest.raises(EnSyncAckError):
            await client.ack(NAME, "missing", 1)
        with pytest.raises(EnSyncRollbackError):
            await client.rollback("missing", 1)
        with pytest.raises(EnSyncDeferError):
            await client.defer(NAME, "missing", 1000)
        with pytest.raises(EnSyncDiscardError):
            await client.discard(NAME, "missing")
        with pytest.raises(EnSyncReplayError):
            await client.replay(NAME, "missing")
        with pytest.raises(EnSyncPauseError):
            await client.pause("no/such")
        with pytest.raises(EnSyncContinueError):
            await client.resume("no/such")
        with pytest.raises(EnSyncSubscriptionError):
            await client.subscribe("no/such")
        with pytest.raises(EnSyncSubscriptionError):
            await client.unsubscribe("typed/x")
        with pytest.raises(EnSyncValidationError):
            await client.defer(NAME, "missing", 500)
        assert client.state.status == "connected"


async def test_engine_restart_mid_stream(tmp_path, people):
    alice, bob = people["alice"], people["bob"]
    db = str(tmp_path / "engine.db")
    cfg = sandbox_config(people, [NAME], port=0, db=db)
    server = EngineServer(cfg)
    await server.start()
    port = server.port
    sender = await connect(server, alice)
    receiver = await connect(server, bob)
    seen: set[int] = set()
    states: list[str] = []

    async def watch():
        async for state in receiver.state_changes():
            states.append(state.status)

    watcher = asyncio.create_task(watch())
    sub = receiver.subscribe(NAME)
    sub.handler(lambda m: seen.add(m["payload"]["i"]))
    await sub
    published: set[int] = set()

    async def publish_all(start, stop):
        for i in range(start, stop):
            while True:
                try:
                    await sender.publish(NAME, [bob.public_key], {"i": i})
                    published.add(i)
                    break
                except EnSyncConnectionError:
                    await asyncio.sleep(0.05)

    try:
        producer = asyncio.create_task(publish_all(0, 200))
        await wait_until(lambda: len(published) >= 60 and len(seen) >= 20)
        await server.stop()  # mid-stream: records in flight, some unacknowledged
        await asyncio.sleep(0.2)
        server = EngineServer(sandbox_config(people, [NAME], port=port, db=db))
        await server.start()
        await producer
        await wait_until(lambda: seen >= published, timeout=20)
        assert published == set(range(200))
        assert "reconnecting" in states and states[-1] == "connected"
    finally:
        await sender.close()
        await receiver.close()
        await watcher
        await server.stop()


async def test_wss_with_a_self_signed_certificate(tmp_path, people):
    cert, key = self_signed(tmp_path)
    cfg = sandbox_config(people, [NAME], port=0, tls_cert=cert, tls_key=key)
    alice = people["alice"]
    async with EngineServer(cfg) as server:
        assert server.url.startswith("wss://")
        with pytest.raises(EnSyncConnectionError) as info:
            await EnSyncEngine(server.url).create_client(alice.access_key)
        assert (
            isinstance(info.value.__context__, ssl.SSLError)
            or "CERTIFICATE" in str(info.value).upper()
        )
        trusted = await EnSyncEngine(server.url, {"ca_file": cert}).create_client(
            alice.access_key, app_secret_key=alice.secret_key
        )
        async with trusted:
            assert (await trusted.publish(NAME, [alice.public_key], {"ok": True}))[0]["idem"]
        insecure = await EnSyncEngine(server.url, {"insecure": True}).create_client(
            alice.access_key
        )
        await insecure.close()


async def test_hybrid_publish_reaches_every_recipient_decrypted(engine, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    sender = await connect(engine, alice)
    readers = [await connect(engine, bob), await connect(engine, carol)]
    inboxes: list[list[dict]] = [[], []]
    try:
        for reader, inbox in zip(readers, inboxes, strict=True):
            (await reader.subscribe(NAME)).handler(inbox.append)
        await sender.publish(NAME, [bob.public_key, carol.public_key], {"to": "both"})
        await sender.publish(
            NAME,
            [bob.public_key, carol.public_key],
            {"to": "each"},
            options={"useHybridEncryption": False},
        )
        await wait_until(lambda: all(len(inbox) == 2 for inbox in inboxes))
        for inbox in inboxes:
            assert [m["payload"] for m in inbox] == [{"to": "both"}, {"to": "each"}]
            assert crypto.describe_envelope(inbox[0]["record"].payload).kind == "hybrid"
            assert crypto.describe_envelope(inbox[1]["record"].payload).kind == "direct"
    finally:
        await sender.close()
        for reader in readers:
            await reader.close()


async def test_large_payload_and_the_engine_limit(engine, people):
    alice = people["alice"]
    client = await connect(engine, alice)
    got: list[dict] = []
    async with client:
        (await client.subscribe(NAME)).handler(got.append)
        big = {"blob": "y" * (2 * 1024 * 1024)}
        await client.publish(NAME, [alice.public_key], big)
        await wait_until(lambda: got)
        assert got[0]["payload"] == big
        with pytest.raises(EnSyncPublishError, match="limit"):
            await client.publish(NAME, [alice.public_key], {"blob": "z" * (5 * 1024 * 1024)})
        assert client.state.status == "connected"


async def test_send_ack_sends_at_once_and_hands_back_the_answer(engine, people):
    """The explorer's auto-ack: the ACK goes out at once, its answer comes as a future."""
    alice, bob = people["alice"], people["bob"]
    sender, receiver = await connect(engine, alice), await connect(engine, bob)
    async with sender, receiver:
        got: list[dict] = []
        sub = await receiver.subscribe(NAME)
        sub.handler(got.append)
        (sent,) = await sender.publish(NAME, [bob.public_key], {"i": 1})
        await wait_until(lambda: len(got) == 1, timeout=5)
        answer = await receiver.send_ack(NAME, got[0]["idem"], got[0]["block"])
        assert isinstance(answer, asyncio.Future)
        assert (await answer).encode().startswith("+PASS")
        assert engine.store.delivery_state(sent["idem"], bob.public_key) == "acked"
        refused = await receiver.send_ack(NAME, "missing", 1)
        with pytest.raises(EnSyncAckError):
            await refused
        with pytest.raises(EnSyncValidationError):
            await receiver.send_ack(NAME, "", 1)
        assert receiver.state.status == "connected"
