"""The firehose's bare-bones baseline: a one-widget Textual app beside a reading thread.

The same server as ``bench_app`` (pre-built 700-byte +RECORD frames as fast as
they are read). Here a thread reads them with websockets' plain client and
parses each frame's JSON into a bounded deque (100,000), nothing else; the app
has one label showing a cursor that the up and down keys move. Key presses are
timed the same way as the explorer's: from the key event to the frame in which
the cursor changed. It shows what a Textual app gets on this machine while one
thread of its process takes in the records, with the explorer's own process
tuning (``Tuning``: a 1 ms switch interval, the collector kept off what is held
under a flood): the floor under the explorer's key-to-screen figure.
"""

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing as mp
import os
import statistics
import threading
import time
from typing import Any

from tests.benchmarks.bench_app import HISTORY, WARM_UP, _serve


def _reader(
    url: str, held: collections.deque[Any], stop: threading.Event, count: list[int]
) -> None:
    from websockets.sync.client import connect

    with connect(url, max_size=None, compression=None) as ws:
        ws.send("CONN;ACCESS_KEY=:bench")
        ws.recv()
        ws.send("SUB;CLIENT_ID=:bench;EVENT_NAME=:bench/firehose")
        while not stop.is_set():
            frame = ws.recv()
            if isinstance(frame, str) and frame.startswith("+RECORD:"):
                held.append(json.loads(frame[8:]))
                count[0] += 1


async def _drive(url: str, seconds: float) -> dict[str, Any]:
    from textual import events
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class One(App[None]):
        BINDINGS = [("up", "move(-1)"), ("down", "move(1)")]
        cursor = 0

        def compose(self) -> ComposeResult:
            yield Static("cursor 0", id="label")

        def action_move(self, step: int) -> None:
            self.cursor += step
            self.query_one("#label", Static).update(f"cursor {self.cursor}")

    app = One()
    latencies: list[float] = []
    probe: dict[str, Any] = {"t0": None, "cursor": None}
    original_display = App._display

    def display(self: Any, screen: Any, renderable: Any) -> None:
        if renderable is not None and hasattr(renderable, "render_segments"):
            renderable.render_segments(self.console)
        original_display(self, screen, renderable)
        if probe["t0"] is not None and app.cursor != probe["cursor"]:
            latencies.append(time.perf_counter() - probe["t0"])
            probe["t0"] = None

    app._display = display.__get__(app)  # type: ignore[method-assign]
    held: collections.deque[Any] = collections.deque(maxlen=HISTORY)
    stop = threading.Event()
    count = [0]
    thread = threading.Thread(target=_reader, args=(url, held, stop, count), daemon=True)
    from ensync_tui.app.runtime import Tuning

    tuning = Tuning()
    tuning.quick_switch()
    observed = time.perf_counter()
    async with app.run_test(size=(160, 45)):
        thread.start()
        driver = app._driver
        assert driver is not None
        start = time.perf_counter()
        first = 0
        i = 0
        while (now := time.perf_counter()) - start < seconds:
            await asyncio.sleep(0.1)
            if now - observed >= 1.0:
                tuning.observe(count[0], now - observed)
                observed = now
            if now - start < WARM_UP:
                first = count[0]
                continue
            if probe["t0"] is None:
                probe["cursor"] = app.cursor
                probe["t0"] = time.perf_counter()
                event = events.Key(("up", "down")[i % 2], None)
                event.set_sender(app)
                driver.send_message(event)
                i += 1
        rate = (count[0] - first) / (time.perf_counter() - start - WARM_UP)
        stop.set()
    thread.join(5)
    tuning.restore()
    return {"latencies": sorted(latencies), "rate": rate}


def main() -> None:
    seconds = float(os.environ.get("BENCH_APP_SECONDS", "20"))
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    stop = ctx.Event()
    from ensync_tui.protocol import crypto

    public_key, _ = crypto.generate_keypair()
    server = ctx.Process(target=_serve, args=(public_key, port_queue, stop), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        figures = asyncio.run(_drive(f"ws://127.0.0.1:{port}", seconds))
    finally:
        stop.set()
        server.join(timeout=5)
        if server.is_alive():
            server.terminate()
    lat = figures["latencies"]
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    print(
        f"   one-widget app, a thread parsing the frames: {figures['rate']:,.0f} records/s;"
        f" key -> screen p50 {p50:.1f} ms  p99 {p99:.1f} ms ({len(lat)} key presses)"
    )


if __name__ == "__main__":
    main()
