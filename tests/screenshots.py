"""Regenerate screenshots/ (SVG and PNG) of the explorer, driven like a user over the demo.

    make screenshots            # or: python -m tests.screenshots [--port 8082] [--out DIR]

The demo runs with a fixed seed, a fixed engine clock and a fixed port, the app with a
fixed clock and round trip, the samples are held one by one in their order, and times are
shown in UTC, so two runs give the same files but for the idems (random, as the engine
makes them).
PNGs are made from the SVGs with rsvg-convert (librsvg); without it only SVGs are written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZE = (160, 45)
SEED = 0
PORT = 8082
SAMPLES = 30
RTT = 0.0042  # seconds, shown as "4 ms"
APP_CLOCK = 1000.0
LATENCY = 0.137  # seconds between a sample's planned time and the engine's stamp
SHOTS = ("main", "inspector", "changes", "composer", "replay", "help")
OUT = Path(__file__).resolve().parent.parent / "screenshots"
BAD_PAYLOAD = """{
  "orderId": "ord-20260314-0042",
  "customer": {"id": "cus-7f3a", "tier": "gold"},
  "items": [
    {"sku": "BIKE-LOCK-01", "qty": 2, "unitPrice": 24.5}
    {"sku": "HELMET-M", "qty": 1, "unitPrice": 59.0}
  ],
  "total": {"amount": 108.0, "currency": "EUR"}
}"""


class Clock:
    """A clock that only moves when told to (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def wait_for(pilot: Any, check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Let the app run until ``check`` is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := check()):
        if loop.time() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    return value


async def settle(pilot: Any) -> None:
    """Let the delayed redraws happen (counts, inspector); steady cursors; no toasts."""
    from ensync_tui.app.pacing import INSPECT_FOLLOW_DELAY, STATS_EVERY

    app = pilot.app
    await pilot.pause(max(STATS_EVERY, INSPECT_FOLLOW_DELAY) + 0.2)
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    app.clear_notifications()
    await pilot.pause(0.2)


def started(app: Any, demo: Any) -> bool:
    """The demo runs and the explorer is connected; raises if the demo failed to start."""
    if app.controller.status.state == "closed":
        raise RuntimeError(f"the demo did not start ({app.controller.status.reason})")
    return bool(demo.running and app.controller.public_key)


def inspected(app: Any) -> bool:
    """The inspector shows the record under the cursor, and no redraw of it is due."""
    from ensync_tui.app.widgets import Inspector

    inspector = app.query_one(Inspector)
    return bool(inspector.entry is app.main.selected and app.main.inspect_due is None)


def state_is(entry: Any, state: str) -> Callable[[], bool]:
    return lambda: bool(entry.state == state)


def stream_row(app: Any, name: str) -> int:
    """The newest row of the stream holding a record named ``name``."""
    history = app.controller.history
    for row in range(len(history) - 1, -1, -1):
        if history[row].name == name:
            return row
    raise RuntimeError(f"no {name} record in the stream")


async def drive(app: Any, demo: Any, clock: Clock, shoot: Callable[[str], None]) -> None:
    from ensync_tui.app.messages import RttMeasured
    from ensync_tui.app.screens.composer import ComposerScreen
    from ensync_tui.app.screens.help import HelpScreen
    from ensync_tui.app.screens.replay import ReplayScreen
    from ensync_tui.demo import SAMPLE_EPOCH

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: started(app, demo), "the demo")
        names = set(demo.settings().subscribe)
        await wait_for(pilot, lambda: set(app.controller.subscriptions) >= names, "subscriptions")
        await wait_for(pilot, lambda: app.controller.status.rtt is not None, "the first round trip")
        app.main.post_message(RttMeasured(RTT))

        # traffic, each message stamped by the engine a little after its planned time
        explorer = app.controller.public_key
        expected = 0
        # one at a time, each held before the next: the stream's order is the samples'
        history = app.controller.history
        for number in range(1, SAMPLES + 1):
            clock.now = SAMPLE_EPOCH + 1.5 * number + LATENCY
            results = await demo.publish_sample(1)
            expected += sum(1 for r in results if r.get("recipient") == explorer)
            await wait_for(pilot, lambda n=expected: history.received == n, "a sample")
        await wait_for(pilot, lambda: not app.main.view_pending, "the stream")

        # main screen: ack two records by hand, the stream follows the newest
        for _ in range(2):
            await pilot.press("up")
            await wait_for(pilot, lambda: inspected(app), "the inspector")
            entry = app.main.selected
            await pilot.press("a")
            await wait_for(pilot, state_is(entry, "acked"), "an ack")
        await pilot.press("f")
        await settle(pilot)
        shoot("main")

        # inspector: the JSON of a nested payload
        target = stream_row(app, "orders/created")
        while app.main.stream.cursor > target:
            await pilot.press("up")
        await wait_for(pilot, lambda: inspected(app), "the inspector")
        await pilot.click("#inspector-tabs Tab#--content-tab-tab-json")
        await pilot.hover("#status")
        await settle(pilot)
        shoot("inspector")

        # changes: an order's status against the one before it
        app.main.select_idem(app.controller.history[stream_row(app, "orders/status")].idem)
        await wait_for(pilot, lambda: inspected(app), "the inspector")
        await pilot.click("#inspector-tabs Tab#--content-tab-tab-diff")
        await pilot.hover("#status")
        await settle(pilot)
        shoot("changes")

        # publish composer with a JSON mistake (a missing comma)
        await pilot.press("n")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, ComposerScreen) and app.screen, "composer"
        )
        await pilot.press(*"orders/created")
        await pilot.press("tab")
        screen.query_one("#recipients").load_text("self, billing")
        payload = screen.query_one("#payload")
        payload.load_text(BAD_PAYLOAD)
        payload.focus()
        payload.move_cursor((5, 4))
        screen.query_one("#headers").load_text("trace=4bf92f3577b34da6\nsource=ensync-tui")
        await settle(pilot)
        shoot("composer")
        await pilot.press("escape")

        # replay search: three held records and one idem the engine never issued
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], "the main screen")
        await pilot.press("r")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen, "replay"
        )
        name = "orders/status"
        idems = [e.idem for e in app.controller.history.entries if e.name == name][:3]
        idems.append(idems[0][:-4] + "ffff")
        await pilot.press(*name)
        screen.query_one("#idems").load_text("\n".join(idems))
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: screen.query_one("#results").row_count == len(idems), "replays"
        )
        await settle(pilot)
        shoot("replay")
        await pilot.press("escape")

        # help
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], "the main screen")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await settle(pilot)
        shoot("help")
        await pilot.press("escape")
        await pilot.press("q")


