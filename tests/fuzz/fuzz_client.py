"""Fuzz the client: generated and mutated records and envelopes, then a hostile engine.

``python -m tests.fuzz client [-- --inputs N --frames N --seed S]``

1. ``--inputs`` (1,000,000) inputs, grammar-aware and mutated: record frames
   through ``Connection.receive`` and ``Record.from_json``, envelopes through
   ``crypto.decrypt_payload``, ``describe_envelope``, ``Opener.open`` and
   ``to_message``. Lone surrogates, deep JSON, huge numbers, NaN, binary
   frames and hybrid envelopes with up to 15,000 key entries are among them.
   Anything but an event, a record, a value or a DecryptError is a crash;
   known-good inputs must still decode to what they hold.
2. ``--frames`` (20,000) hostile frames from a fake engine into a real
   client connection, with a good record every 50 frames: every good record
   must arrive, the reader must never stop (one connection, no reconnect) and
   a request after the storm must still get its own answer.

Each input is timed; one slower than ``--limit`` seconds (2) counts as a hang,
and a stuck input ends the run with a traceback. Prints a summary; exit 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import faulthandler
import json
import logging
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from ensync_tui.client import EnSyncEngine, crypto
from ensync_tui.client.api import to_message
from ensync_tui.client.connection import Connection
from ensync_tui.client.events import Delivery, Malformed
from ensync_tui.client.sealing import Opener
from ensync_tui.protocol import frames, replies
from tests import hostile
from tests.client.scripted import ScriptedServer, record_frame

INT64 = range(-(2**63), 2**63)
STUCK_SECONDS = 60  # one batch this long is a hang: tracebacks, then exit


class Gen:
    """Inputs from a seeded generator: a grammar of records and envelopes, plus mutation."""

    def __init__(self, seed: int, keys: tuple[str, str]) -> None:
        self.r = random.Random(seed)
        self.public, self.secret = keys
        self.others = [crypto.generate_keypair()[0] for _ in range(4)]
        self.words = [*hostile.HOSTILE_TEXTS.values(), "a/b", "orders/status", "", " ", "i-1"]
        self.good: list[tuple[str, Any]] = []  # (envelope, what it holds)
        for i in range(120):
            value = {"i": i, "t": self.r.choice(self.words)}
            recipients = [self.public] if i % 2 else [self.public, *self.others[: 1 + i % 3]]
            self.good.append((crypto.encrypt_payload(value, recipients), value))
        self.foreign = [crypto.encrypt_payload({"x": i}, self.others[:1]) for i in range(20)]
        self.wide = hostile.wide_hybrid(self.others[0], 15_000)  # 4 MiB, not for us
        self.wide_ours = hostile.wide_hybrid(self.public, 2_000, b'{"wide":true}')
        self.corpus = [self.record_text() for _ in range(400)]

    # ---------------------------------------------------------- pieces
    def text(self) -> str:
        r = self.r
        pick = r.random()
        if pick < 0.4:
            return r.choice(self.words)
        if pick < 0.7:
            return "".join(chr(r.randrange(0x20, 0x7F)) for _ in range(r.randrange(12)))
        if pick < 0.9:  # anything, lone surrogates and controls included
            return "".join(chr(r.randrange(0x110000)) for _ in range(r.randrange(8)))
        return r.choice(["\ud800", "x\udfffy", "\u202e", "\x1b[2J", "\x9b", "\U0001f600"])

    def number(self) -> Any:
        r = self.r
        return r.choice(
            [
                r.randrange(1000),
                r.choice([2**63 - 1, -(2**63), 2**63, 2**64, -1, 0]),
                "9" * r.choice([1, 18, 19, 20, 4300, 5000]),
                r.random() * 1e6,
                float("nan"),
                float("inf"),
                True,
                None,
                str(r.randrange(10**6)),
                "١٢",
            ]
        )

    def value(self, depth: int = 0) -> Any:
        r = self.r
        if depth > 3 or r.random() < 0.5:
            return r.choice([self.text, self.number])()
        if r.random() < 0.5:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        return {self.text(): self.value(depth + 1) for _ in range(r.randrange(4))}

    def record_text(self) -> str:
        r = self.r
        body: dict[str, Any] = {"name": "a/b", "idem": f"i-{r.randrange(10**6)}", "payload": "p"}
        for key in ("name", "idem", "block", "loggedAt", "payload", "metadata", "sender", "id"):
            roll = r.random()
            if roll < 0.04:
                body.pop(key, None)
            elif roll < 0.2:
                body[key] = self.number() if key in ("block", "loggedAt") else self.value()
            elif roll < 0.4 and key in ("block", "loggedAt"):
                body[key] = r.randrange(2**40)
            elif roll < 0.5:
                body[key] = self.text() or "x"
        if r.random() < 0.2:
            body["metadata"] = json.dumps(self.value(), ensure_ascii=r.random() < 0.5)
        if r.random() < 0.3:
            body["payload"] = r.choice(self.good)[0]
        text = json.dumps(body, ensure_ascii=r.random() < 0.5)
        if r.random() < 0.05:  # deep JSON in a field
            n = r.choice([50, 990, 1000, 5000, 100_000])
            text = text[:-1] + f',"metadata":{"[" * n}{"]" * n}}}'
        if r.random() < 0.05:  # a huge number literal
            text = text[:-1] + f',"block":{"9" * r.choice([19, 20, 4301, 6000])}}}'
        return text

    def mutate(self, text: str) -> str:
        r = self.r
        for _ in range(r.randrange(1, 4)):
            if not text:
                break
            at = r.randrange(len(text))
            op = r.randrange(6)
            if op == 0:
                text = text[:at] + text[at + 1 :]
            elif op == 1:
                text = text[:at] + self.text() + text[at:]
            elif op == 2:
                text = text[:at]
            elif op == 3:
                text = text[:at] + r.choice(self.corpus) + text[at:]
            elif op == 4:
                text = (
                    text[:at] + r.choice(["\\ud800", "NaN", "[", "{", '"', ",", "\\"]) + text[at:]
                )
            else:
                end = min(len(text), at + r.randrange(1, 40))
                text = text[:at] + text[at:end] * r.randrange(2, 5) + text[end:]
        return text

    # ---------------------------------------------------------- inputs
    def frame(self) -> str | bytes:
        r = self.r
        prefix = r.choice(["+RECORD:"] * 6 + ["+REPLAY:", "+PASS:", "-FAIL:", "PING", "", "+RE"])
        body = self.record_text() if r.random() < 0.5 else r.choice(self.corpus)
        frame = prefix + body
        if r.random() < 0.5:
            frame = self.mutate(frame)
        roll = r.random()
        if roll < 0.05:
            return bytes(r.randrange(256) for _ in range(r.randrange(64)))
        if roll < 0.15:
            return frame.encode("utf-8", "surrogatepass")
        return frame

    def envelope(self) -> tuple[str, Any]:
        """(envelope text, the value it must open to, or _NONE when it need not open)."""
        r = self.r
        roll = r.random()
        if roll < 0.2:
            return r.choice(self.good)
        if roll < 0.25:
            return r.choice(self.foreign), _NONE
        if roll < 0.2501:
            return self.wide, _NONE
        if roll < 0.2502:
            return self.wide_ours, {"wide": True}
        if roll < 0.45:  # a good one with a character changed
            text = r.choice(self.good)[0]
            at = r.randrange(len(text))
            return text[:at] + r.choice("A/+=x%\u00e9") + text[at + 1 :], _NONE
        if roll < 0.8:  # a structure, decoded or not, with parts from good ones
            return base64.b64encode(
                self.envelope_json().encode("utf-8", "surrogatepass")
            ).decode(), _NONE
        if roll < 0.9:
            return base64.b64encode(
                self.mutate(r.choice(self.corpus)).encode("utf-8", "surrogatepass")
            ).decode(), _NONE
        return self.text(), _NONE

    def envelope_json(self) -> str:
        r = self.r
        good = json.loads(base64.b64decode(r.choice(self.good)[0]))
        entry_fields = ["nonce", "ciphertext", "encryptedKey", "ephemeralPublicKey"]
        if good.get("type") == "hybrid" and r.random() < 0.7:
            keys = good["keys"]
            ids = [self.public, self.public.rstrip("="), base64.b64decode(self.public).hex()]
            for _ in range(r.randrange(0, 40)):
                keys[r.choice([*ids, self.text(), f"k{r.randrange(99)}"])] = r.choice(
                    [*keys.values(), self.value(), {}]
                )
            if r.random() < 0.3:
                good["payload"] = r.choice([self.value(), {"nonce": "AAAA"}, good["payload"]])
        else:
            for name in r.sample(entry_fields, r.randrange(len(entry_fields))):
                good[name] = r.choice(
                    [
                        self.text(),
                        self.value(),
                        base64.b64encode(r.randbytes(r.choice([0, 24, 31, 32, 48]))).decode(),
                    ]
                )
        if r.random() < 0.1:
            good["type"] = self.value()
        text = json.dumps(good)
        return self.mutate(text) if r.random() < 0.3 else text


_NONE = object()


class Tally:
    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.inputs = 0
        self.crashes: list[str] = []
        self.slowest = (0.0, "")
        self.counts: dict[str, int] = {}

    def run(self, label: str, what: Any, check: Callable[[], None]) -> None:
        self.inputs += 1
        start = time.perf_counter()
        try:
            check()
        except Exception as exc:
            if len(self.crashes) < 20:
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                self.crashes.append(f"{label}: {detail} on {_show(what)}")
            else:
                self.crashes.append(label)
        seconds = time.perf_counter() - start
        if seconds > self.slowest[0]:
            self.slowest = (seconds, f"{label} {_show(what)}")

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}… ({len(text)} chars)"


def check_record(record: replies.Record) -> None:
    for text in (record.name, record.idem):
        if not (isinstance(text, str) and text):
            raise AssertionError(f"record with an empty name or idem: {record!r:.100}")
        text.encode()
    if record.block not in INT64 or record.logged_at not in INT64:
        raise AssertionError("record block or time outside 64 bits")
    if not isinstance(record.metadata, dict) or not isinstance(record.sender, str):
        raise AssertionError("record metadata or sender of the wrong type")


def fuzz_inputs(gen: Gen, total: int, tally: Tally) -> None:
    conn = Connection("fuzz-access-key")
    opener = Opener()
    secret = gen.secret

    def one_frame(frame: str | bytes) -> Callable[[], None]:
        def check() -> None:
            if gen.r.random() < 0.1:
                conn.request_text("REPLAY", "REPLAY;...", "waiter", 0.0)
            events = conn.receive(frame)
            if len(events) != 1:
                raise AssertionError(f"{len(events)} events for one frame")
            event = events[0]
            tally.count(type(event).__name__)
            if isinstance(event, Delivery):
                check_record(event.record)
            elif isinstance(event, Malformed) and not event.error:
                raise AssertionError("Malformed without a reason")
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            try:
                check_record(replies.Record.from_json(text.partition(":")[2]))
            except frames.WireError:
                pass

        return check

    def one_envelope(envelope: str, expected: Any) -> Callable[[], None]:
        def check() -> None:
            for decode in (crypto.decrypt_payload, opener.open):
                try:
                    value = decode(envelope, secret)
                except crypto.DecryptError:
                    if expected is not _NONE:
                        raise AssertionError("a good envelope did not open") from None
                    tally.count("DecryptError")
                    continue
                if expected is not _NONE and value != expected:
                    raise AssertionError("a good envelope opened to something else")
                tally.count("opened")
            info = crypto.describe_envelope(envelope)
            if info.kind not in ("direct", "hybrid", "malformed"):
                raise AssertionError(f"envelope described as {info.kind!r}")
            message = to_message(
                replies.Record("a/b", "i", 1, 1, envelope, {}, ""), secret, True, opener
            )
            if expected is not _NONE and message["payload"] != expected:
                raise AssertionError(f"to_message did not open a good envelope: {message}")
            if message["decryptError"] is not None and message["payload"] is not None:
                raise AssertionError("to_message gave both a payload and an error")

        return check

    done = 0
    while done < total:
        batch = min(1000, total - done)
        faulthandler.dump_traceback_later(STUCK_SECONDS, exit=True)
        for _ in range(batch):
            if gen.r.random() < 0.7:
                frame = gen.frame()
                tally.run("frame", frame, one_frame(frame))
            else:
                envelope, expected = gen.envelope()
                tally.run("envelope", envelope, one_envelope(envelope, expected))
        done += batch
        if done % 100_000 == 0:
            print(f"  {done:,} inputs, {len(tally.crashes)} crashes", flush=True)
    faulthandler.cancel_dump_traceback_later()


async def fuzz_connection(gen: Gen, frames: int, tally: Tally) -> dict[str, Any]:
    """A hostile engine's storm into a real client; the figures of what arrived."""
    good_every = 50
    storm: list[str | bytes] = [frame for _, frame in hostile.hostile_records("a/b", gen.public)]
    sentinels: list[str] = []
    while len(storm) < frames:
        if len(storm) % good_every == 0:
            idem = f"good-{len(sentinels)}"
            sentinels.append(idem)
            storm.append(record_frame("a/b", idem, gen.good[1][0]))
        else:
            storm.append(gen.r.choice([gen.frame, gen.frame, lambda: "PING"])())
    sentinels.append("good-last")
    storm.append(record_frame("a/b", "good-last", gen.good[1][0]))

    server = ScriptedServer(gen.public)

    async def sub(frame: str) -> list[str]:
        ws = server.connections[-1]
        await ws.send("+PASS:ok")
        for item in storm:
            if isinstance(item, str) and not _utf8(item):  # no text frame can carry it
                item = item.encode("utf-8", "surrogatepass")
            await ws.send(item)
        return []

    server.rules["SUB"] = sub
    got: list[str] = []
    states: list[str] = []
    start = time.perf_counter()
    async with server:
        engine = EnSyncEngine(server.url, {"request_timeout": 30, "max_reconnect_attempts": 0})
        client = await engine.create_client("fuzz-access-key", {"appSecretKey": gen.secret})
        watcher = asyncio.create_task(_states(client, states))
        try:
            subscription = client.subscribe("a/b", auto_ack=False)
            subscription.handler(lambda m: got.append(m["idem"]))
            await subscription
            async with asyncio.timeout(300):
                while "good-last" not in got:
                    await asyncio.sleep(0.05)
            answer = await client.ack("a/b", "good-last", 1)
            link = client._transport._link
            reader_alive = link is not None and link.reader is not None and not link.reader.done()
        finally:
            watcher.cancel()
            await client.close()
    seconds = time.perf_counter() - start
    arrived = [i for i in got if i.startswith("good-")]
    problems = []
    if arrived != sentinels:
        problems.append(
            f"{len(set(sentinels) - set(arrived))} good records missing or out of order"
        )
    if server.conn_count != 1 or "reconnecting" in states:
        problems.append(f"the client reconnected ({server.conn_count} connections)")
    if not reader_alive:
        problems.append("the reader stopped")
    if answer != "+PASS:ok":
        problems.append(f"the request after the storm got {answer!r}")
    tally.crashes.extend(f"connection: {p}" for p in problems)
    return {"frames": len(storm), "good": len(arrived), "delivered": len(got), "seconds": seconds}


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class _Reports(logging.Handler):
    """Counts what the client logs about skipped frames (instead of printing it)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _states(client: Any, states: list[str]) -> None:
    async for state in client.state_changes():
        states.append(state.status)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz client")
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--limit", type=float, default=2.0, help="seconds one input may take")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz_client: seed {seed}, {args.inputs:,} inputs, {args.frames:,} frames", flush=True)
    reports = _Reports()
    client_log = logging.getLogger("ensync_tui.client")
    client_log.addHandler(reports)
    client_log.propagate = False
    gen = Gen(seed, crypto.generate_keypair())
    tally = Tally(args.limit)
    start_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    fuzz_inputs(gen, args.inputs, tally)
    inputs_seconds = time.perf_counter() - start
    link = asyncio.run(fuzz_connection(gen, args.frames, tally))
    slow, what = tally.slowest
    hangs = slow > args.limit
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"inputs: {tally.inputs:,} in {inputs_seconds:.0f} s, {len(tally.crashes)} crashes,"
        f" {'1 hang' if hangs else '0 hangs'}; slowest {slow * 1000:.1f} ms ({what})"
    )
    print("  outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.counts.items())))
    print(f"  memory: RSS {start_mib:.0f} MiB after setup, {peak_mib:.0f} MiB peak")
    print(
        f"connection: {link['frames']:,} hostile frames in {link['seconds']:.1f} s,"
        f" all {link['good']} good records among them arrived in order,"
        f" {link['delivered']:,} delivered in all, {reports.count:,} client log lines"
        " (skipped frames, stray answers); one connection, reader alive"
        if not any(c.startswith("connection:") for c in tally.crashes)
        else "connection: FAILED"
    )
    for crash in tally.crashes[:20]:
        print(f"  CRASH {crash}", file=sys.stderr)
    return 1 if tally.crashes or hangs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
