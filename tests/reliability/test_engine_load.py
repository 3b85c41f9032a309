"""The engine under hostile load: a subscriber that never reads, a connection
storm, and authorization probes. The good clients must not notice."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import sqlite3
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from ensync_tui.engine.sandbox import Identity, make_identities
from ensync_tui.protocol import frames, replies

from .serve import Engine, engine_toml, login, mib

NAME = "orders/created"
BODY = "eyJvcmRlciI6MX0="


def _handshake(key: str = "") -> bytes:
    key = key or base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /message HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytearray([0x81])
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = (
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _xor(payload, mask)
    )
    return bytes(head) + mask + masked


def _xor(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


async def _raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(_handshake())
    await r.readuntil(b"\r\n\r\n")
    return r, w


class Good:
    """A publisher and a subscriber that acks after handling; counts any error."""

    def __init__(self, url: str, sender: Identity, receiver: Identity) -> None:
        self.url, self.sender, self.receiver = url, sender, receiver
        self.errors: list[str] = []
        self.answered: set[str] = set()
        self.received: set[str] = set()

    async def run(self, count: int, pause: float = 0.0) -> None:
        sub_ws, sub_id = await login(self.url, self.receiver)
        await sub_ws.send(frames.Sub(sub_id, NAME).encode())

        async def subscriber() -> None:
            async for frame in sub_ws:
                assert isinstance(frame, str)
                if frame == "PING":
                    await sub_ws.send("PONG")
                elif frame.startswith("+RECORD:"):
                    rec = replies.Record.from_json(frame[8:])
                    self.received.add(rec.idem)
                    await sub_ws.send(frames.Ack(sub_id, rec.idem, str(rec.block), NAME).encode())
                elif not frame.startswith("+PASS:"):
                    self.errors.append(f"subscriber: {frame[:100]}")

        sub = asyncio.create_task(subscriber())
        try:
            pub_ws, pub_id = await login(self.url, self.sender)
            frame = frames.Pub(pub_id, NAME, BODY, self.receiver.public_key, {}).encode()
            for _ in range(count):
                await pub_ws.send(frame)
                while True:
                    reply = await asyncio.wait_for(pub_ws.recv(), 10)
                    if reply != "PING":
                        break
                    await pub_ws.send("PONG")
                if isinstance(reply, str) and reply.startswith("+PASS:"):
                    self.answered.add(replies.parse_kv(reply[6:])["idem"])
                else:
                    self.errors.append(f"publish: {str(reply)[:100]}")
                if pause:
                    await asyncio.sleep(pause)
            end = time.monotonic() + 30
            while not self.answered <= self.received and time.monotonic() < end:
                await asyncio.sleep(0.05)
            if not self.answered <= self.received:
                self.errors.append(f"{len(self.answered - self.received)} not delivered")
            await pub_ws.close()
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            self.errors.append(f"connection: {exc!r}")
        finally:
            if sub.done() and sub.exception() is not None:
                self.errors.append(f"subscriber failed: {sub.exception()!r}")
            sub.cancel()
            with contextlib.suppress(Exception):
                await sub_ws.close()


async def test_a_subscriber_that_never_reads(tmp_path: Path, figures) -> None:
    ids = make_identities(["alice", "bob", "carol"])
    clients = [(ids["alice"], ["*"], []), (ids["bob"], [], ["*"]), (ids["carol"], [], ["*"])]
    # a wide window, so that the 20,000 records are pushed at the peer that reads nothing
    # (one at a time, it would be sent only the first)
    settings = {"db": "e.db", "ping_interval": 2, "max_in_flight": 100_000}
    toml = engine_toml(clients, [NAME], settings)
    with Engine(tmp_path, toml) as engine:
        ws, alice_id = await login(engine.url, ids["alice"])
        big = "A" * (4 * 1024 * 1024 - 64)  # base64, just under the payload limit
        await ws.send(frames.Pub(alice_id, NAME, big, ids["bob"].public_key, {}).encode())
        idem = replies.parse_kv((await ws.recv())[6:])["idem"]  # type: ignore[index]
        await asyncio.sleep(0.5)
        baseline = engine.rss()
        # bob subscribes, asks for 300 replays of the 4 MiB message, and reads nothing
        _r, w = await _raw(engine.port)
        w.write(_frame(frames.Conn(ids["bob"].access_key).encode()))
        await asyncio.sleep(0.2)
        # the client id is stable per access key: learn it from a reading connection
        probe, bob_id = await login(engine.url, ids["bob"])
        await probe.close()
        w.write(_frame(frames.Sub(bob_id, NAME).encode()))
        replay = _frame(frames.Replay(bob_id, idem, NAME).encode())
        for _ in range(300):
            w.write(replay)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, engine.rss())
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        good = Good(engine.url, ids["alice"], ids["carol"])
        start = time.monotonic()
        # 20,000 messages to bob (who reads none) and 2,000 to carol, who reads hers
        ws2, _ = await login(engine.url, ids["alice"])
        to_bob = frames.Pub(alice_id, NAME, BODY, ids["bob"].public_key, {}).encode()
        flood = asyncio.create_task(_publish(ws2, alice_id, to_bob, 20_000))
        await good.run(2_000)
        to_bob_answered = await flood
        dropped_at = None
        while time.monotonic() - start < 30:
            if "took nothing" in engine.log() or "no PONG" in engine.log():
                dropped_at = time.monotonic() - start
                break
            await asyncio.sleep(0.1)
        watcher.cancel()
        w.close()
        await ws.close()
        await ws2.close()
        log = engine.log()
    grown = peak - baseline
    figures(
        f"load 20,000 messages and 300 replays of a 4 MiB message to a subscriber that never "
        f"reads, 2,000 to one that does; faults a peer that stops reading; lost 0 "
        f"({len(good.answered):,}/{len(good.received):,} of the good subscriber's); "
        f"duplicates 0; crashes 0; RSS baseline {mib(baseline)}, peak {mib(peak)} "
        f"(+{mib(grown)}); non-reader dropped after {dropped_at or 0:.1f} s"
    )
    assert not good.errors, good.errors[:5]
    assert to_bob_answered == 20_000
    assert grown < 256 * 1024 * 1024, mib(grown)
    assert dropped_at is not None
    assert "Traceback" not in log


async def _publish(ws, client_id: str, frame: str, count: int) -> int:  # type: ignore[no-untyped-def]
    answered = 0
    for start in range(0, count, 500):
        n = min(500, count - start)
        for _ in range(n):
            await ws.send(frame)
        got = 0
        while got < n:
            reply = await asyncio.wait_for(ws.recv(), 20)
            if reply == "PING":
                await ws.send("PONG")
                continue
            got += 1
            answered += isinstance(reply, str) and reply.startswith("+PASS:")
    return answered


async def test_a_storm_of_churned_idle_half_open_and_slowloris_connections(
    tmp_path: Path, figures
) -> None:
    ids = make_identities(["alice", "bob", "mallory"])
    clients = [
        (ids["alice"], ["*"], []),
        (ids["bob"], [], ["*"]),
        (ids["mallory"], ["*"], ["*"]),
    ]
    settings = {"db": "e.db", "ping_interval": 1, "conn_timeout": 2}
    # 1,024 files: fewer than the storm needs, as in the attack that exhausted them
    with Engine(tmp_path, engine_toml(clients, [NAME], settings), files=1024) as engine:
        port = engine.port
        held: list[asyncio.StreamWriter] = []
        stop = asyncio.Event()
        churned = 0

        async def churn() -> None:
            nonlocal churned
            while not stop.is_set():
                with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
                    _, w = await _raw(port)
                    if random.random() < 0.5:
                        w.write(_frame(frames.Conn(ids["mallory"].access_key).encode()))
                    w.close()
                    churned += 1
                await asyncio.sleep(0.01)

        async def idle(n: int) -> None:
            for _ in range(n):
                with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                    _, w = await _raw(port)
                    held.append(w)

        async def half_open(n: int) -> None:
            for _ in range(n):  # authenticated, then never reads or answers again
                with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                    _, w = await _raw(port)
                    w.write(_frame(frames.Conn(ids["mallory"].access_key).encode()))
                    held.append(w)

        async def slowloris(n: int) -> None:
            writers = []
            for _ in range(n):
                with contextlib.suppress(OSError):
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.write(b"GET /message HTTP/1.1\r\n")
                    writers.append(w)
            while not stop.is_set():
                for w in writers:
                    with contextlib.suppress(Exception):
                        w.write(b"X-a: b\r\n")
                await asyncio.sleep(0.5)
            held.extend(writers)

        start = time.monotonic()
        churners = [asyncio.create_task(churn()) for _ in range(4)]
        loris = asyncio.create_task(slowloris(250))
        await asyncio.gather(idle(250), half_open(250))
        good = Good(engine.url, ids["alice"], ids["bob"])
        await good.run(2_000, pause=0.002)
        peak = engine.rss()
        stop.set()
        await asyncio.gather(*churners, loris)
        for w in held:
            w.close()
        log = engine.log()
    figures(
        f"load {churned + 750:,} connections ({churned:,} churned, 250 idle, 250 half-open, "
        f"250 slowloris) at a 1,024-file limit, 2,000 good publishes; faults connection "
        f"storm; lost 0; good-client errors {len(good.errors)}; crashes 0; RSS {mib(peak)}; "
        f"engine log {len(log) / 1024:.0f} KiB; {time.monotonic() - start:.0f} s"
    )
    assert not good.errors, good.errors[:5]
    assert len(good.received) == 2_000
    assert "Traceback" not in log and "EMFILE" not in log and "Too many open files" not in log
    assert len(log) < 2 * 1024 * 1024


def _snapshot(db: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute(
            "SELECT idem, name, state, due_at, reason FROM messages ORDER BY seq"
        ).fetchall()


async def test_authorization_probes_change_nothing(tmp_path: Path, figures) -> None:
    ids = make_identities(["alice", "bob", "mallory"])
    clients = [
        (ids["alice"], ["*"], ["*"]),
        (ids["bob"], ["*"], [NAME]),
        (ids["mallory"], ["fuzz/*"], ["fuzz/*"]),
    ]
    with Engine(tmp_path, engine_toml(clients, [NAME, "fuzz/x"], {"db": "e.db"})) as engine:
        alice, alice_id = await login(engine.url, ids["alice"])
        idems = []
        for _ in range(5):
            await alice.send(frames.Pub(alice_id, NAME, BODY, ids["bob"].public_key, {}).encode())
            idems.append(replies.parse_kv((await alice.recv())[6:])["idem"])  # type: ignore[index]
        await asyncio.sleep(0.3)
        before = _snapshot(tmp_path / "e.db")
        probes: list[tuple[object, str]] = []
        anon = await _anon(engine.url)
        for frame in (
            frames.Pub(alice_id, NAME, BODY, ids["bob"].public_key, {}).encode(),
            frames.Sub(alice_id, NAME).encode(),
            frames.Ack(alice_id, idems[0], "1", NAME).encode(),
            frames.Replay(alice_id, idems[0], NAME).encode(),
            frames.Discard(alice_id, idems[0], NAME, "x").encode(),
        ):
            probes.append((anon, frame))
        mallory, mallory_id = await login(engine.url, ids["mallory"])
        probes += [
            (mallory, frames.Pub(alice_id, "fuzz/x", BODY, ids["bob"].public_key, {}).encode()),
            (mallory, frames.Sub(alice_id, "fuzz/x").encode()),
            (mallory, frames.Pub(mallory_id, NAME, BODY, ids["bob"].public_key, {}).encode()),
            (mallory, frames.Sub(mallory_id, NAME).encode()),
            (mallory, frames.Pub(mallory_id, "fuzz/x", BODY, ids["bob"].public_key, {}).encode()),
        ]
        for idem in idems:
            probes += [
                (mallory, frames.Ack(mallory_id, idem, "1", NAME).encode()),
                (mallory, frames.Defer(mallory_id, idem, NAME, 5000, "x").encode()),
                (mallory, frames.Discard(mallory_id, idem, NAME, "x").encode()),
                (mallory, frames.Rollback(mallory_id, idem, "1").encode()),
                (mallory, frames.Replay(mallory_id, idem, NAME).encode()),
                (mallory, frames.Replay(mallory_id, idem, "").encode()),
            ]
        refused = 0
        for ws, frame in probes:
            await ws.send(frame)  # type: ignore[attr-defined]
            while (reply := await asyncio.wait_for(ws.recv(), 10)) == "PING":  # type: ignore[attr-defined]
                pass
            assert isinstance(reply, str) and reply.startswith("-FAIL:"), (frame, reply)
            refused += 1
        await asyncio.sleep(0.3)
        after = _snapshot(tmp_path / "e.db")
        for ws in (alice, anon, mallory):
            await ws.close()  # type: ignore[attr-defined]
    figures(
        f"load {len(probes)} probes (before CONN, foreign CLIENT_ID, no permission, others' "
        f"idems for ACK/DEFER/DISCARD/ROLLBACK/REPLAY); refused {refused}; store changed: "
        f"{before != after}; lost 0; crashes 0"
    )
    assert refused == len(probes) and before == after


async def _anon(url: str):  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    return await connect(url)
