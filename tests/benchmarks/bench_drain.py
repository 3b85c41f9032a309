"""A backlog drained one record at a time: the explorer with auto-ack beside a bare client.

EnSync's need-based push (``max_in_flight = 1``): the engine sends a
subscription's next record only once the last one is answered, so draining a
backlog costs one round trip per record. The engine runs in its own process
with ``BACKLOG`` 700-byte records stored for one identity before anyone
subscribes; a fresh engine and backlog for every run. The bare client (raw
websockets, in this process) subscribes and, for each record, parses it and
sends its ACK, nothing else. The explorer (headless, in this process, its
session on its own thread as always against an engine) subscribes with
auto-ack. Both are timed from their first record to the confirmation of the
last ACK, as each sees it (the explorer's counts reach its screen every 50
ms). The two take turns for ``ROUNDS`` rounds; the ratio is the median of the
per-round ratios.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from ensync_tui.engine.broker import client_id_for
from ensync_tui.engine.sandbox import Identity, make_identities, sandbox_config
from ensync_tui.engine.server import send_frames
from ensync_tui.protocol import frames
from tests.benchmarks.bench_engine import NAME, EngineProcess, _open, _pub_frames, _pump

BACKLOG = int(os.environ.get("BENCH_DRAIN_COUNT", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TIMEOUT = 300.0


async def _fill(url: str, ids: dict[str, Identity]) -> None:
    ws = await _open(url, ids["p0"])
    passed = await _pump(ws, _pub_frames(ids["p0"], ids["reader"], BACKLOG))
    assert passed == BACKLOG, passed
    await ws.close()


async def _bare(url: str, who: Identity) -> float:
    """Receive, then ACK; seconds from the first record to the last ACK confirmed."""
    sub_id = client_id_for(who.access_key)
    ws = await _open(url, who)
    await ws.send(frames.Sub(sub_id, NAME).encode())
    first = 0.0
    acked = 0
    async for frame in ws:
        if not isinstance(frame, str):
            continue
        if frame.startswith("+RECORD:"):
            record = json.loads(frame[8:])
            first = first or time.perf_counter()
            await send_frames(
                ws,
                [
                    f"ACK;CLIENT_ID=:{sub_id};EVENT_IDEM=:{record['idem']};"
                    f"BLOCK=:{record['block']};EVENT_NAME=:{NAME}"
                ],
            )
        elif frame.startswith("+PASS:{acked="):
            acked += 1
            if acked == BACKLOG:
                break
        elif frame.startswith("-FAIL"):
            raise RuntimeError(frame)
    elapsed = time.perf_counter() - first
    await ws.close()
    return elapsed


async def _explorer(url: str, who: Identity) -> float:
    """The explorer with auto-ack; seconds from its first record to its last ack."""
    from ensync_tui.app import EnsyncApp
    from ensync_tui.settings import Settings

    settings = Settings(
        url=url,
        access_key=who.access_key,
        app_secret_key=who.secret_key,
        subscribe=[NAME],
        auto_ack=True,
    )
    app = EnsyncApp(settings)
    async with app.run_test(size=(160, 45)) as pilot:
        history = app.controller.history
        deadline = time.perf_counter() + TIMEOUT
        first = 0.0
        while history.acked < BACKLOG:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"drained {history.acked:,} of {BACKLOG:,}")
            if not first and history.received:
                first = time.perf_counter()
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - first
        await app.close_session()
        await pilot.pause()
    return elapsed


def _run(which: str) -> float:
    ids = make_identities(["p0", "reader"])
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "e.db")
        cfg = sandbox_config(ids, [NAME], port=0, db=db, max_in_flight=1)
        with EngineProcess(cfg) as url:
            asyncio.run(_fill(url, ids))
            runner = _bare if which == "bare" else _explorer
            return BACKLOG / asyncio.run(runner(url, ids["reader"]))


def main() -> None:
    logging.getLogger("ensync_tui").setLevel(logging.ERROR)
    rates: dict[str, list[float]] = {"bare": [], "explorer": []}
    for _ in range(ROUNDS):
        for which in rates:
            rates[which].append(_run(which))
    print(
        f"   backlog {BACKLOG:,} records of 700 B, max_in_flight = 1, a fresh engine"
        f" (its own process) per run, {ROUNDS} rounds taking turns"
    )
    for which, label in (("bare", "bare receive-then-ack"), ("explorer", "explorer, auto-ack")):
        r = rates[which]
        print(f"   {label:24} {statistics.median(r):>7,.0f} msg/s ({min(r):,.0f}-{max(r):,.0f})")
    ratios = [e / b for e, b in zip(rates["explorer"], rates["bare"], strict=True)]
    print(
        f"   ratio explorer/bare      {statistics.median(ratios):.2f}x"
        f" (rounds {min(ratios):.2f}-{max(ratios):.2f})   goal >= 0.9"
    )


if __name__ == "__main__":
    main()
