"""The engine under faults: SIGKILL and restart mid-stream, and a half-open peer."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from ensync_tui.engine.sandbox import make_identities
from ensync_tui.protocol import frames, replies

from .serve import Engine, engine_toml, login, mib

NAME = "orders/created"
TOTAL = 50_000
KILLS = 10
WINDOW = 200
BODY = "eyJvcmRlciI6MX0="


def _pending(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute("SELECT COUNT(*) FROM messages WHERE state IN (0, 3)").fetchone()[0]


async def test_sigkill_and_restart_ten_times_during_a_stream(tmp_path: Path, figures) -> None:
    ids = make_identities(["alice", "bob"])
    toml = engine_toml([(ids["alice"], ["*"], []), (ids["bob"], [], ["*"])], [NAME], {"db": "e.db"})
    engine = Engine(tmp_path, toml)
    engine.start()
    answered: set[str] = set()
    received: Counter[str] = Counter()
    peak = 0
    done = asyncio.Event()

    async def publisher() -> None:
        while len(answered) < TOTAL:
            try:
                ws, cid = await login(engine.url, ids["alice"])
            except (OSError, ConnectionClosed, TimeoutError, AssertionError):
                await asyncio.sleep(0.05)
                continue
            try:
                while len(answered) < TOTAL:
                    n = min(WINDOW, TOTAL - len(answered))
                    pub = frames.Pub(cid, NAME, BODY, ids["bob"].public_key, {}).encode()
                    for _ in range(n):
                        await ws.send(pub)
                    got = 0
                    while got < n:
                        reply = await asyncio.wait_for(ws.recv(), 20)
                        if reply == "PING":
                            await ws.send("PONG")
                            continue
                        assert isinstance(reply, str) and reply.startswith("+PASS:"), reply
                        answered.add(replies.parse_kv(reply[6:])["idem"])
                        got += 1
            except (ConnectionClosed, OSError, TimeoutError):
                pass  # killed: what was answered is counted, the rest is sent again
            finally:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def subscriber() -> None:
        while not done.is_set():
            try:
                ws, cid = await login(engine.url, ids["bob"])
                await ws.send(frames.Sub(cid, NAME).encode())
                async for frame in ws:
                    assert isinstance(frame, str)
                    if frame == "PING":
                        await ws.send("PONG")
                    elif frame.startswith("+RECORD:"):
                        rec = replies.Record.from_json(frame[8:])
                        received[rec.idem] += 1  # handled, then acked
                        await ws.send(frames.Ack(cid, rec.idem, str(rec.block), NAME).encode())
            except (ConnectionClosed, OSError, TimeoutError, AssertionError):
                await asyncio.sleep(0.05)

    async def killer() -> int:
        nonlocal peak
        kills = 0
        while kills < KILLS:
            threshold = (kills + 1) * TOTAL // (KILLS + 1)
            while len(answered) < threshold:
                peak = max(peak, engine.rss())
                await asyncio.sleep(0.01)
            engine.kill()
            kills += 1
            await asyncio.sleep(0.2)
            await asyncio.to_thread(engine.start)
        return kills

    start = time.monotonic()
    sub = asyncio.create_task(subscriber())
    kills_task = asyncio.create_task(killer())
    await asyncio.wait_for(publisher(), 600)
    kills = await asyncio.wait_for(kills_task, 60)
    end = time.monotonic() + 120
    while not answered <= set(received) and time.monotonic() < end:
        await asyncio.sleep(0.1)
    lost = len(answered - set(received))
    # every ack answered: a request after them is answered after them
    ws, cid = await login(engine.url, ids["bob"])
    await ws.send(frames.Replay(cid, next(iter(answered)), NAME).encode())
    while (await asyncio.wait_for(ws.recv(), 20)) == "PING":
        pass
    await ws.close()
    done.set()
    sub.cancel()
    assert engine.stop() == 0
    pending = _pending(tmp_path / "e.db")
    duplicates = sum(n - 1 for n in received.values())
    log = engine.log()
    figures(
        f"load {TOTAL:,} answered publishes, manual ack; faults {kills} SIGKILLs and restarts; "
        f"lost {lost}; duplicates {duplicates:,}; pending at the end {pending}; crashes 0; "
        f"peak RSS {mib(peak)}; {time.monotonic() - start:.0f} s"
    )
    assert lost == 0 and pending == 0 and kills == KILLS
    assert "Traceback" not in log, log[-3000:]


class Proxy:
    """A loopback TCP proxy that can stop forwarding while keeping both sockets open."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.forwarding = True
        self.upstream_closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            while True:
                data = await src.read(65536)
                if not data:
                    if not up:
                        self.upstream_closed.set()
                    return
                if self.forwarding:
                    dst.write(data)
                    await dst.drain()

        await asyncio.gather(pipe(r, uw, True), pipe(ur, w, False), return_exceptions=True)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_half_open_peer_is_dropped_within_two_ping_intervals(tmp_path: Path, figures) -> None:
    ids = make_identities(["alice"])
    interval = 1.0
    toml = engine_toml([(ids["alice"], ["*"], ["*"])], [NAME], {"db": "e.db"})
    with Engine(tmp_path, toml, "--ping-interval", str(interval)) as engine:
        proxy = Proxy(engine.port)
        port = await proxy.start()
        ws, _ = await login(f"ws://127.0.0.1:{port}/message", ids["alice"])

        async def answer() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for frame in ws:
                    if frame == "PING":
                        await ws.send("PONG")

        reader = asyncio.create_task(answer())
        await asyncio.sleep(interval * 1.5)  # a PING answered
        proxy.forwarding = False
        stopped = time.monotonic()
        await asyncio.wait_for(proxy.upstream_closed.wait(), interval * 4)
        took = time.monotonic() - stopped
        reader.cancel()
        await proxy.close()
        ws.transport.abort()
        log = engine.log()
    figures(
        f"load 1 connection, ping interval {interval:g} s; faults the path stops forwarding "
        f"(half-open); dropped after {took:.2f} s; lost 0; crashes 0"
    )
    assert took <= 2 * interval + 0.3, took
    assert "no PONG to 2 PINGs" in log
