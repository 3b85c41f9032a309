"""`ensync-tui open` on a large recording: time to the first screen, time until the
whole file is indexed, the last row reached, and the RSS that costs.

A recording of BENCH_OPEN_RECORDS (default 1,000,000) records (one encrypted
envelope of about 400 bytes reused, unique idems, one ack for every tenth) is
written once to a temporary file. The explorer runs headless on it
(``EnsyncApp(recording=Index(path))``); the first screen is when the first record is drawn
(in an exported screenshot). Goals: first screen <= 2 s; RSS well
under what holding the file would take (the file is not read into memory).
"""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

RECORDS = int(os.environ.get("BENCH_OPEN_RECORDS", "1000000"))


def write_recording(path: Path, count: int, secret: str, public: str) -> None:
    from ensync_tui.protocol import crypto
    from ensync_tui.protocol.replies import Record
    from ensync_tui.recording import lines

    sealed = crypto.encrypt_payload({"order": "o-1", "status": "packed", "n": 1}, [public])
    with open(path, "w", encoding="utf-8") as f:
        f.write(lines.header_line(0, "ws://127.0.0.1:1", public) + "\n")
        for i in range(count):
            name = ("orders/created", "orders/status", "fleet/bikes")[i % 3]
            record = Record(name, f"idem-{i:09}", i, 1_700_000_000_000 + i, sealed, {}, public)
            f.write(lines.record_line(record, 1_700_000_000_000 + i) + "\n")
            if i % 10 == 0:
                f.write(lines.state_line(1_700_000_000_000 + i, name, record.idem, "acked") + "\n")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: Path, secret: str) -> dict[str, float]:
    from ensync_tui.app import EnsyncApp
    from ensync_tui.app.widgets import StreamView  # imported before the clock starts
    from ensync_tui.recording.index import Index
    from ensync_tui.settings import Settings

    before = rss_mb()
    started = time.perf_counter()
    app = EnsyncApp(Settings(app_secret_key=secret), recording=Index(path))
    figures: dict[str, float] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        history = app.controller.history
        stream = app.query_one(StreamView)
        while not (stream.cursor >= 0 and len(history) > 0):
            await asyncio.sleep(0.005)
        figures["first rows (s)"] = time.perf_counter() - started
        while "idem-000000000" not in app.export_screenshot():  # drawn on the screen
            await asyncio.sleep(0.01)
        figures["first screen (s)"] = time.perf_counter() - started
        figures["rows on the first screen"] = len(history)
        while not history.index.done:
            await asyncio.sleep(0.05)
        figures["all indexed (s)"] = time.perf_counter() - started
        figures["rows"] = len(history)
        moved = time.perf_counter()
        await pilot.press("end")  # to the last row
        await pilot.pause()
        figures["to the last row (s)"] = time.perf_counter() - moved
        figures["RSS added (MB)"] = rss_mb() - before
    return figures


def main() -> None:
    from ensync_tui.protocol import crypto

    public, secret = crypto.generate_keypair()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.ndjson"
        start = time.perf_counter()
        write_recording(path, RECORDS, secret, public)
        size = path.stat().st_size / 1e6
        print(
            f"   wrote {RECORDS:,} records ({size:.0f} MB) in {time.perf_counter() - start:.1f} s"
        )
        for what, value in asyncio.run(measure(path, secret)).items():
            print(f"   {what:<28} {value:,.2f}")
