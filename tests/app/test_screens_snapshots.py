"""Snapshots of the composer with a JSON error, the replay results and the help screen."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from nacl import bindings
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Label, TextArea

from ensync_tui.app.screens.composer import ComposerScreen
from ensync_tui.app.screens.help import HelpScreen
from ensync_tui.app.screens.replay import ReplayScreen
from ensync_tui.client import EnSyncError
from tests.app.test_screens import APP_BINDINGS

SIZE = (120, 40)


def fixed_key(seed: int) -> str:
    public, _ = bindings.crypto_sign_seed_keypair(bytes([seed]) * 32)
    return base64.b64encode(public).decode()


SELF_KEY = fixed_key(1)
CONTACTS = {"alice": fixed_key(2), "bob": fixed_key(3)}
NAMES = ["orders/created", "orders/status"]


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record times render the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class HostApp(App[None]):
    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.modal = screen

    def compose(self) -> ComposeResult:
        yield Label("ensync-tui")

    def on_mount(self) -> None:
        self.push_screen(self.modal)


async def steady_cursors(pilot: Pilot[Any]) -> None:
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()


async def never_sent(*args: Any) -> list[dict]:
    raise AssertionError("nothing should be sent")


def test_composer_json_error(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        await pilot.pause()
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#recipients", TextArea).load_text("self, alice")
        payload = screen.query_one("#payload", TextArea)
        payload.load_text('{\n  "order": 42,\n  "items": ["a", "b"]\n  "total": 9.5\n}')
        payload.focus()
        payload.move_cursor((3, 2))
        screen.query_one("#headers", TextArea).load_text("trace=abc")
        await steady_cursors(pilot)

    app = HostApp(ComposerScreen(NAMES, CONTACTS, SELF_KEY, [], never_sent))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def fake_replay(name: str, idem: str) -> dict:
    if idem.startswith("missing"):
        raise EnSyncError(f"message {idem} not found", "EnSyncReplayError")
    if idem.startswith("foreign"):
        raise EnSyncError("client is neither the sender nor a recipient", "EnSyncReplayError")
    return {
        "messageName": name,
        "idem": idem,
        "block": 12,
        "timestamp": 1_767_225_600_000,  # 2026-01-01 00:00:00 UTC
        "payload": None if idem.startswith("sealed") else {"order": 42, "status": "paid"},
        "decryptError": "no key opens it" if idem.startswith("sealed") else None,
    }


def test_replay_results(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        await pilot.pause()
        screen.query_one("#name", Input).value = "orders/created"
        screen.query_one("#idems", TextArea).load_text(
            "01JGQ4Z5N8ORDER0001\nmissing-0002\nforeign-0003\nsealed-0004"
        )
        screen.action_replay()  # type: ignore[attr-defined]
        await pilot.app.workers.wait_for_complete()
        await steady_cursors(pilot)

    history = [("orders/status", "01JGQ4Z5N8STATUS77")]
    app = HostApp(ReplayScreen(NAMES, history, fake_replay, lambda message: None))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(HostApp(HelpScreen(APP_BINDINGS)), terminal_size=SIZE)
