"""Engine figures: PUB ingest rate, connection setup, management API round trips,
delivery rate to one subscriber, replay-by-ID latency.

The engine runs in its own process (as `ensync-tui serve` would); the load comes
from this process over raw WebSockets with pre-built frames and 700-byte
payloads. Delivery is measured side by side with ``max_in_flight = 1`` (EnSync's
need-based push: the next record goes out once the last one is acked) and with
a wide window, each in an engine process of its own, with the same subscriber
(its own process, acking every record as it comes). Replay latency is measured
after 1,000,000 stored messages, inserted directly through the store API.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from ensync_tui.batching import BatchedTransport
from ensync_tui.engine import EngineConfig, EngineServer, MessageSpec
from ensync_tui.engine.broker import client_id_for
from ensync_tui.engine.config import AccountSpec
from ensync_tui.engine.sandbox import Identity, make_identities, sandbox_config
from ensync_tui.engine.server import send_frames
from ensync_tui.engine.store import NewMessage, Store, now_ms
from ensync_tui.protocol import frames
from ensync_tui.protocol.crypto import encrypt_payload

NAME = "bench/orders"
PAYLOAD_BYTES = 700
PUBLISHERS = 4
INGEST_MESSAGES = 60_000
DELIVERY_MESSAGES = 40_000
WIDE = 10_000  # the wide window: records in flight per subscription
REPLAY_STORED = 1_000_000
REPLAY_SAMPLES = 2_000
SEND_BATCH = 100


def _payload(recipient: str, size: int = PAYLOAD_BYTES) -> str:
    """A real envelope whose base64 text is about ``size`` bytes."""
    filler = 0
    while True:
        text = encrypt_payload({"order_id": "A-1", "data": "x" * filler}, [recipient])
        if len(text) >= size:
            return text
        filler += max(1, (size - len(text)) * 3 // 4)


def _engine_process(cfg: EngineConfig, pipe: Any) -> None:
    async def run() -> None:
        async with EngineServer(cfg) as server:
            pipe.send(server.port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(run())


class EngineProcess:
    """An engine in a child process, so the load generator does not share its core."""

    def __init__(self, cfg: EngineConfig) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._proc = ctx.Process(target=_engine_process, args=(cfg, child), daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        if not self._pipe.poll(30):
            raise RuntimeError("engine process did not start")
        return f"ws://127.0.0.1:{self._pipe.recv()}/message"

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._proc.join(20)
        if self._proc.is_alive():
            self._proc.kill()


class _Batched(ClientConnection):
    """The load's connections write each loop tick's frames in one system call."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(BatchedTransport(transport, asyncio.get_running_loop()))


async def _open(url: str, who: Identity) -> ClientConnection:
    ws = await connect(
        url, compression=None, max_size=None, ping_interval=None, create_connection=_Batched
    )
    await ws.send(frames.Conn(who.access_key).encode())
    reply = await ws.recv()
    assert isinstance(reply, str) and reply.startswith("+PASS:"), reply
    return ws


async def _pump(ws: ClientConnection, frames: list[str]) -> int:
    """Send frames pipelined; count the +PASS replies (records are skipped)."""
    passed = 0

    async def read() -> None:
        nonlocal passed
        answered = 0
        async for frame in ws:
            if frame == "PING":
                await ws.send("PONG")
            elif isinstance(frame, str) and frame[0] in "+-" and not frame.startswith("+RECORD"):
                answered += 1
                passed += frame.startswith("+PASS")
                if answered == len(frames):
                    return

    reader = asyncio.create_task(read())
    for i in range(0, len(frames), SEND_BATCH):
        await send_frames(ws, frames[i : i + SEND_BATCH])
    await reader
    return passed


def _pub_frames(sender: Identity, recipient: Identity, count: int) -> list[str]:
    payload = _payload(recipient.public_key)
    frame = frames.Pub(
        client_id_for(sender.access_key),
        NAME,
        payload,
        recipient.public_key,
        {"persist": True, "headers": {}},
        {"byte_size": PAYLOAD_BYTES, "skeleton": {"order_id": "string", "data": "string"}},
    ).encode()
    return [frame] * count


async def _ingest(url: str, ids: dict[str, Identity]) -> float:
    per = INGEST_MESSAGES // PUBLISHERS
    pubs = [await _open(url, ids[f"p{i}"]) for i in range(PUBLISHERS)]
    frames = [_pub_frames(ids[f"p{i}"], ids["sink"], per) for i in range(PUBLISHERS)]
    start = time.perf_counter()
    passed = await asyncio.gather(*(_pump(ws, f) for ws, f in zip(pubs, frames, strict=True)))
    elapsed = time.perf_counter() - start
    assert sum(passed) == per * PUBLISHERS, passed
    for ws in pubs:
        await ws.close()
    return per * PUBLISHERS / elapsed


