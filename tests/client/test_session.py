"""The client over a real socket, against a scripted server: FIFO, timeouts, drops, frames."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ensync_tui.client import (
    EnSyncAuthError,
    EnSyncConnectionError,
    EnSyncDeferError,
    EnSyncEngine,
    EnSyncPublishError,
    EnSyncTimeoutError,
    EnSyncValidationError,
    crypto,
)
from tests.client.scripted import ScriptedServer, record_frame

FAST = {"reconnect_interval": 50, "max_reconnect_attempts": 0, "request_timeout": 2}


@pytest.fixture
async def server():
    async with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def keys():
    return crypto.generate_keypair()


async def make_client(server, keys, **opts):
    engine = EnSyncEngine(server.url, {**FAST, **opts})
    return await engine.create_client("key-1", {"appSecretKey": keys[1]})


async def test_connects_to_message_path_and_authenticates(server, keys):
    client = await make_client(server, keys)
    try:
        assert server.paths == ["/message"]
        assert server.received[0] == "CONN;ACCESS_KEY=:key-1"
        assert client.client_id == "client-1"
        assert client.get_client_public_key() == server.public_key
        assert client.state.status == "connected"
    finally:
        await client.close()
    assert client.state.status == "closed"


async def test_auth_failure_and_refused_connection(server, keys):
    server.rules["CONN"] = lambda f: ["-FAIL:unknown access key"]
    with pytest.raises(EnSyncAuthError, match="unknown access key"):
        await make_client(server, keys)
    await server.stop()
    with pytest.raises(EnSyncConnectionError):
        await make_client(server, keys)


async def test_a_connect_error_without_text_is_named(keys, monkeypatch):
    from ensync_tui.client import transport

    async def reset(*args, **kwargs):
        raise ConnectionResetError()

    monkeypatch.setattr(transport, "connect", reset)
    engine = EnSyncEngine("ws://127.0.0.1:9", FAST)
    with pytest.raises(EnSyncConnectionError, match=r"/message: the engine closed the connection$"):
        await engine.create_client("key-1", {"appSecretKey": keys[1]})
    engine = EnSyncEngine("wss://127.0.0.1:9", FAST)
    with pytest.raises(EnSyncConnectionError, match=r"does it serve plain ws:// instead\?\)$"):
        await engine.create_client("key-1", {"appSecretKey": keys[1]})


async def test_pipelined_publishes_get_their_own_answers(server, keys):
    recipients = [crypto.generate_keypair()[0] for _ in range(3)]
    client = await make_client(server, keys)
    try:
        results = await asyncio.gather(
            *(client.publish("a/b", recipients, {"n": i}) for i in range(20))
        )
        pubs = [f for f in server.received if f.startswith("PUB;")]
        assert len(pubs) == 60
        # each caller got the answers to its own frames, in the order they were sent
        for result in results:
            assert [r["recipient"] for r in result] == recipients
            first_block = result[0]["block"]
            assert [r["block"] for r in result] == [first_block, first_block + 1, first_block + 2]
            for r in result:
                assert r["response"] == f"+PASS:{{idem={r['idem']},block={r['block']}}}"
                assert isinstance(r["block"], int)
        assert sorted(r["block"] for res in results for r in res) == list(range(1, 61))
        # hybrid: one envelope shared by the three PUBs of a publish, with PAYLOAD_METADATA
        first = pubs[:3]
        payloads = {f.split(";PAYLOAD=:")[1].split(";DELIVERY_TO=:")[0] for f in first}
        assert len(payloads) == 1
        assert crypto.describe_envelope(payloads.pop()).kind == "hybrid"
        assert all(';METADATA=:{"persist":true,"headers":{}}' in f for f in pubs)
        assert all(';PAYLOAD_METADATA=:{"byte_size":' in f for f in pubs)
    finally:
        await client.close()


async def test_direct_encryption_when_hybrid_is_off(server, keys):
    a, b = crypto.generate_keypair(), crypto.generate_keypair()
    client = await make_client(server, keys)
    try:
        await client.publish(
            "a/b", [a[0], b[0]], {"x": 1}, {"persist": False}, {"useHybridEncryption": False}
        )
        pubs = [f for f in server.received if f.startswith("PUB;")]
        envs = [f.split(";PAYLOAD=:")[1].split(";DELIVERY_TO=:")[0] for f in pubs]
        assert crypto.decrypt_payload(envs[0], a[1]) == {"x": 1}
        assert crypto.decrypt_payload(envs[1], b[1]) == {"x": 1}
        assert ';METADATA=:{"persist":false,"headers":{}}' in pubs[0]
    finally:
        await client.close()


async def test_publish_validates_before_sending(server, keys):
    client = await make_client(server, keys)
    pk = crypto.generate_keypair()[0]
    try:
        bad_calls = [
            ("", [pk], {}),
            (None, [pk], {}),
            ("a/b", [], {}),
            ("a/b", pk, {}),
            ("a/b", ["not base64!"], {}),
            ("a/b", ["AAAA"], {}),
            ("a/b", [pk], None),
            ("a/b", [pk], {"x": object()}),
        ]
        for name, recipients, payload in bad_calls:
            with pytest.raises(EnSyncValidationError):
                await client.publish(name, recipients, payload)
        with pytest.raises(EnSyncValidationError):
            await client.publish("a/b", [pk], {}, metadata=["x"])
        with pytest.raises(EnSyncValidationError):
            await client.defer("a/b", "i1", 999)
        with pytest.raises(EnSyncValidationError):
            await client.defer("a/b", "i1", 86_400_001)
        with pytest.raises(EnSyncValidationError):
            await client.ack("a/b", "i1", "x1")
        with pytest.raises(EnSyncValidationError):
            await client.ack("a/b", "i1;BLOCK=:2", 1)
        with pytest.raises(EnSyncValidationError):
            await client.publish("a/b;PAYLOAD=:x", [pk], {})
        assert [v for v in server.verbs() if v != "CONN"] == []
    finally:
        await client.close()


async def test_fail_answers_raise_the_verbs_error(server, keys):
    server.rules["PUB"] = lambda f: ["-FAIL:message name a/b is not registered"]
    server.rules["DEFER"] = lambda f: ["-FAIL:no such message"]
    client = await make_client(server, keys)
    try:
        pk = crypto.generate_keypair()[0]
        with pytest.raises(EnSyncPublishError, match="not registered") as info:
            await client.publish("a/b", [pk], {"x": 1})
        assert info.value.results[0]["recipient"] == pk
        with pytest.raises(EnSyncDeferError, match="no such message"):
            await client.defer("a/b", "i1", 1000)
        assert await client.ack("a/b", "i1", 4) == "+PASS:ok"
    finally:
        await client.close()


async def test_a_timed_out_request_does_not_steal_the_next_answer(server, keys):
    release = asyncio.Event()

    async def slow_ack(frame):
        await release.wait()
        return ["+PASS:late-ack"]

    server.rules["ACK"] = slow_ack
    client = await make_client(server, keys, request_timeout=0.2)
    try:
        with pytest.raises(EnSyncTimeoutError, match="ACK"):
            await client.ack("a/b", "i1", 1)
        pending = asyncio.create_task(client.resume("a/b"))
        await server.wait_for(lambda: "CONTINUE" in server.verbs() or len(server.received) >= 2)
        release.set()  # the late ACK answer arrives first, then the CONTINUE answer
        assert await pending == {"status": "success", "action": "continued", "messageName": "a/b"}
    finally:
        await client.close()


async def test_records_and_pings_between_answers(server, keys):
    server.rules["SUB"] = lambda f: [
        "PING",
        record_frame("a/b", "r1", crypto.encrypt_payload({"v": 1}, [keys[0]]), sender="s"),
        "+PASS:subscribed",
    ]
    client = await make_client(server, keys)
    got: list[dict] = []
    try:
        sub = client.subscribe("a/b")
        sub.handler(got.append)
        await sub
        await server.wait_for(lambda: bool(got) and "ACK" in server.verbs())
        assert "PONG" in server.verbs()
        message = got[0]
        assert message["payload"] == {"v": 1} and message["decryptError"] is None
        assert (message["messageName"], message["idem"], message["block"]) == ("a/b", "r1", 1)
        assert message["sender"] == "s" and message["metadata"] == {"persist": True}
        assert message["record"].idem == "r1"
        assert (
            server.received[-1] == "ACK;CLIENT_ID=:client-1;EVENT_IDEM=:r1;BLOCK=:1;EVENT_NAME=:a/b"
        )
    finally:
        await client.close()


async def test_malformed_frames_are_skipped(server, keys, caplog):
    server.rules["PAUSE"] = lambda f: ["garbage", "+RECORD:{broken", "+PASS:paused"]
    client = await make_client(server, keys)
    try:
        with caplog.at_level(logging.WARNING, logger="ensync_tui.client"):
            assert (await client.pause("a/b", "why"))["action"] == "paused"
        assert "malformed frame" in caplog.text
        await server.push(b"\x00\x01binary")
        assert await client.ack("a/b", "x", 1) == "+PASS:ok"
    finally:
        await client.close()


async def test_undecryptable_records_still_reach_the_handler(server, keys):
    other = crypto.generate_keypair()
    client = await make_client(server, keys)
    got: list[dict] = []
    try:
        sub = await client.subscribe("a/b", auto_ack=False)
        sub.handler(got.append)
        await server.push(record_frame("a/b", "r1", crypto.encrypt_payload({"v": 1}, [other[0]])))
        await server.push(record_frame("a/b", "r2", "bm90IGFuIGVudmVsb3Bl"))
        await server.wait_for(lambda: len(got) == 2)
        assert [m["payload"] for m in got] == [None, None]
        assert all(m["decryptError"] for m in got)
        assert "ACK" not in server.verbs()  # manual ack: left to the caller
    finally:
        await client.close()


async def test_decrypt_false_skips_decryption(server, keys):
    client = await make_client(server, keys)
    got: list[dict] = []
    try:
        sub = await client.subscribe("a/b", decrypt=False)
        sub.handler(got.append)
        await server.push(record_frame("a/b", "r1", crypto.encrypt_payload({"v": 1}, [keys[0]])))
        await server.wait_for(lambda: bool(got))
        assert got[0]["payload"] is None and got[0]["decryptError"] is None
        assert crypto.decrypt_payload(got[0]["record"].payload, keys[1]) == {"v": 1}
    finally:
        await client.close()


async def test_handlers_run_in_order_and_slow_ones_do_not_stall_answers(server, keys):
    client = await make_client(server, keys)
    seen: list[str] = []
    gate = asyncio.Event()
    try:
        sub = await client.subscribe("a/b")

        @sub.handler
        async def slow(message):
            if message["idem"] == "r0":
                await gate.wait()
            seen.append(message["idem"])

        for i in range(5):
            await server.push(record_frame("a/b", f"r{i}", "eA==", block=i))
        # the first handler call is blocked, yet requests are answered
        assert await client.ack("a/b", "zz", 1) == "+PASS:ok"
        assert seen == []
        gate.set()
        await server.wait_for(lambda: len(seen) == 5)
        assert seen == [f"r{i}" for i in range(5)]
    finally:
        await client.close()


async def test_failing_handler_is_not_acked(server, keys):
    client = await make_client(server, keys)
    calls = []
    try:
        sub = await client.subscribe("a/b")

        @sub.handler
        def boom(message):
            calls.append(message["idem"])
            if message["idem"] == "bad":
                raise RuntimeError("handler broke")

        await server.push(record_frame("a/b", "bad", "eA=="))
        await server.push(record_frame("a/b", "good", "eA=="))
        await server.wait_for(lambda: "ACK" in server.verbs())
        acks = [f for f in server.received if f.startswith("ACK")]
        assert calls == ["bad", "good"]
        assert len(acks) == 1 and "EVENT_IDEM=:good" in acks[0]
    finally:
        await client.close()


async def test_drop_fails_pending_then_reconnects_and_resubscribes(server, keys):
    hold = asyncio.Event()

    async def never(frame):
        await hold.wait()
        return []

    client = await make_client(server, keys)
    states = []

    async def watch():
        async for state in client.state_changes():
            states.append(state)

    watcher = asyncio.create_task(watch())
    try:
        sub = await client.subscribe("a/b")
        await sub.pause("maintenance")
        assert sub.pause_reason == "maintenance"
        server.rules["DISCARD"] = never
        pending = asyncio.create_task(client.discard("a/b", "i1"))
        await server.wait_for(lambda: "DISCARD" in server.verbs())
        await server.drop_all()
        with pytest.raises(EnSyncConnectionError):
            await pending
        hold.set()
        await server.wait_for(lambda: server.conn_count == 2 and server.verbs()[-1] == "PAUSE")
        assert server.verbs()[-3:] == ["CONN", "SUB", "PAUSE"]
        assert server.received[-1].endswith(";REASON=:maintenance")
        await server.wait_for(lambda: client.state.status == "connected")
        assert sub.paused
        assert await client.ack("a/b", "i2", 2) == "+PASS:ok"
    finally:
        await client.close()
        await watcher
    statuses = [s.status for s in states]
    assert statuses[:3] == ["reconnecting", "connecting", "connected"]
    assert statuses[-1] == "closed"
    assert states[0].attempt == 1 and states[0].delay > 0 and states[0].reason
    assert states[1].attempt == 1  # which attempt is under way


async def test_requests_wait_for_the_reconnect(keys):
    server = await ScriptedServer().start()
    port = server.port
    client = await make_client(server, keys)
    try:
        await server.stop()
        await asyncio.sleep(0.05)
        pending = asyncio.create_task(client.ack("a/b", "i1", 1))
        await asyncio.sleep(0.2)
        assert not pending.done()
        server = await ScriptedServer().start(port)
        assert await pending == "+PASS:ok"
    finally:
        await client.close()
        await server.stop()


async def test_gives_up_after_max_attempts(keys):
    server = await ScriptedServer().start()
    client = await make_client(server, keys, max_reconnect_attempts=2)
    await server.stop()
    async with asyncio.timeout(5):
        async for state in client.state_changes():
            if state.status == "closed":
                break
    assert "gave up after 2 attempts" in client.state.reason
    with pytest.raises(EnSyncConnectionError):
        await client.ack("a/b", "i", 1)
    await client.close()


async def test_dead_peer_is_detected_by_keepalive(server, keys):
    client = await make_client(server, keys, ping_interval=0.2)
    try:
        for ws in server.connections:
            ws.transport.pause_reading()  # alive socket, silent peer
        await server.wait_for(lambda: server.conn_count == 2, timeout=5)
        await server.wait_for(lambda: client.state.status == "connected")
        assert (await client.ping()) >= 0
    finally:
        await client.close()
        await server.drop_all()


async def test_close_leaves_no_tasks_behind(server, keys):
    client = await make_client(server, keys)
    sub = client.subscribe("a/b")
    sub.handler(lambda m: None)
    await sub
    await server.push(record_frame("a/b", "r1", "eA=="))
    await server.wait_for(lambda: "ACK" in server.verbs())
    async with client:
        pass
    assert client.state.status == "closed"
    await client.close()  # twice is fine
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if t.get_name().startswith("ensync")]
    with pytest.raises(EnSyncConnectionError):
        await client.publish("a/b", [keys[0]], {})


async def test_sub_failure_reaches_the_awaiter(server, keys):
    server.rules["SUB"] = lambda f: ["-FAIL:not allowed to receive a/b"]
    client = await make_client(server, keys)
    try:
        from ensync_tui.client import EnSyncSubscriptionError

        with pytest.raises(EnSyncSubscriptionError, match="not allowed"):
            await client.subscribe("a/b")
        server.rules.clear()
        assert (await client.subscribe("a/b")).name == "a/b"  # a new try works
    finally:
        await client.close()


async def test_each_request_keeps_its_own_deadline(server, keys):
    release = asyncio.Event()

    async def held(frame):
        await release.wait()
        return ["+PASS:held"]

    server.rules["PAUSE"] = held
    client = await make_client(server, keys, request_timeout=5)
    transport = client._transport
    try:
        from ensync_tui.protocol import frames

        loop = asyncio.get_running_loop()
        slow = asyncio.create_task(
            transport.request(frames.Pause("client-1", "a/b", ""), timeout=3)
        )
        quick = asyncio.create_task(
            transport.request(frames.Continue("client-1", "a/b"), timeout=0.1)
        )
        start = loop.time()
        with pytest.raises(EnSyncTimeoutError, match=r"CONTINUE within 0\.1 s"):
            await quick
        assert loop.time() - start < 1.0
        assert not slow.done()
        release.set()
        assert (await slow).body == "held"
    finally:
        release.set()
        await client.close()


async def test_a_server_that_is_not_an_engine_is_a_connection_error(keys):
    from http import HTTPStatus

    from websockets.asyncio.server import serve

    def refuse(connection, request):
        return connection.respond(HTTPStatus.NOT_FOUND, "no such path\n")

    async def never(ws):  # pragma: no cover - the handshake is refused first
        await ws.close()

    async with serve(never, "127.0.0.1", 0, process_request=refuse) as http:
        port = http.sockets[0].getsockname()[1]
        engine = EnSyncEngine(f"http://127.0.0.1:{port}", FAST)
        with pytest.raises(EnSyncConnectionError, match="cannot connect"):
            await engine.create_client("key-1")


async def test_senders_wait_while_the_engine_does_not_read_and_go_on_when_it_does(server, keys):
    """Backpressure through websockets' own drain: no polling, nothing lost, order kept."""
    from ensync_tui.client.transport import HIGH_WATER

    client = await make_client(server, keys, request_timeout=30)
    try:
        for ws in server.connections:
            ws.transport.pause_reading()  # the engine stops reading; the socket fills up
        blob = {"blob": "x" * 200_000}  # ~270 KB per PUB frame once sealed
        recipient = crypto.generate_keypair()[0]
        sends = [asyncio.create_task(client.publish("a/b", [recipient], blob)) for _ in range(80)]
        socket = client._transport._link.ws.transport
        await server.wait_for(lambda: socket.get_write_buffer_size() >= HIGH_WATER, timeout=10)
        for _ in range(50):  # let every sender run: none may pile onto the full buffer
            await asyncio.sleep(0)
        assert socket.get_write_buffer_size() < HIGH_WATER + 400_000  # they waited
        assert not all(task.done() for task in sends)
        for ws in server.connections:
            ws.transport.resume_reading()
        results = await asyncio.gather(*sends)
        assert sorted(r[0]["block"] for r in results) == list(range(1, 81))
        assert len([f for f in server.received if f.startswith("PUB;")]) == 80
    finally:
        await client.close()