def to_png(svg: Path) -> Path:
    """Render an SVG to PNG; runs of spaces are kept (librsvg drops them by default)."""
    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8")
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    subprocess.run(
        ["rsvg-convert", "--format", "png", "--output", str(png)],
        input=text.encode(),
        check=True,
        capture_output=True,
    )
    return png


async def run(port: int) -> dict[str, str]:
    """Drive the explorer over the demo; returns each shot's SVG text by name."""
    from ensync_tui.app import EnsyncApp
    from ensync_tui.demo import SAMPLE_EPOCH, Demo
    from ensync_tui.settings import Settings

    clock = Clock(SAMPLE_EPOCH)
    demo = Demo(seed=SEED, rate=0, port=port, clock=clock)
    app = EnsyncApp(Settings(), demo, clock=lambda: APP_CLOCK)
    app.animation_level = "none"
    app.runtime.ping_every = 3600.0  # one round trip at connect, replaced by a fixed one
    shots: dict[str, str] = {}

    def shoot(name: str) -> None:
        shots[name] = app.export_screenshot()

    await drive(app, demo, clock, shoot)
    if tuple(shots) != SHOTS:
        raise RuntimeError(f"expected the shots {', '.join(SHOTS)}, got {', '.join(shots)}")
    return shots


def write(shots: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, svg in shots.items():
        path = out / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.screenshots", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder to write (default: screenshots/)"
    )
    parser.add_argument(
        "--port", type=int, default=PORT, help="demo engine port (shown in the shots)"
    )
    args = parser.parse_args(argv)

    os.environ["TZ"] = "UTC"
    time.tzset()
    started = time.monotonic()
    try:
        shots = asyncio.run(run(args.port))
    except RuntimeError as exc:
        print(f"screenshots: {exc}; nothing written", file=sys.stderr)
        return 1
    svgs = write(shots, args.out)
    for svg in svgs:
        print(f"wrote {svg}")
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found (install librsvg2-bin): PNGs skipped, older ones left as is")
    else:
        for svg in svgs:
            try:
                print(f"wrote {to_png(svg)}")
            except (OSError, subprocess.CalledProcessError) as exc:
                why = getattr(exc, "stderr", b"") or str(exc)
                why = why.decode(errors="replace") if isinstance(why, bytes) else why
                print(f"screenshots: no PNG for {svg.name}: {why.strip()}", file=sys.stderr)
                return 1
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
