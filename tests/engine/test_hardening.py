"""What a hostile peer tried, and what the engine does about it now: one test per finding."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from ensync_tui.engine import EngineServer, fastparse
from ensync_tui.engine.logs import RepeatFilter
from ensync_tui.engine.store import NewMessage, Store
from ensync_tui.engine.writer import StorageError, Writer
from ensync_tui.protocol import frames, replies
from tests.hostile import ESCAPES, LONE_SURROGATE_JSON

from .conftest import Connect, RawClient, engine_config

B64 = "e30="


def rss() -> int:
    """This process's resident memory, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def until(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def pub(client_id: str, to: str, metadata: str, payload: str = B64) -> str:
    return (
        f"PUB;CLIENT_ID=:{client_id};EVENT_NAME=:orders/created;PAYLOAD=:{payload}"
        f";DELIVERY_TO=:{to};METADATA=:{metadata}"
    )


# -------------------------------------------- 2: memory through REPLAY, peers that stop reading


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
async def test_replays_never_read_hold_little_and_the_reader_is_dropped(ids) -> None:
    cfg = engine_config(ids, ping_interval=0.3, outbox_mib=2)
    async with EngineServer(cfg) as server:
        url = server.url + "/message"
        alice = RawClient(await ws_connect(url, max_size=None))
        alice.client_id = replies.parse_kv(
            (await alice.request(frames.Conn(ids["alice"].access_key).encode()))[6:]
        )["clientId"]
        big = base64.b64encode(os.urandom(3 * 1024 * 1024 // 4 * 3)).decode()  # 3 MiB of base64
        reply = await alice.request(pub(alice.client_id, ids["bob"].public_key, "{}", big))
        idem = replies.parse_kv(reply[6:])["idem"]
        # a peer that asks for 150 replays of it (450 MiB of answers) and reads none
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /message HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        before = rss()
        texts = [frames.Conn(ids["alice"].access_key).encode()]
        texts += [frames.Replay(alice.client_id, idem, "orders/created").encode()] * 150
        for frame in texts:
            writer.write(_masked(frame.encode()))
        await writer.drain()
        peak = 0
        for _ in range(25):  # while the engine holds what it could not send
            await asyncio.sleep(0.02)
            peak = max(peak, rss() - before)
        assert peak < 120 * 1024 * 1024, f"engine grew {peak >> 20} MiB"
        # it answers no PING: dropped within two intervals, and close does not hang
        await until(lambda: server.connections == 1, timeout=5)
        assert await alice.request(frames.Replay(alice.client_id, idem, "").encode())
        writer.close()
        await alice.close()


def _masked(payload: bytes) -> bytes:
    """One client text frame (clients must mask)."""
    mask = os.urandom(4)
    head = bytearray([0x81])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + mask + body


# -------------------------------------------------- 3: nothing parsed or kept before CONN


async def test_metadata_before_conn_is_not_parsed_or_kept(connect: Connect, ids, engine) -> None:
    fastparse._metadata_cache.clear()
    c = await connect()
    for i in range(20):
        frame = pub("x", ids["bob"].public_key, '{"a":"' + "x" * 100_000 + f'{i}"}}')
        assert (
            await c.request(frame)
            == "-FAIL:not authenticated: send CONN with a valid access key first"
        )
    assert fastparse._metadata_cache == {}
    alice = await connect(ids["alice"])
    for i in range(5):  # large texts are not remembered either, even from a client
        reply = await alice.request(
            pub(alice.client_id, ids["bob"].public_key, '{"a":"' + "y" * 5000 + f'{i}"}}')
        )
        assert reply.startswith("+PASS:"), reply
    assert all(len(text) <= 512 for text in fastparse._metadata_cache)
    assert all(len(text) <= 512 for text in engine.broker._metadata)


# ------------------------------------------ 4: a lone surrogate fails its PUB, nobody else's


async def test_lone_surrogate_refused_and_a_bad_row_fails_alone(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    for meta in (
        '{"headers":{"x":' + LONE_SURROGATE_JSON + "}}",
        '{"headers":{' + LONE_SURROGATE_JSON + ':"x"}}',
        '{"x":"\\udc00\\ud800"}',
    ):
        reply = await alice.request(pub(alice.client_id, ids["bob"].public_key, meta))
        assert reply.startswith("-FAIL:METADATA is not valid JSON: it holds a lone surrogate"), (
            reply
        )
    # a surrogate pair is one character, and fine
    await alice.ok(pub(alice.client_id, ids["bob"].public_key, '{"x":"\\ud83d\\ude00"}'))


async def test_writer_fails_only_the_row_that_cannot_be_stored() -> None:
    store = Store()
    writer = Writer(store)

    def message(seq: int, metadata: str) -> NewMessage:
        return NewMessage(seq, f"i{seq}", "n", seq, 1, "s", "r", B64, metadata, True)

    good = [writer.insert(message(i, "{}"), f"ok {i}") for i in range(1, 26)]
    bad = writer.insert(message(26, '{"x":"\ud800"}'), "never")
    good += [writer.insert(message(i, "{}"), f"ok {i}") for i in range(27, 51)]
    done = await asyncio.gather(*good, return_exceptions=True)
    assert done == [f"ok {i}" for i in range(1, 51) if i != 26]
    with pytest.raises(StorageError, match="not valid Unicode"):
        await bad
    assert store.count() == 49
    await writer.close()
    store.close()


# ----------------------------------- 7: CONN deadline, a connection limit, no log flood


async def test_no_conn_in_time_is_closed_even_when_it_answers_pings(ids) -> None:
    async with EngineServer(engine_config(ids, conn_timeout=0.3, ping_interval=0.1)) as server:
        idle = RawClient(await ws_connect(server.url + "/message"))  # answers every PING
        await asyncio.wait_for(idle.ws.wait_closed(), 5)
        assert idle.ws.close_code == 1008 and "no CONN" in (idle.ws.close_reason or "")
        assert idle.pings >= 2


async def test_connection_limit_makes_room_from_unauthenticated_then_refuses(ids) -> None:
    async with EngineServer(engine_config(ids, max_connections=4)) as server:
        url = server.url + "/message"
        idle = [await ws_connect(url) for _ in range(4)]
        good = RawClient(await ws_connect(url))  # the oldest idle one makes room
        await good.ok(frames.Conn(ids["alice"].access_key).encode())
        await asyncio.wait_for(idle[0].wait_closed(), 5)
        others = []
        for who in ("bob", "carol", "limited"):
            c = RawClient(await ws_connect(url))
            await c.ok(frames.Conn(ids[who].access_key).encode())
            others.append(c)
        assert server.connections == 4
        with pytest.raises(InvalidStatus) as refused:
            await ws_connect(url)
        assert refused.value.response.status_code == 503
        assert b"too many connections" in refused.value.response.body
        for c in [good, *others]:
            await c.close()


async def test_repeated_refusals_are_summarized_in_the_log(connect: Connect, caplog) -> None:
    caplog.set_level(logging.INFO, "ensync_tui.engine")
    c = await connect()
    for _ in range(300):
        await c.send("GARBAGE;X=:1")
    assert (await c.reply()).startswith("-FAIL:not authenticated")
    for _ in range(299):
        await c.reply()
    refusals = [r for r in caplog.records if "-FAIL" in r.getMessage()]
    assert len(refusals) <= 25, len(refusals)


def test_repeat_filter_counts_and_summarizes() -> None:
    now = [0.0]
    f = RepeatFilter(burst=3, window=10, clock=lambda: now[0])
    logger = logging.getLogger("ensync_tui.engine.test-repeats")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep()
    handler.addFilter(f)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(50):
            logger.warning("bad frame %d", i)
        now[0] = 11
        f.flush()
        logger.warning("other %s", "line")
    finally:
        logger.removeHandler(handler)
    assert seen[:3] == ["bad frame 0", "bad frame 1", "bad frame 2"]
    assert seen[3].startswith(
        "(47 more lines like this one in the last 10 s not shown: bad frame 3"
    )
    assert seen[4:] == ["other line"]


# -------------------------------------------------------- 13: strict JSON in every field


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
async def test_non_standard_json_numbers_refused(connect: Connect, ids, bad: str) -> None:
    alice = await connect(ids["alice"])
    reply = await alice.request(pub(alice.client_id, ids["bob"].public_key, '{"v":' + bad + "}"))
    assert reply.startswith("-FAIL:METADATA is not valid JSON"), reply
    frame = (
        pub(alice.client_id, ids["bob"].public_key, "{}")
        + ';PAYLOAD_METADATA=:{"byte_size":'
        + bad
        + "}"
    )
    reply = await alice.request(frame)
    assert reply.startswith("-FAIL:PAYLOAD_METADATA is not valid JSON"), reply


# ---------------------------------------------------------- 15: database files are private


def test_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "e.db"
        store = Store(str(db))
        store.insert([NewMessage(1, "i", "n", 1, 1, "s", "r", B64, "{}", True)])
        for name in ("e.db", "e.db-wal", "e.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        store.close()
        db.chmod(0o644)  # one made by an older version
        Store(str(db)).close()
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        os.umask(old)


# -------------------------------------------- 16: a secret sent by mistake is never echoed


async def test_an_access_key_sent_wrongly_is_not_echoed(connect: Connect, ids, caplog) -> None:
    caplog.set_level(logging.DEBUG, "ensync_tui.engine")
    key = ids["alice"].access_key
    c = await connect()
    replies = [
        await c.request(f) for f in (key, f"CONN ACCESS_KEY=:{key}", f"CONN;ACCESS_KEY=:{key}x")
    ]
    alice = await connect(ids["alice"])
    replies += [await alice.request(f) for f in (key, f"CONN ACCESS_KEY=:{key}", f"{key};X=:1")]
    text = "\n".join(replies) + "\n".join(r.getMessage() for r in caplog.records)
    for part in (key, key[: len(key) // 2], key[-12:]):
        assert part not in text
    assert "unknown verb (32 characters, not shown)" in text or "not shown" in text


# ------------------------------------------ 17: idems tell nothing about traffic volume


async def test_idems_are_random_not_a_counter(connect: Connect, ids) -> None:
    alice = await connect(ids["alice"])
    idems = [
        (await alice.pub_ok("orders/created", ids["bob"].public_key))["idem"] for _ in range(40)
    ]
    assert len(set(idems)) == 40
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in idems)
    assert len({i[:6] for i in idems}) > 30  # no shared prefix, no counter
    assert sorted(idems) != idems


# --------------------------------------------- hostile text reaches the log only escaped


async def test_hostile_names_are_logged_escaped(connect: Connect, ids, caplog) -> None:
    caplog.set_level(logging.DEBUG, "ensync_tui.engine")
    alice = await connect(ids["alice"])
    for text in ESCAPES.values():
        await alice.request(frames.Sub(alice.client_id, text).encode())
        await alice.request(frames.Replay(alice.client_id, text, text).encode())
    await alice.ws.close(1000, ESCAPES["osc52"])  # a close reason is the peer's text too
    await until(lambda: any("disconnected" in r.getMessage() for r in caplog.records))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "\x1b" not in logged and "\u202e" not in logged and "\x9b" not in logged
    assert "\\x1b]52" in logged
