"""Key press to screen while a hostile engine floods the explorer: p99 under 100 ms.

The engine is another process (tests/reliability/hostile_engine.py): every
catalogued hostile record, then a flood of small records whose every field is
hostile text, 1 MiB payloads and 15,000-entry hybrid envelopes. The explorer
runs as in a terminal (its session on its own thread), headless: a key is
posted as the terminal driver posts it, and the time counted runs until the
stream has moved its cursor and a full frame of the screen has been composed.
"""

from __future__ import annotations

import asyncio
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from textual import events

from ensync_tui.app import EnsyncApp
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.client import crypto
from ensync_tui.settings import Settings
from tests.app.conftest import wait_for
from tests.app.screen import shot

ROOT = Path(__file__).resolve().parents[2]
NAME = "hostile/feed"
KEYS = 300
FLOOD = 60.0  # seconds; longer than the keys take


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def test_keys_reach_the_screen_quickly_under_a_hostile_flood(figures) -> None:
    public, secret = crypto.generate_keypair()
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.hostile_engine",
            public,
            NAME,
            "--flood",
            str(FLOOD),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert engine.stdout is not None
        said = engine.stdout.readline()
        listening = re.fullmatch(r"port (\d+)\n", said)
        assert listening, f"the engine said {said!r}"
        settings = Settings(
            url=f"ws://127.0.0.1:{listening.group(1)}",
            access_key="latency-access-key-0123456789",
            app_secret_key=secret,
            subscribe=[NAME],
        )
        app = EnsyncApp(settings)
        latencies: list[float] = []
        async with app.run_test(size=(160, 45)) as pilot:
            stream = app.query_one(StreamView)
            held = app.controller.history
            await wait_for(pilot, lambda: held.received >= 25, 30, "the catalogue")
            await pilot.press("up")  # off follow: the cursor stays where the keys put it
            rng = random.Random(7)
            started = time.monotonic()
            for number in range(KEYS):
                key = "up" if number % 2 else "down"
                before = stream.cursor
                t0 = time.perf_counter()
                app.post_message(events.Key(key, None))
                while stream.cursor == before:
                    await asyncio.sleep(0.0005)
                    if time.perf_counter() - t0 > 5:
                        raise AssertionError(f"key {number} not handled in 5 s")
                shot(app)  # the frame a terminal would be sent
                latencies.append(time.perf_counter() - t0)
                # let the inspector open the record now and then (it waits for the cursor to rest)
                await asyncio.sleep(rng.choice((0.03, 0.06, 0.12, 0.3)))
            elapsed = time.monotonic() - started
            received = app.controller.history.received
            opened = sum(1 for e in app.controller.history.entries if e.decrypted or e.error)
            assert app.query_one(Inspector).entry is not None
            await pilot.press("q")
        assert app.return_code in (None, 0)
    finally:
        engine.kill()
        engine.wait()
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    worst = max(latencies) * 1000
    rate = received / elapsed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    figures(
        f"{KEYS} keys in {elapsed:.0f} s while {received:,} records arrived ({rate:,.0f}/s:"
        f" hostile text, 1 MiB payloads, 15,000-entry hybrids); {opened:,} opened;"
        f" key to screen p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms;"
        f" peak RSS {peak} MiB (explorer and test in one process)"
    )
    assert p99 < 100, f"p99 {p99:.1f} ms"