async def _subscribe_and_ack(url: str, who: Identity, total: int, pipe: Any) -> None:
    """One subscriber: ACK every record, stop when every ACK is confirmed.
    Reports when it sent SUB and when the last ACK was confirmed."""
    sub_id = client_id_for(who.access_key)
    ws = await _open(url, who)
    pipe.send("connected")
    if pipe.recv() != "subscribe":
        return
    subscribed = time.time()
    await ws.send(frames.Sub(sub_id, NAME).encode())
    assert (await ws.recv()).startswith("+PASS")  # type: ignore[union-attr]
    pipe.send("ready")
    acks: list[str] = []
    wake = asyncio.Event()

    async def send_acks() -> None:
        while True:
            await wake.wait()
            wake.clear()
            batch = acks[:]
            del acks[:]
            await send_frames(ws, batch)

    acker = asyncio.create_task(send_acks())
    acked = 0
    async for frame in ws:
        if not isinstance(frame, str):
            continue
        if frame.startswith("+RECORD:"):
            record = json.loads(frame[8:])
            acks.append(
                f"ACK;CLIENT_ID=:{sub_id};EVENT_IDEM=:{record['idem']};"
                f"BLOCK=:{record['block']};EVENT_NAME=:{NAME}"
            )
            wake.set()
        elif frame.startswith("+PASS:{acked="):
            acked += 1
            if acked == total:
                break
        elif frame.startswith("-FAIL"):
            raise RuntimeError(frame)
    pipe.send((subscribed, time.time()))
    acker.cancel()
    await ws.close()


def _subscriber_process(url: str, who: Identity, total: int, pipe: Any) -> None:
    asyncio.run(_subscribe_and_ack(url, who, total, pipe))


async def _delivery(url: str, ids: dict[str, Identity]) -> tuple[float, float]:
    """Live: one subscriber in its own process, then publishers here; timed
    until every ACK is confirmed. Backlog: everything stored first, then the
    same subscriber drains it from its SUB, acking each record."""
    per = DELIVERY_MESSAGES // PUBLISHERS
    total = per * PUBLISHERS
    pubs = [await _open(url, ids[f"p{i}"]) for i in range(PUBLISHERS)]
    frames_ = [_pub_frames(ids[f"p{i}"], ids["reader"], per) for i in range(PUBLISHERS)]
    loop = asyncio.get_running_loop()
    rates = []
    for live in (True, False):
        ctx = mp.get_context("spawn")
        pipe, child = ctx.Pipe()
        reader = ctx.Process(
            target=_subscriber_process, args=(url, ids["reader"], total, child), daemon=True
        )
        reader.start()
        assert pipe.poll(30) and pipe.recv() == "connected"
        if not live:  # the backlog first
            await asyncio.gather(*(_pump(ws, f) for ws, f in zip(pubs, frames_, strict=True)))
        pipe.send("subscribe")
        assert pipe.poll(30) and pipe.recv() == "ready"
        start = time.time()
        if live:
            await asyncio.gather(*(_pump(ws, f) for ws, f in zip(pubs, frames_, strict=True)))
        if not await loop.run_in_executor(None, pipe.poll, 300):
            raise RuntimeError("the subscriber did not finish")
        subscribed, done = pipe.recv()
        rates.append(total / (done - (start if live else subscribed)))
        reader.join(10)
    for ws in pubs:
        await ws.close()
    return rates[0], rates[1]


def _fill(db: str, ids: dict[str, Identity]) -> tuple[list[str], float]:
    """Store REPLAY_STORED messages straight through the store API; returns their idems."""
    store = Store(db)
    sender, recipient = ids["p0"].public_key, ids["reader"].public_key
    payload = _payload(recipient, 200)
    metadata = '{"persist":true,"headers":{}}'
    prefix = f"{now_ms():011x}"
    idems: list[str] = []
    start = time.perf_counter()
    batch = 20_000
    logged = now_ms()
    for first in range(0, REPLAY_STORED, batch):
        rows = []
        for seq in range(first + 1, min(first + batch, REPLAY_STORED) + 1):
            idem = f"{prefix}{seq:09x}"
            idems.append(idem)
            rows.append(
                NewMessage(seq, idem, NAME, seq, logged, sender, recipient, payload, metadata, True)
            )
        with store.transaction():
            store.insert(rows)
    rate = REPLAY_STORED / (time.perf_counter() - start)
    store.close()
    return idems, rate


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples), p99


