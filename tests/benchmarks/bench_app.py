"""The explorer under a firehose: records/s ingested, RSS at 100,000 held, key-to-screen latency.

A small websocket server in another process answers CONN/SUB with +PASS and sends
pre-built +RECORD frames (700-byte encrypted payloads, unique idems) as fast as the
app reads them. The app runs headless (manual ack) for BENCH_APP_SECONDS (default 20).
Goals: >= 40,000 records/s, p99 <= 50 ms, <= 160 MB RSS at 100,000 held.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from typing import Any

NAME = "bench/firehose"
PAYLOAD_BYTES = 700
HISTORY = 100_000
WARM_UP = 2.0  # seconds before key presses are timed


def _payload_for(public_key: str) -> str:
    """An encrypted envelope whose base64 text is about PAYLOAD_BYTES long."""
    from ensync_tui.client import crypto

    filler = 1
    while True:
        body = {"order": 42, "status": "shipped", "note": "x" * filler}
        envelope = crypto.encrypt_payload(body, [public_key])
        if len(envelope) >= PAYLOAD_BYTES:
            return envelope
        filler += 3


def _serve(public_key: str, port_queue: Any, stop: Any) -> None:
    asyncio.run(_server_main(public_key, port_queue, stop))


async def _server_main(public_key: str, port_queue: Any, stop: Any) -> None:
    from websockets.asyncio.server import serve

    payload = _payload_for(public_key)
    sender = public_key
    head = '+RECORD:{"name":"' + NAME + '","idem":"fh-'
    tail = (
        '","block":1,"loggedAt":1767225600000,"payload":"'
        + payload
        + '","metadata":{"persist":true,"headers":{}},"sender":"'
        + sender
        + '"}'
    )
    counter = [0]

    async def firehose(ws: Any) -> None:
        n = counter[0]
        try:
            while True:
                # a burst of frames per await keeps the server out of the way
                for _ in range(64):
                    n += 1
                    await ws.send(f"{head}{n:012d}{tail}")
                counter[0] = n
        except Exception:
            return

    async def handler(ws: Any) -> None:
        task = None
        try:
            async for frame in ws:
                if not isinstance(frame, str) or frame == "PONG":
                    continue
                if frame.startswith("CONN"):
                    await ws.send("+PASS:{clientId=bench-client,clientHash=" + public_key + "}")
                elif frame.startswith("SUB"):
                    await ws.send("+PASS:subscribed")
                    if task is None:
                        task = asyncio.create_task(firehose(ws))
                else:
                    await ws.send("+PASS:ok")
        finally:
            if task is not None:
                task.cancel()

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        port_queue.put(port)
        while not stop.is_set():
            await asyncio.sleep(0.2)


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _drive(url: str, secret: str, seconds: float) -> dict[str, Any]:
    from textual import events
    from textual.app import App

    from ensync_tui.app import EnsyncApp
    from ensync_tui.app.widgets import StreamView
    from ensync_tui.settings import Settings

    settings = Settings(
        url=url,
        access_key="bench",
        app_secret_key=secret,
        subscribe=[NAME],
        history=HISTORY,
    )
    app = EnsyncApp(settings)
    figures: dict[str, Any] = {"latencies": [], "rss_at_full": None, "full_after": None}
    probe: dict[str, Any] = {"t0": None, "cursor": None, "stream": None}
    original_display = App._display

    def display(self: Any, screen: Any, renderable: Any) -> None:
        if renderable is not None and hasattr(renderable, "render_segments"):
            renderable.render_segments(self.console)  # what a terminal would be sent
        original_display(self, screen, renderable)
        t0 = probe["t0"]
        if t0 is not None and probe["stream"].cursor != probe["cursor"]:
            figures["latencies"].append(time.perf_counter() - t0)
            probe["t0"] = None

    app._display = display.__get__(app)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        stream = probe["stream"] = app.query_one(StreamView)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while app.controller.history.received == 0:
            if loop.time() > deadline:
                raise RuntimeError(f"no records arrived (state {app.controller.status.state})")
            await asyncio.sleep(0.05)
        start = time.perf_counter()
        start_count = app.controller.history.received
        driver = app._driver
        assert driver is not None
        keys = ["up", "down"]
        i = 0
        while (now := time.perf_counter()) - start < seconds:
            if now - start < WARM_UP:  # first layout, first decrypts: not a steady state
                await asyncio.sleep(0.1)
                continue
            if figures["rss_at_full"] is None and app.controller.history.held >= HISTORY:
                figures["rss_at_full"] = rss_mb()
                figures["full_after"] = now - start
            if probe["t0"] is None:
                key = keys[i % 2]
                i += 1
                probe["cursor"] = stream.cursor
                probe["t0"] = time.perf_counter()
                event = events.Key(key, None)
                event.set_sender(app)
                driver.send_message(event)
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - start
        figures["rate"] = (app.controller.history.received - start_count) / elapsed
        figures["received"] = app.controller.history.received
        figures["held"] = app.controller.history.held
        figures["rss_end"] = rss_mb()
        await app.close_session()
        await pilot.pause()
    return figures


def main() -> None:
    from ensync_tui.client import crypto

    seconds = float(os.environ.get("BENCH_APP_SECONDS", "20"))
    public_key, secret = crypto.generate_keypair()
    ctx = mp.get_context("spawn")
    port_queue = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(public_key, port_queue, stop), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        rss_start = rss_mb()
        figures = asyncio.run(_drive(f"ws://127.0.0.1:{port}", secret, seconds))
    finally:
        stop.set()
        server.join(timeout=5)
        if server.is_alive():
            server.terminate()
    lat = sorted(figures["latencies"])
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    full = figures["rss_at_full"]
    print(f"   run                 {seconds:.0f} s, {len(lat)} key presses, manual ack")
    print(
        f"   ingested            {figures['rate']:,.0f} records/s "
        f"({figures['received']:,} received, {figures['held']:,} held)   goal >= 40,000"
    )
    if full is not None:
        print(
            f"   RSS at {HISTORY:,} held  {full:.0f} MB (after {figures['full_after']:.1f} s; "
            f"{rss_start:.0f} MB at start, {figures['rss_end']:.0f} MB at end)   goal <= 160"
        )
    else:
        print(
            f"   RSS                 {figures['rss_end']:.0f} MB at {figures['held']:,} held "
            f"(the ring did not fill)   goal <= 160 at {HISTORY:,}"
        )
    print(
        f"   key -> screen       p50 {p50:.1f} ms  p99 {p99:.1f} ms  (after {WARM_UP:.0f} s)"
        "   goal p99 <= 50"
    )
    print(json.dumps({"records_per_s": round(figures["rate"]), "p99_ms": round(p99, 1)}))


if __name__ == "__main__":
    main()
