"""A hostile engine in its own process: it answers like EnSync, then sends every record of
tests/hostile.py to whoever subscribes, good records after them, and optionally a flood.

    python -m tests.reliability.hostile_engine PUBLIC_KEY NAME [--flood SECONDS]

prints ``port N`` once it listens, ``sent N`` after each batch. The flood mixes small
records whose every field is hostile text, 1 MiB payloads and 15,000-entry hybrid
envelopes, as fast as the socket takes them (paced to RATE records a second).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time

from ensync_tui.client import crypto
from tests.client.scripted import ScriptedServer
from tests.hostile import HOSTILE_TEXTS, hostile_records, record, seal_bytes, wide_hybrid

RATE = 1_000  # records a second in the flood
LARGE_EVERY = 400  # one 1 MiB payload every this many records
WIDE_EVERY = 2_000  # one 15,000-entry hybrid envelope every this many records


def say(line: str) -> None:
    print(line, flush=True)


def flood_frames(public_key: str) -> itertools.cycle[tuple[str, str]]:
    """(kind, payload) to send again and again: sealing each anew would be the bottleneck."""
    small = []
    for text in HOSTILE_TEXTS.values():
        body = json.dumps({text: text, "n": 1}).encode()
        small.append(("small", seal_bytes(body, public_key)))
    large = ("large", crypto.encrypt_payload({"blob": "x" * (1 << 20)}, [public_key]))
    wide = ("wide", wide_hybrid(public_key, 15_000))
    pattern: list[tuple[str, str]] = []
    for i in range(WIDE_EVERY):
        if i % WIDE_EVERY == WIDE_EVERY - 1:
            pattern.append(wide)
        elif i % LARGE_EVERY == LARGE_EVERY - 1:
            pattern.append(large)
        else:
            pattern.append(small[i % len(small)])
    return itertools.cycle(pattern)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("public_key")
    parser.add_argument("name")
    parser.add_argument("--flood", type=float, default=0.0, help="seconds of flood after")
    args = parser.parse_args()
    server = ScriptedServer()
    subscribed = asyncio.Event()

    def on_sub(frame: str) -> None:
        subscribed.set()

    server.rules["SUB"] = lambda frame: on_sub(frame)  # default answer, and a signal
    await server.start()
    say(f"port {server.port}")
    await subscribed.wait()
    await asyncio.sleep(0.2)  # the client has the +PASS before the first record
    sent = 0
    for _, frame in hostile_records(args.name, args.public_key):
        await server.push(frame)
        sent += 1
    for i in range(3):
        payload = crypto.encrypt_payload({"ok": i}, [args.public_key])
        await server.push(record(args.name, f"good-{i}", payload))
        sent += 1
    say(f"sent {sent}")
    if args.flood > 0:
        frames = flood_frames(args.public_key)
        start = time.monotonic()
        kinds: dict[str, int] = {}
        while (now := time.monotonic()) - start < args.flood:
            due = int((now - start) * RATE) - sum(kinds.values())
            for _ in range(min(due, 200)):
                kind, payload = next(frames)
                kinds[kind] = kinds.get(kind, 0) + 1
                idem = f"flood-{kind}-{sum(kinds.values())}"
                await server.push(record(args.name, idem, payload, sender=HOSTILE_TEXTS["title"]))
            await asyncio.sleep(0.005)
        say("flood " + " ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    say("done")
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
