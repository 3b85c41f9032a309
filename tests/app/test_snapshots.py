"""Snapshots of the main screen, the inspector and the help screen (fixed size, clock, IDs)."""

from __future__ import annotations

import time

import pytest

from ensync_tui.app import EnsyncApp
from ensync_tui.app.history import MessageState
from ensync_tui.app.messages import (
    ConnectionChanged,
    RecordsReceived,
    RttMeasured,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.app.pacing import INSPECT_DELAY, STATS_EVERY
from ensync_tui.settings import Settings
from tests.app.conftest import SNAP_SECRET, ManualClock, build_records, got, settled, wait_for

SNAP_SIZE = (160, 45)
SELF_KEY = "Uq4bRh1Cw0o3l7x5nB2yJ8vD6tF9gK1mP3sZ7aE5cY0="


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def snapshot_app() -> EnsyncApp:
    settings = Settings(
        url="ws://127.0.0.1:8082",
        access_key="snapshot",
        app_secret_key=SNAP_SECRET,
        subscribe=["orders/created", "orders/status", "audit/log"],
        message_names=["orders/created", "orders/status", "audit/log"],
    )
    app = EnsyncApp(settings, start_session=False, clock=ManualClock())
    app.animation_level = "none"  # tab underlines would be caught mid-slide
    return app


async def feed(pilot) -> None:
    app = pilot.app
    app.main.post_message(ConnectionChanged("connected"))
    app.main.post_message(SessionReady(app.controller.settings, SELF_KEY))
    app.main.post_message(RttMeasured(0.0042))
    app.main.post_message(
        SubscriptionsChanged(
            ["orders/created", "orders/status", "audit/log"], {"audit/log": "maintenance"}
        )
    )
    app.main.post_message(RecordsReceived(build_records(12)))
    await wait_for(pilot, lambda: got(app, 12), what="records")
    app.clear_notifications()  # the one-time notice on connecting with manual ack
    await settled(pilot, INSPECT_DELAY)  # the inspector shows the newest
    app.main.mark(build_records(1)[0].idem, MessageState.ACKED)  # marks it and redraws
    await settled(pilot, STATS_EVERY)  # the counts and rates are redrawn


def test_main_screen(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=feed)


def test_inspector_json_of_a_nested_payload(snap_compare):
    async def before(pilot) -> None:
        await feed(pilot)
        await pilot.press("up", "up")
        await settled(pilot, INSPECT_DELAY)
        pilot.app.query_one("#inspector-tabs").active = "tab-json"
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)


def test_inspector_metadata(snap_compare):
    async def before(pilot) -> None:
        await feed(pilot)
        pilot.app.query_one("#inspector-tabs").active = "tab-meta"
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)


def test_inspector_changes(snap_compare):
    async def before(pilot) -> None:
        await feed(pilot)
        await pilot.press("up", "up", "up")
        await settled(pilot, INSPECT_DELAY)
        pilot.app.query_one("#inspector-tabs").active = "tab-diff"
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)


def test_help_screen(snap_compare):
    async def before(pilot) -> None:
        await feed(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAP_SIZE, run_before=before)
