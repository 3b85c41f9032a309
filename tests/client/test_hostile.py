"""A hostile engine: nothing it sends stops the reader, breaks the FIFO or shows a secret."""

from __future__ import annotations

import pytest

from ensync_tui.client import (
    EnSyncAuthError,
    EnSyncEngine,
    EnSyncError,
    EnSyncReplayError,
    EnSyncValidationError,
    crypto,
)
from ensync_tui.client.connection import Connection
from ensync_tui.client.events import Answer, Delivery, Malformed, Send
from ensync_tui.protocol import frames
from tests import hostile
from tests.client.scripted import ScriptedServer, record_frame

FAST = {"reconnect_interval": 50, "max_reconnect_attempts": 0, "request_timeout": 2}
ACCESS_KEY = "ak-0123456789abcdefghijklmnop"


@pytest.fixture
async def server():
    async with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def keys():
    return crypto.generate_keypair()


async def make_client(server, keys, **opts):
    engine = EnSyncEngine(server.url, {**FAST, **opts})
    return await engine.create_client(ACCESS_KEY, {"appSecretKey": keys[1]})


# ------------------------------------------------------------------ without a socket


def receive(frame, conn=None):
    """The one event a frame gives."""
    events = (conn or Connection(ACCESS_KEY)).receive(frame)
    assert len(events) == 1, events
    return events[0]


def test_a_huge_block_is_a_malformed_record_not_an_exception():
    frame = hostile.record("a/b", "i", "cGF5", block="9" * 5000)
    event = receive(frame)
    assert isinstance(event, Malformed) and "out of range (5000 digits)" in event.error


@pytest.mark.parametrize(
    ("block", "logged_at", "ok"),
    [
        (2**63 - 1, -(2**63), True),
        ("9223372036854775807", "0", True),
        (2**63, 0, False),
        ("9223372036854775808", 0, False),
        ("9" * 20, 0, False),
        (1, 10**30, False),
        (1, "1" * 4000, False),
    ],
)
def test_block_and_time_are_64_bit_integers(block, logged_at, ok):
    event = receive(hostile.record("a/b", "i", "p", block=block, logged_at=logged_at))
    assert isinstance(event, Delivery if ok else Malformed), event


def test_a_name_or_idem_with_a_lone_surrogate_is_malformed():
    for frame in (
        '+RECORD:{"name":"a/b","idem":"\\ud800","payload":"p"}',
        '+RECORD:{"name":"a\\udfff","idem":"i","payload":"p"}',
    ):
        event = receive(frame)
        assert isinstance(event, Malformed) and "lone surrogate" in event.error
    ok = receive('+RECORD:{"name":"a/b","idem":"\\ud83d\\ude00","payload":"p"}')
    assert isinstance(ok, Delivery) and ok.record.idem == "\U0001f600"


def test_every_catalogued_record_is_an_event(keys):
    conn = Connection(ACCESS_KEY)
    for label, frame in hostile.hostile_records("a/b", keys[0]):
        event = receive(frame, conn)
        assert isinstance(event, Delivery | Malformed), label
    for odd in (None, 42, ["+PASS:"], b"\xff" * 10, bytearray(b"PING"), "+RECORD:" + "[" * 50_000):
        assert isinstance(receive(odd, conn), Malformed | Send), odd


def test_a_malformed_replay_answer_still_takes_its_requests_place():
    conn = Connection(ACCESS_KEY)
    replay = conn.request_text("REPLAY", "REPLAY;...", "w1", 0.0)
    pub = conn.request_text("PUB", "PUB;...", "w2", 0.0)
    first = receive("+REPLAY:{broken", conn)
    second = receive("+PASS:{idem=m1,block=1}", conn)
    assert isinstance(first, Answer) and first.slot is replay
    assert isinstance(first.result, EnSyncReplayError)
    assert "malformed answer" in first.result.message
    assert isinstance(second, Answer) and second.slot is pub
    assert isinstance(receive("+REPLAY:{broken", conn), Malformed)  # nothing pending


def test_a_publish_answer_with_a_huge_or_odd_block_is_kept_as_text():
    from ensync_tui.client.publishing import pub_result

    for block in ("9" * 5000, "\u00b2", "\u0663"):
        assert pub_result("r", f"{{idem=m1,block={block}}}")["block"] == block
    assert pub_result("r", "{idem=m1,block=42}")["block"] == 42


# ------------------------------------------------------------------ over a socket


