"""`ensync-tui web` in a real browser: Debian's chromium driven through
Playwright (``executable_path``) opens the page, the explorer starts and draws
live demo records, ``?`` shows the help, and closing the page ends the explorer.

Without a chromium this test skips and says so; ``.ci/run`` installs one and
sets ENSYNC_TUI_BROWSER=required, where a missing chromium fails instead."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.cli.test_web import GONE_WITHIN, Web, gone_within

CANDIDATES = ("chromium", "chromium-browser")
REQUIRED = os.environ.get("ENSYNC_TUI_BROWSER") == "required"
# where to save the page (make screenshots): resolved now, before the tests move to a tmp folder
_SHOT = os.environ.get("ENSYNC_TUI_WEB_SCREENSHOT")
SHOT = Path(_SHOT).resolve() if _SHOT else None


def find_chromium() -> str | None:
    given = os.environ.get("ENSYNC_TUI_CHROMIUM")
    if given:
        return given
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
if CHROMIUM is None and not REQUIRED:
    pytest.skip(
        "no chromium found (apt-get install chromium, or set ENSYNC_TUI_CHROMIUM): "
        "the browser test of `ensync-tui web` did not run",
        allow_module_level=True,
    )


CONTROL = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


class Frames:
    """What the page's websocket received: the terminal's output, as text."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", "replace")
        self.text += payload

    def wait_for(self, page, patterns: tuple[str, ...], since: int = 0) -> None:
        """Until the output since ``since`` shows every pattern (control sequences
        made line breaks)."""
        deadline = time.monotonic() + 30
        while True:
            shown = CONTROL.sub("\n", self.text[since:])
            if all(re.search(p, shown) for p in patterns):
                return
            assert time.monotonic() < deadline, f"the page never showed {patterns}"
            page.wait_for_timeout(50)  # lets Playwright deliver the frames


def test_the_explorer_in_chromium():
    assert CHROMIUM is not None, "ENSYNC_TUI_BROWSER=required but no chromium was found"
    from playwright.sync_api import sync_playwright

    server = Web("--demo")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 760})
                frames = Frames()
                page.on("websocket", lambda ws: ws.on("framereceived", frames.add))
                page.goto(f"{server.base}/{server.query}", wait_until="load")
                page.wait_for_selector("body.-first-byte", timeout=30_000)
                [child] = server.children()
                # live demo records reach the page: the status bar counts them
                frames.wait_for(page, (r"received [1-9]", r"orders/created"))
                page.focus(".xterm-helper-textarea")  # the terminal takes the keys
                if SHOT:  # for screenshots/: a few more records first
                    frames.wait_for(page, (r"received [1-9]\d",))
                    page.wait_for_timeout(1500)
                    page.screenshot(path=SHOT)
                mark = len(frames.text)
                page.keyboard.press("?")
                frames.wait_for(page, (r"Help", r"Panes", r"Subscriptions"), since=mark)
                page.keyboard.press("Escape")
                page.close()
                assert gone_within([child], GONE_WITHIN), "the explorer outlived its tab"
            finally:
                browser.close()
        assert server.proc.poll() is None
    finally:
        server.close()
