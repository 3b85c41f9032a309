"""Fuzz the engine over real sockets while a good client publishes and acks.

``python -m tests.fuzz engine [-- --frames N --seed S --connections C]``

An ``ensync-tui serve`` subprocess on 127.0.0.1 gets generated frames from
several connections at once (some authenticated, some not): frames built
from the grammar with hostile values (lone surrogates, deep JSON, huge
numbers, NaN, others' idems, terminal escapes, access keys in the wrong
place), mutations of valid frames, invalid UTF-8, binary frames, and frames of
6 MiB and more. Meanwhile a good client publishes to a subscriber that acks
each message after handling it. It fails on a crash (the engine exits or
answers ``internal error``), a hang (a connection's replies stop coming), any
error the good client sees, a traceback in the engine log, or engine memory
not back near its baseline at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from ensync_tui.engine.connection import send_frames
from ensync_tui.engine.fastparse import dialect
from ensync_tui.engine.sandbox import Identity, make_identities
from ensync_tui.protocol import frames, replies
from tests.hostile import HOSTILE_TEXTS, LONE_SURROGATE_JSON
from tests.reliability.serve import Engine, engine_toml, login, mib

GOOD = "good/events"
NAMES = ["fuzz/a", "fuzz/b", "orders/created", GOOD]
WINDOW = 1000  # replies a fuzzing connection may wait for at once
BATCH = 250  # frames per write
HANG = 60.0  # seconds without the replies owed: a hang
BIG_EVERY = 4000  # one frame in this many is 6 MiB or more


@dataclass
class Tally:
    frames: int = 0
    big: int = 0
    closes: int = 0  # connections the engine closed (expected after some frames)
    unexpected_closes: int = 0
    internal: int = 0
    hangs: int = 0
    good_sent: int = 0
    good_acked: int = 0
    good_errors: list[str] = field(default_factory=list)
    rss_peak: int = 0


class Frames:
    """Generated client frames: grammar-aware values and mutations."""

    def __init__(self, rng: random.Random, ids: dict[str, Identity]) -> None:
        self.rng = rng
        self.ids = ids
        self.client_ids: list[str] = ["x"]
        self.idems: list[str] = ["0" * 24]
        key = ids["fuzz"].public_key
        hostile = list(HOSTILE_TEXTS.values())
        self.values = [
            "",
            "x",
            "e30=",
            "AAAA",
            key,
            ids["good"].public_key,
            ids["bob"].public_key,
            "orders/created",
            "fuzz/a",
            GOOD,
            "1000",
            "-1",
            "9" * 30,
            "1" * 5000,
            ";",
            "=:",
            ";X=:",
            "\u0000",
            "é" * 50,
            ids["fuzz"].access_key,
            *hostile,
        ]
        self.json = [
            "{}",
            '{"persist":true,"headers":{}}',
            '{"persist":false}',
            '{"headers":{"x":' + LONE_SURROGATE_JSON + "}}",
            '{"v":NaN}',
            '{"v":Infinity}',
            '{"v":-Infinity}',
            '{"v":1e400}',
            '{"v":' + "9" * 4400 + "}",
            '{"v":' + "9" * 4000 + "}",
            '{"v":1.5e308}',
            "[" * 5000 + "]" * 5000,
            '{"a":' + "[" * 900 + "]" * 900 + "}",
            '{"skeleton":{"a":"string"},"byte_size":3}',
            '{"byte_size":-1}',
            '{"byte_size":99999999999}',
            '"{\\"persist\\":true}"',
            "{",
            "null",
            json.dumps({t: t for t in hostile}),
        ]
        self.valid: list[str] = []

    def identity_bits(self) -> None:
        self.valid = [
            f"PUB;CLIENT_ID=:{cid};EVENT_NAME=:fuzz/a;PAYLOAD=:e30=;DELIVERY_TO=:"
            f"{self.ids['fuzz'].public_key};METADATA=:{{}}"
            for cid in self.client_ids[-2:]
        ]
        self.valid += [
            f"SUB;CLIENT_ID=:{self.client_ids[-1]};EVENT_NAME=:fuzz/a",
            f"ACK;CLIENT_ID=:{self.client_ids[-1]};EVENT_IDEM=:{self.idems[-1]};BLOCK=:1;EVENT_NAME=:fuzz/a",
        ]

    def value(self) -> str:
        r = self.rng.random()
        if r < 0.15:
            return self.rng.choice(self.client_ids)
        if r < 0.3:
            return self.rng.choice(self.idems)
        if r < 0.45:
            return self.rng.choice(self.json)
        return self.rng.choice(self.values)

    def grammar(self) -> str:
        rng = self.rng
        cls = rng.choice(list(frames.REQUEST_TYPES.values()))
        keys = [k for k, _ in cls.FIELDS]
        if rng.random() < 0.1:
            rng.shuffle(keys)
        if rng.random() < 0.1 and keys:
            keys.pop(rng.randrange(len(keys)))
        if rng.random() < 0.05:
            keys.append(rng.choice(["X", "METADATA", "CLIENT_ID"]))
        return cls.VERB + "".join(f";{k}=:{self.value()}" for k in keys)

    def mutate(self, frame: str) -> str:
        rng = self.rng
        for _ in range(rng.randint(1, 4)):
            if not frame:
                break
            i = rng.randrange(len(frame))
            op = rng.randrange(6)
            if op == 0:
                frame = frame[:i] + frame[i + 1 :]
            elif op == 1:
                frame = frame[:i] + rng.choice(';=:{}"\\ \x1b\u202e') + frame[i:]
            elif op == 2:
                frame = frame[:i]
            elif op == 3:
                frame = frame[:i] + frame[i:] * 2
            elif op == 4:
                frame = frame[:i] + self.value() + frame[i:]
            else:
                frame = frame[:i] + chr(rng.randrange(32, 0x3000)) + frame[i + 1 :]
        return frame[:200_000]

    def next(self) -> str | bytes:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            frame = self.grammar()
        elif r < 0.85:
            frame = self.mutate(rng.choice(self.valid or [self.grammar()]))
        elif r < 0.93:
            frame = "".join(rng.choice(self.values) for _ in range(rng.randint(1, 6)))
        elif r < 0.97:
            frame = self.mutate(self.grammar())
        elif r < 0.998:
            return b"\x00\xff" + rng.randbytes(rng.randrange(40))
        else:  # text that is not UTF-8: a CESU-8 lone surrogate, or noise
            return rng.choice([b"PUB;\xed\xa0\x80", b"\xff\xfe", b"CONN;ACCESS_KEY=:\xc3"])
        # a PONG (with extra fields or not) is never answered: keep every frame owed one
        return "PONGX" if dialect(frame) == "PONG" else frame

    def big(self) -> str:
        size = self.rng.choice([6 * 1024 * 1024 - 200, 6 * 1024 * 1024 + 10, 7 << 20, 13 << 20])
        cid = self.rng.choice(self.client_ids)
        head = f"PUB;CLIENT_ID=:{cid};EVENT_NAME=:fuzz/a;PAYLOAD=:"
        tail = f";DELIVERY_TO=:{self.ids['fuzz'].public_key};METADATA=:{{}}"
        return head + "A" * (size - len(head) - len(tail)) + tail


async def fuzz_connection(
    engine: Engine, frames: Frames, tally: Tally, quota: int, authenticate: bool, deadline: float
) -> None:
    """Send ``quota`` generated frames over as many connections as it takes."""
    ids = frames.ids
    sent = 0
    while sent < quota and time.monotonic() < deadline:
        try:
            if authenticate:
                ws, cid = await login(engine.url, ids["fuzz"])
                frames.client_ids.append(cid)
                frames.identity_bits()
            else:
                ws = await ws_connect(engine.url, max_size=None, compression=None)
        except (OSError, ConnectionClosed, TimeoutError):
            await asyncio.sleep(0.1)
            continue
        sent += await _drive(ws, frames, tally, quota - sent)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5)


async def _drive(ws: ClientConnection, frames: Frames, tally: Tally, quota: int) -> int:
    owed = 0
    got = asyncio.Event()
    closed_on_purpose = False

    async def read() -> None:
        nonlocal owed
        async for reply in ws:
            if not isinstance(reply, str):
                continue
            if reply == "PING":
                await ws.send("PONG")
                continue
            if reply.startswith("+RECORD:"):
                with contextlib.suppress(Exception):
                    rec = replies.Record.from_json(reply[8:])
                    frames.idems.append(rec.idem)
                continue
            owed -= 1
            got.set()
            if "internal error" in reply:
                tally.internal += 1
            elif reply.startswith("+PASS:{idem="):
                frames.idems.append(replies.parse_kv(reply[6:])["idem"])
            if len(frames.idems) > 200:
                del frames.idems[:100]

    reader = asyncio.create_task(read())
    sent = 0
    try:
        while sent < quota and not reader.done():
            while owed > WINDOW and not reader.done():
                got.clear()
                try:
                    await asyncio.wait_for(got.wait(), HANG)
                except TimeoutError:
                    tally.hangs += 1
                    return sent
            batch: list[str] = []
            killer: bytes | None = None
            while len(batch) < BATCH and sent < quota:
                tally.frames += 1
                sent += 1
                if tally.frames % BIG_EVERY == 0:
                    frame: str | bytes = frames.big()
                    tally.big += 1
                    closed_on_purpose = len(frame) > 12 * 1024 * 1024
                else:
                    frame = frames.next()
                if isinstance(frame, bytes):
                    if frame.startswith(b"\x00"):
                        await ws.send(frame)  # binary: answered with -FAIL
                        owed += 1
                        continue
                    killer = frame  # a text frame that is not UTF-8: the engine closes
                    break
                batch.append(frame)
                owed += frame != "PONG"
                if len(frame) > 100_000:
                    break
            if batch:
                await send_frames(ws, batch)
            if closed_on_purpose and killer is None:  # a frame over 12 MiB closes it
                await asyncio.wait_for(ws.wait_closed(), HANG)
                break
            if killer is not None:
                async with ws.send_context():
                    ws.protocol.send_text(killer)
                closed_on_purpose = True
                await asyncio.wait_for(ws.wait_closed(), HANG)
                break
        if not reader.done():
            # everything answered before the next connection
            end = time.monotonic() + HANG
            while owed > 0 and not reader.done() and time.monotonic() < end:
                got.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(got.wait(), 1)
            if owed > 0 and not reader.done():
                tally.hangs += 1
    except (ConnectionClosed, OSError, AttributeError):
        pass  # closed under a send (AttributeError: websockets aborting a closed transport)
    finally:
        if reader.done() or closed_on_purpose:
            tally.closes += 1
            if not closed_on_purpose:
                tally.unexpected_closes += 1
        reader.cancel()
    return sent


async def good_client(
    engine: Engine, ids: dict[str, Identity], tally: Tally, stop: asyncio.Event
) -> None:
    """alice publishes to bob, who acks each message after handling it."""
    pub_ws, alice_id = await login(engine.url, ids["good"])
    sub_ws, bob_id = await login(engine.url, ids["bob"])
    await sub_ws.send(frames.Sub(bob_id, GOOD).encode())
    sent: set[str] = set()
    acked: set[str] = set()
    answers: asyncio.Queue[str] = asyncio.Queue()

    async def subscriber() -> None:
        async for frame in sub_ws:
            assert isinstance(frame, str)
            if frame == "PING":
                await sub_ws.send("PONG")
            elif frame.startswith("+RECORD:"):
                rec = replies.Record.from_json(frame[8:])
                await sub_ws.send(frames.Ack(bob_id, rec.idem, str(rec.block), GOOD).encode())
                acked.add(rec.idem)
            elif not frame.startswith("+PASS:"):
                tally.good_errors.append(f"subscriber got {frame[:120]!r}")

    async def publisher_replies() -> None:
        async for frame in pub_ws:
            assert isinstance(frame, str)
            if frame == "PING":
                await pub_ws.send("PONG")
            else:
                answers.put_nowait(frame)

    tasks = [asyncio.create_task(subscriber()), asyncio.create_task(publisher_replies())]
    body = "eyJvayI6MX0="
    try:
        while not stop.is_set():
            await pub_ws.send(
                frames.Pub(
                    alice_id, GOOD, body, ids["bob"].public_key, {"persist": True, "headers": {}}
                ).encode()
            )
            try:
                reply = await asyncio.wait_for(answers.get(), 10)
            except TimeoutError:
                tally.good_errors.append("publish not answered in 10 s")
                break
            if not reply.startswith("+PASS:"):
                tally.good_errors.append(f"publish refused: {reply[:120]!r}")
                continue
            sent.add(replies.parse_kv(reply[6:])["idem"])
            tally.good_sent += 1
            await asyncio.sleep(0.005)
        end = time.monotonic() + 30
        while not sent <= acked and time.monotonic() < end:
            await asyncio.sleep(0.1)
        missing = sent - acked
        if missing:
            tally.good_errors.append(f"{len(missing)} published messages never delivered")
        tally.good_acked = len(sent & acked)
        for t in tasks:
            if t.done() and t.exception() is not None:
                tally.good_errors.append(f"good client failed: {t.exception()!r}")
    finally:
        for t in tasks:
            t.cancel()
        await pub_ws.close()
        await sub_ws.close()


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    ids = make_identities(["fuzz", "good", "bob"])
    clients = [
        (ids["fuzz"], ["fuzz/*", "orders/*"], ["fuzz/*", "orders/*"]),
        (ids["good"], [GOOD], []),
        (ids["bob"], [], [GOOD]),
    ]
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="ensync-fuzz-") as tmp:
        engine = Engine(Path(tmp), engine_toml(clients, NAMES, {"db": "fuzz.db"}))
        engine.start()
        try:
            return await _campaign(args, engine, Frames(rng, ids), ids, tally)
        finally:
            engine.stop()


async def _campaign(
    args: argparse.Namespace, engine: Engine, frames: Frames, ids: dict[str, Identity], tally: Tally
) -> int:
    stop = asyncio.Event()
    good = asyncio.create_task(good_client(engine, ids, tally, stop))
    await asyncio.sleep(1.0)
    baseline = engine.rss()
    start = time.monotonic()
    deadline = start + args.max_seconds

    async def watch() -> None:
        while True:
            tally.rss_peak = max(tally.rss_peak, engine.rss())
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    per = [args.frames // args.connections] * args.connections
    per[0] += args.frames - sum(per)
    workers = [
        fuzz_connection(engine, frames, tally, n, authenticate=i % 3 != 2, deadline=deadline)
        for i, n in enumerate(per)
    ]
    await asyncio.gather(*workers)
    elapsed = time.monotonic() - start
    stop.set()
    await good
    await asyncio.sleep(5)  # let the engine settle before measuring
    end_rss = engine.rss()
    watcher.cancel()
    crashed = not engine.alive()
    log = engine.log()
    tracebacks = log.count("Traceback")
    memory_ok = end_rss <= max(baseline * 1.5, baseline + 64 * 1024 * 1024)
    failures = {
        "crashes": int(crashed) + tally.internal + tracebacks,
        "hangs": tally.hangs,
        "good-client errors": len(tally.good_errors),
        "too few frames": int(tally.frames < args.frames),
        "memory not back": int(not memory_ok),
    }
    print(
        f"frames {tally.frames:,} in {elapsed:.0f} s ({tally.frames / elapsed:,.0f}/s), "
        f"{tally.big} of 6 MiB or more, {tally.closes} connections closed by the engine "
        f"({tally.unexpected_closes} unexpected)\n"
        f"crashes {failures['crashes']} (engine exited: {crashed}, "
        f"internal errors {tally.internal}, "
        f"tracebacks {tracebacks}), hangs {tally.hangs}, good-client errors "
        f"{len(tally.good_errors)} ({tally.good_sent:,} published, {tally.good_acked:,} delivered "
        f"and acked)\nengine RSS baseline {mib(baseline)}, peak {mib(tally.rss_peak)}, "
        f"end {mib(end_rss)}; engine log {len(log) / 1024:.0f} KiB",
        flush=True,
    )
    for error in tally.good_errors[:10]:
        print("  good client:", error)
    if tracebacks:
        at = log.index("Traceback")
        print(log[max(0, at - 500) : at + 3000])
    bad = [k for k, v in failures.items() if v]
    if bad:
        print("FAILED:", ", ".join(bad))
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz engine --")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--max-seconds", type=float, default=540.0)
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