async def test_the_reader_survives_every_hostile_record(server, keys):
    """Before: a 5,000-digit block raised out of the reader, which reconnected forever."""
    client = await make_client(server, keys)
    got: list[dict] = []
    try:
        sub = await client.subscribe("a/b", auto_ack=False)
        sub.handler(got.append)
        frames = [frame for _, frame in hostile.hostile_records("a/b", keys[0])]
        for frame in frames:
            await server.push(frame)
        await server.push(b"\xff\xfe binary")
        good = crypto.encrypt_payload({"ok": True}, [keys[0]])
        await server.push(record_frame("a/b", "good", good))
        await server.wait_for(lambda: any(m["idem"] == "good" for m in got), timeout=20)
        assert got[-1]["payload"] == {"ok": True}
        assert server.conn_count == 1 and client.state.status == "connected"
        assert await client.ack("a/b", "good", 1) == "+PASS:ok"
    finally:
        await client.close()


async def test_a_payload_that_breaks_decryption_does_not_stop_the_subscription(
    server, keys, monkeypatch
):
    client = await make_client(server, keys)
    got: list[dict] = []
    real_open = client._opener.open

    def open_or_explode(envelope, secret):
        if envelope == "poison":
            raise MemoryError
        return real_open(envelope, secret)

    monkeypatch.setattr(client._opener, "open", open_or_explode)
    try:
        sub = await client.subscribe("a/b")
        sub.handler(got.append)
        await server.push(record_frame("a/b", "bad", "poison"))
        await server.push(record_frame("a/b", "good", crypto.encrypt_payload({}, [keys[0]])))
        await server.wait_for(lambda: len(got) == 2)
        assert got[0]["decryptError"] == "cannot decrypt: MemoryError"
        assert got[1]["payload"] == {}
    finally:
        await client.close()


async def test_a_malformed_replay_answer_fails_that_replay_only(server, keys):
    answers = iter(["+REPLAY:" + "[" * 5000, None])
    server.rules["REPLAY"] = lambda f: [a] if (a := next(answers)) else None
    client = await make_client(server, keys)
    try:
        with pytest.raises(EnSyncReplayError, match="malformed answer"):
            await client.replay("a/b", "i1")
        assert await client.ack("a/b", "x", 1) == "+PASS:ok"  # the FIFO is still in step
    finally:
        await client.close()


async def test_a_request_that_cannot_be_encoded_is_refused_and_the_link_lives(server, keys):
    client = await make_client(server, keys)
    try:
        with pytest.raises(EnSyncValidationError, match="lone surrogate"):
            await client.ack("a/b", "i\udc80", 1)
        assert await client.ack("a/b", "i", 1) == "+PASS:ok"
    finally:
        await client.close()


async def test_an_engine_quoting_the_access_key_back_does_not_show_it(server, keys):
    server.rules["CONN"] = lambda f: [f"-FAIL:unknown access key {f.split('=:', 1)[1]}"]
    with pytest.raises(EnSyncAuthError) as err:
        await make_client(server, keys)
    assert ACCESS_KEY not in str(err.value) and ACCESS_KEY[:12] not in str(err.value)
    assert "unknown access key [redacted]" in str(err.value)
    server.rules["CONN"] = lambda f: None
    server.rules["ACK"] = lambda f: [f"-FAIL:{ACCESS_KEY} may not ack"]
    client = await make_client(server, keys)
    try:
        with pytest.raises(EnSyncError, match=r"^EnSyncAckError: \[redacted\] may not ack$"):
            await client.ack("a/b", "i", 1)
    finally:
        await client.close()


@pytest.mark.parametrize("client_id", ["", "a;EVENT_NAME=:x", "id\x1b[2J", "\u202eid"])
async def test_an_unusable_client_id_is_refused(server, keys, client_id):
    server.rules["CONN"] = lambda f: [f"+PASS:{{clientId={client_id},clientHash=k}}"]
    with pytest.raises(EnSyncAuthError, match="no usable clientId"):
        await make_client(server, keys)


async def test_reprs_and_errors_never_carry_a_secret(server, keys):
    client = await make_client(server, keys)
    try:
        sub = client.subscribe("a/b")
        await sub
        transport = client._transport
        texts = [
            repr(client),
            repr(sub),
            repr(transport),
            repr(transport.conn),
            repr(transport.options),
            repr(transport.state),
            repr(frames.Conn(ACCESS_KEY)),
            str(frames.Conn(ACCESS_KEY)),
        ]
        for text in texts:
            for secret in (ACCESS_KEY, keys[1]):
                assert secret[:12] not in text, text
    finally:
        await client.close()


def test_a_huge_fail_reason_is_cut_before_it_is_redacted():
    """Redacting 6 MB of one base64-like run would take seconds of the reader's time."""
    conn = Connection(ACCESS_KEY)
    conn.request_text("ACK", "ACK;...", "waiter", 0.0)
    answer = receive(f"-FAIL:{ACCESS_KEY}" + "A" * 6_000_000, conn)
    assert isinstance(answer, Answer)
    assert answer.result.message == "[redacted]" + "A" * (999 - len(ACCESS_KEY)) + "…"