async def test_retry_waits_for_an_engine_that_is_not_up_yet(keys):
    server = await ScriptedServer().start()
    port = server.port
    await server.stop()  # the port is known and nothing listens on it
    states = []
    engine = EnSyncEngine(server.url, FAST)
    connecting = asyncio.create_task(
        engine.create_client("key-1", {"appSecretKey": keys[1]}, retry=True, on_state=states.append)
    )
    try:
        async with asyncio.timeout(5):
            while len([s for s in states if s.status == "reconnecting"]) < 2:
                await asyncio.sleep(0.01)
        assert not connecting.done()
        server = await ScriptedServer().start(port)
        client = await asyncio.wait_for(connecting, 5)
        assert client.state.status == "connected" and server.conn_count == 1
        statuses = [s.status for s in states]
        assert statuses[:4] == ["connecting", "reconnecting", "connecting", "reconnecting"]
        assert statuses[-1] == "connected"
        assert states[1].attempt == 1 and "cannot connect" in states[1].reason
        await client.close()
        assert states[-1].status == "closed"  # on_state hears the whole life
    finally:
        connecting.cancel()
        await server.stop()


async def test_retry_never_retries_a_refused_login(server, keys):
    server.rules["CONN"] = lambda f: ["-FAIL:unknown access key"]
    states = []
    engine = EnSyncEngine(server.url, FAST)
    with pytest.raises(EnSyncAuthError, match="unknown access key"):
        await engine.create_client("key-1", retry=True, on_state=states.append)
    assert server.conn_count == 1
    assert [s.status for s in states] == ["connecting", "closed"]