async def _replay_over_socket(url: str, who: Identity, idems: list[str]) -> list[float]:
    ws = await _open(url, who)
    cid = client_id_for(who.access_key)
    times = []
    for idem in idems:
        frame = frames.Replay(cid, idem, NAME).encode()
        start = time.perf_counter()
        await ws.send(frame)
        reply = await ws.recv()
        times.append(time.perf_counter() - start)
        assert isinstance(reply, str) and reply.startswith("+REPLAY:"), reply[:80]
    await ws.close()
    return times


CONNECTIONS = 400
API_CALLS = 2_000
ACCOUNT_KEY = "bench-account-key"


async def _connections(url: str, who: Identity) -> float:
    """Connections set up and closed one after another (the front's whole cost)."""
    start = time.perf_counter()
    for _ in range(CONNECTIONS):
        ws = await _open(url, who)
        await ws.close()
    return CONNECTIONS / (time.perf_counter() - start)


def _api_calls(url: str) -> float:
    """GET /event round trips on one keep-alive HTTP connection."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"X-ACCESS-KEY": ACCOUNT_KEY}
    start = time.perf_counter()
    for _ in range(API_CALLS):
        conn.request("GET", "/api/v1/ensync/event?limit=100", headers=headers)
        answer = conn.getresponse()
        assert answer.status == 200, answer.status
        answer.read()
    conn.close()
    return API_CALLS / (time.perf_counter() - start)


def main() -> None:
    names = [f"p{i}" for i in range(PUBLISHERS)] + ["sink", "reader"]
    ids = make_identities(names)
    messages = [MessageSpec(NAME, {"order_id": "string", "data": "string"})]
    with tempfile.TemporaryDirectory(prefix="ensync-bench-") as tmp:
        delivery = {}
        for window in (1, WIDE):
            db = str(Path(tmp) / f"delivery-{window}.db")
            cfg = sandbox_config(ids, messages, port=0, db=db, max_in_flight=window)
            cfg.accounts = [AccountSpec("bench", ACCOUNT_KEY)]
            with EngineProcess(cfg) as url:
                if window == 1:
                    ingest = asyncio.run(_ingest(url, ids))
                    connects = asyncio.run(_connections(url, ids["reader"]))
                    api_calls = _api_calls("http" + url[2:])
                delivery[window] = asyncio.run(_delivery(url, ids))
        print(
            f"   PUB ingest ({PUBLISHERS} pipelined publishers, {PAYLOAD_BYTES} B payloads, "
            f"stored and acknowledged): {ingest:,.0f} msg/s"
        )
        print(
            f"   connection setup (connect, CONN, close; {CONNECTIONS} one after another): "
            f"{connects:,.0f}/s"
        )
        print(
            f"   management API (GET /event, keep-alive, {API_CALLS:,} one after another): "
            f"{api_calls:,.0f} requests/s"
        )
        (one_live, one_backlog), (wide_live, wide_backlog) = delivery[1], delivery[WIDE]
        print(
            "   delivery to one subscriber (own process), each ACKed as it comes, "
            f"{DELIVERY_MESSAGES:,} messages:"
        )
        print(
            f"     max_in_flight = 1 (EnSync's model): live {one_live:,.0f} msg/s"
            f"   | backlog drain from SUB {one_backlog:,.0f} msg/s"
        )
        print(
            f"     max_in_flight = {WIDE:,}: live {wide_live:,.0f} msg/s"
            f"   | backlog drain from SUB {wide_backlog:,.0f} msg/s"
            f"   (one at a time: {one_live / wide_live:.2f}x live, "
            f"{one_backlog / wide_backlog:.2f}x backlog)"
        )

        db = str(Path(tmp) / "replay.db")
        idems, insert_rate = _fill(db, ids)
        print(f"   stored {REPLAY_STORED:,} messages via the store API: {insert_rate:,.0f} rows/s")
        rng = random.Random(1)
        sample = [rng.choice(idems) for _ in range(REPLAY_SAMPLES)]
        store = Store(db)
        lookups = []
        for idem in sample:
            start = time.perf_counter()
            assert store.get(idem) is not None
            lookups.append(time.perf_counter() - start)
        store.close()
        p50, p99 = _percentiles(lookups)
        print(
            f"   store lookup by idem after 1M: p50 {p50 * 1000:.3f} ms   p99 {p99 * 1000:.3f} ms"
        )
        cfg = sandbox_config(ids, messages, port=0, db=db)
        with EngineProcess(cfg) as url:
            times = asyncio.run(_replay_over_socket(url, ids["reader"], sample))
        p50, p99 = _percentiles(times)
        verdict = "ok" if p50 <= 0.002 else "OVER the 2 ms goal"
        print(
            f"   REPLAY round trip after 1M: p50 {p50 * 1000:.3f} ms   p99 {p99 * 1000:.3f} ms"
            f"   (goal p50 <= 2 ms: {verdict})"
        )


if __name__ == "__main__":
    main()
