"""Large payloads are opened off the UI loop: keys still work while one is decrypted,
and a result that arrives after the cursor moved on is dropped."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import TabbedContent

from ensync_tui.app import EnsyncApp
from ensync_tui.app.history import SMALL_PAYLOAD
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.offload import Offload
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.app.widgets.lines import LinesView
from ensync_tui.protocol import crypto, replies
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, SNAP_SECRET, got, wait_for
from tests.app.screen import shot

ME = crypto.public_key_of(SNAP_SECRET)
BIG = {"blob": "x" * (SMALL_PAYLOAD + 1000)}


def message(idem: str, payload: Any, name: str = "orders/created") -> replies.Record:
    return replies.Record(
        name, idem, 1, 1_767_225_600_000, crypto.encrypt_payload(payload, [ME]), {}, ""
    )


class SlowDecrypt:
    """Stands in for crypto.decrypt_payload: large payloads wait until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []
        self.real = crypto.decrypt_payload

    def __call__(self, envelope: str, secret: str) -> Any:
        if len(envelope) > SMALL_PAYLOAD:
            self.threads.append(threading.current_thread().name)
            if not self.release.wait(20):
                raise TimeoutError("never released")
        return self.real(envelope, secret)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> SlowDecrypt:
    fake = SlowDecrypt()
    monkeypatch.setattr(crypto, "decrypt_payload", fake)
    yield fake
    fake.release.set()


async def lane_drained(pilot: Any, app: EnsyncApp, lane: str = "inspect") -> None:
    """Wait until what the lane was given before now has come back (one thread a lane,
    results delivered in order)."""
    back: list[object] = []
    app.main.offload.latest("probe", lambda: None, back.append, lane=lane)
    await wait_for(pilot, lambda: back, what=f"the {lane} lane")


def quiet_app() -> EnsyncApp:
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=SNAP_SECRET)
    app = EnsyncApp(settings, start_session=False)
    app.animation_level = "none"
    return app


async def test_keys_work_while_a_large_payload_opens_and_late_results_are_dropped(slow):
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        records = [message("small-1", {"v": 1}), message("big", BIG), message("small-2", {"v": 2})]
        app.main.post_message(RecordsReceived(records))
        await wait_for(pilot, lambda: got(app, 3))
        stream = app.query_one(StreamView)
        inspector = app.query_one(Inspector)
        app.query_one("#inspector-tabs", TabbedContent).active = "tab-json"
        app.main.select_idem("big")
        await wait_for(pilot, lambda: slow.threads, what="the decrypt to start")
        assert "MainThread" not in slow.threads
        assert inspector.busy
        assert "opening the payload" in app.query_one("#payload-json", LinesView).text
        # the UI loop is free: the cursor moves on while the payload is still being opened
        await pilot.press("down")
        await wait_for(pilot, lambda: inspector.entry is stream.selected, what="the next record")
        assert stream.selected.idem == "small-2"
        assert '"v": 2' in app.query_one("#payload-json", LinesView).text
        slow.release.set()
        await wait_for(pilot, lambda: app.controller.history.by_idem["big"].decrypted)
        await lane_drained(pilot, app)
        # the late result for "big" did not replace what the cursor is on
        assert inspector.entry.idem == "small-2"
        assert '"v": 2' in app.query_one("#payload-json", LinesView).text
        # back on it, the cached value shows
        app.main.select_idem("big")
        await wait_for(pilot, lambda: not inspector.busy, what="shown")
        assert '"blob"' in app.query_one("#payload-json", LinesView).text
    assert "MainThread" not in slow.threads


async def test_rows_filters_and_copies_open_large_payloads_off_the_loop(slow, monkeypatch):
    import pyperclip

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    slow.release.set()  # no waiting here: only where the work runs matters
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        records = [message(f"big-{i}", dict(BIG, n=i)) for i in range(5)]
        records.append(message("small", {"needle": True}))
        app.main.post_message(RecordsReceived(records))
        await wait_for(pilot, lambda: got(app, 6))

        def drawn() -> bool:
            shot(app)  # headless, rows are drawn when the screen is
            return all(e.decrypted for e in app.controller.history.entries)

        await wait_for(pilot, drawn, what="the rows on screen decrypted")
        app.main.apply_filter(text='"n":3')
        await wait_for(pilot, lambda: not app.controller.history.scanning, what="the filter")
        assert [e.idem for e in app.controller.history.rows(0, len(app.controller.history))] == [
            "big-3"
        ]
        app.main.select_idem("big-3")
        await pilot.press("c")
        await wait_for(pilot, lambda: copied, what="the copy")
        assert '"n": 3' in copied[0]
    assert slow.threads and "MainThread" not in slow.threads


def test_offload_runs_only_the_newest_request_of_a_key():
    posted: list[Offload.Done] = []
    offload = Offload(posted.append)
    gate = threading.Event()
    started = threading.Event()
    results: list[str] = []

    def blocker() -> str:
        started.set()
        gate.wait(5)
        return "first"

    offload.latest("k", blocker, results.append)
    started.wait(5)
    ran: list[str] = []
    offload.latest("k", lambda: ran.append("second") or "second", results.append)
    offload.latest("k", lambda: ran.append("third") or "third", results.append)
    gate.set()
    offload.close()  # waits for nothing: give the lane a moment to drain
    for _ in range(100):
        if ran:
            break
        threading.Event().wait(0.01)
    for done in posted:
        done.deliver()
    assert "second" not in ran  # replaced before it started
    assert "first" not in results  # ran, but not the newest: dropped


def test_offload_reports_a_failure_instead_of_losing_it():
    posted: list[Offload.Done] = []
    offload = Offload(posted.append)
    errors: list[Exception] = []
    finished = threading.Event()

    def work() -> None:
        try:
            raise ValueError("bad payload")
        finally:
            finished.set()

    offload.bulk(work, lambda _: None, errors.append)
    finished.wait(5)
    for _ in range(100):
        if posted:
            break
        threading.Event().wait(0.01)
    posted[0].deliver()
    assert [str(e) for e in errors] == ["bad payload"]
    offload.close()