async def test_retry_gives_up_after_max_attempts(keys):
    server = await ScriptedServer().start()
    await server.stop()
    engine = EnSyncEngine(server.url, {**FAST, "max_reconnect_attempts": 2})
    with pytest.raises(EnSyncConnectionError, match="gave up after 2 attempts: cannot connect"):
        await engine.create_client("key-1", {"appSecretKey": keys[1]}, retry=True)


async def test_reconnect_now_ends_the_backoff_wait(keys):
    server = await ScriptedServer().start()
    port = server.port
    states = []
    engine = EnSyncEngine(server.url, {**FAST, "reconnect_interval": 60_000})
    client = await engine.create_client("key-1", {"appSecretKey": keys[1]}, on_state=states.append)
    try:
        assert not client.reconnect_now()  # connected: nothing to cut short
        await server.stop()
        async with asyncio.timeout(5):
            while client.state.status != "reconnecting":
                await asyncio.sleep(0.01)
        assert client.state.delay >= 30  # the schedule would wait half a minute or more
        server = await ScriptedServer().start(port)
        assert client.reconnect_now()
        async with asyncio.timeout(5):
            while client.state.status != "connected":
                await asyncio.sleep(0.01)
        assert server.conn_count == 1
        assert not client.reconnect_now()
    finally:
        await client.close()
        await server.stop()
