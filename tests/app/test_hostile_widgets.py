"""Every hostile string of tests/hostile.py through every widget and dialog of the explorer.

Names, idems, senders, metadata and header keys, payload keys, close reasons,
engine answers: each shows literally (escapes visible, markup as typed) and
none makes a link, an action, a style or a terminal escape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import Input, TabbedContent, TextArea

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import (
    ConnectionChanged,
    RecordsReceived,
    SessionReady,
    SubscriptionsChanged,
)
from ensync_tui.app.views import TABS
from ensync_tui.app.widgets import Inspector, SubscriptionList
from ensync_tui.client import EnSyncError, crypto, to_message
from ensync_tui.protocol import replies
from ensync_tui.safetext import UNSAFE, visible
from ensync_tui.settings import Settings
from tests.app.conftest import SNAP_SECRET, ManualClock, wait_for
from tests.app.screen import assert_inert, assert_literal, shot
from tests.hostile import HOSTILE_TEXTS

ME = crypto.public_key_of(SNAP_SECRET)
SIZE = (200, 55)
ITEMS = list(HOSTILE_TEXTS.items())


def hostile_messages() -> list[replies.Record]:
    """One record per hostile string, carrying it in every field a screen shows."""
    out = []
    for number, (label, text) in enumerate(ITEMS, start=1):
        record = replies.Record(
            name=text,
            idem=f"{label}:{text}",
            block=number,
            logged_at=1_767_225_600_000 + number,
            payload=crypto.encrypt_payload({text: text, "n": number}, [ME]),
            metadata={"persist": True, "headers": {text: text}, text: text},
            sender=text,
        )
        out.append(record)
    return out


def hostile_app() -> EnsyncApp:
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=SNAP_SECRET)
    app = EnsyncApp(settings, start_session=False, clock=ManualClock())
    app.animation_level = "none"
    return app


async def fed(pilot: Any) -> EnsyncApp:
    app: EnsyncApp = pilot.app
    names = [text for _, text in ITEMS]
    app.main.post_message(ConnectionChanged("connected"))
    app.main.post_message(SessionReady(app.controller.settings, ME))
    app.main.post_message(SubscriptionsChanged(names, {names[0]: names[1]}))
    app.main.post_message(RecordsReceived(hostile_messages()))
    await wait_for(pilot, lambda: app.controller.history.received == len(ITEMS), what="records")
    await wait_for(pilot, lambda: not app.main.view_pending, what="the stream")
    await pilot.pause()
    return app


async def dialog(pilot: Any, app: EnsyncApp, key: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: len(app.screen_stack) == 2, what=f"the dialog of {key}")
    await pilot.pause()


async def close(pilot: Any, app: EnsyncApp) -> None:
    await pilot.press("escape")
    await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="dialog closed")


async def test_stream_inspector_status_bar_and_subscriptions() -> None:
    app = hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await fed(pilot)
        taken = shot(app)
        assert_inert(taken, "main screen")
        for label, text in ITEMS:
            assert_literal(taken, text, f"stream name of {label}", width=20)
            assert_literal(taken, text, f"subscription {label}", width=20)
        tabs = app.query_one("#inspector-tabs", TabbedContent)
        inspector = app.query_one(Inspector)
        for label, text in ITEMS:
            app.main.select_idem(f"{label}:{text}")
            for tab in TABS:
                tabs.active = tab
                await pilot.pause()
                await wait_for(pilot, lambda: not inspector.busy, what="inspector")
                taken = shot(app)
                where = f"{label} in {tab}"
                assert_inert(taken, where)
                assert_literal(taken, f"{label}:{text}", f"{where} header")
                if tab in ("tab-tree", "tab-meta"):  # keys are shown as plain text
                    assert_literal(taken, text, where)
        # close and reconnect reasons are the engine's text
        for label, text in ITEMS:
            for state in ("reconnecting", "closed"):
                app.main.post_message(ConnectionChanged(state, 1, 2.0, reason=text))
                await pilot.pause()
                taken = shot(app)
                assert_inert(taken, f"status bar {state} {label}")
                assert_literal(taken, text, f"status bar {state} {label}")


async def test_dialogs_show_wire_text_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    app = hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await fed(pilot)
        # nothing paused: p on any name asks for the reason (on a paused one it resumes)
        app.main.post_message(SubscriptionsChanged([text for _, text in ITEMS], {}))
        await pilot.pause()
        subs = app.query_one(SubscriptionList)
        for label, text in ITEMS:
            where = f"{label}:"
            app.main.select_idem(f"{label}:{text}")
            await pilot.pause()
            for key, what in (("d", "defer"), ("x", "discard")):
                await dialog(pilot, app, key)
                taken = shot(app)
                assert_inert(taken, where + what)
                assert_literal(taken, f"{label}:{text}", where + what)
                await close(pilot, app)
            # pause names the highlighted subscription
            subs.highlighted = subs.names.index(text) + 1
            await dialog(pilot, app, "p")
            taken = shot(app)
            assert_inert(taken, where + "pause")
            assert_literal(taken, text, where + "pause")
            await close(pilot, app)
            # export names the filter
            app.main.apply_filter(name=text)
            await pilot.pause()
            await dialog(pilot, app, "e")
            taken = shot(app)
            assert_inert(taken, where + "export")
            assert_literal(taken, text, where + "export", width=30)
            path = app.screen.query_one("#path", Input).value
            file_name = path.rsplit("/", 1)[-1]
            assert file_name.startswith("ensync-") and ".." not in file_name
            assert not UNSAFE.search(path)
            await close(pilot, app)
            app.main.apply_filter(name=None)
        # subscribe lists the known names not subscribed yet
        app.main.post_message(SubscriptionsChanged([], {}))
        await pilot.pause()
        await dialog(pilot, app, "s")
        taken = shot(app)
        assert_inert(taken, "subscribe")
        for label, text in ITEMS:
            assert_literal(taken, text, f"subscribe {label}", width=30)
        await close(pilot, app)


async def test_replay_and_composer_show_engine_answers_literally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await fed(pilot)
        answers = {}
        for label, text in ITEMS:
            record = replies.Record(
                text,
                f"r-{label}-{text}",
                7,
                1_767_225_600_000,
                crypto.encrypt_payload({text: text}, [ME]),
                {"persist": True, "headers": {}},
                text,
            )
            answers[label] = to_message(record, SNAP_SECRET)  # as the client answers

        async def replay(name: str, idem: str) -> dict[str, Any]:
            if idem.startswith("fail-"):
                raise EnSyncError(f"-FAIL:{HOSTILE_TEXTS[idem[5:]]}")
            return answers[idem]

        monkeypatch.setattr(app.main, "replay", replay)
        await dialog(pilot, app, "r")
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        idems = [label for label, _ in ITEMS] + [f"fail-{label}" for label, _ in ITEMS]
        screen.query_one("#idems", TextArea).load_text("\n".join(idems))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not screen._busy, what="replays", timeout=20)
        await pilot.pause()
        taken = shot(app)
        assert_inert(taken, "replay results")
        # the results table shows the newest rows: the failures and their reasons
        assert_literal(taken, ITEMS[-1][1], "replay failure reason", width=20)
        await close(pilot, app)
        # the replayed records are in the history and the recent searches now
        await dialog(pilot, app, "r")
        taken = shot(app)
        assert_inert(taken, "replay recent searches")
        await close(pilot, app)

        # the composer shows the engine's answer: idem, block and errors
        app.controller.public_key = ME
        text_by_call = iter(ITEMS)

        async def publish(*args: Any) -> list[dict[str, Any]]:
            label, text = next(text_by_call)
            if label in ESCAPE_LABELS:
                raise EnSyncError(text)
            return [{"recipient": text, "idem": f"p-{text}", "block": text}]

        monkeypatch.setattr(app.main, "publish", publish)
        await dialog(pilot, app, "n")
        screen = app.screen
        screen.query_one("#name", Input).value = "orders/created"
        for label, text in ITEMS:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not screen._sending, what="sent")
            await pilot.pause()
            taken = shot(app)
            assert_inert(taken, f"composer {label}")
            assert_literal(taken, text, f"composer {label}", width=30)
        await close(pilot, app)


ESCAPE_LABELS = {"title", "osc52", "clear"}


async def test_notifications_palette_and_help() -> None:
    app = hostile_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await fed(pilot)
        for _, text in ITEMS[:6]:
            app.main.select_idem(f"gone-{text}")  # says it is not held, naming it
        last = visible(f"gone-{ITEMS[5][1]}")
        await wait_for(pilot, lambda: last in shot(app).text, what="the notifications")
        taken = shot(app)
        assert_inert(taken, "notifications")
        for _, text in ITEMS[:6]:
            assert visible(f"gone-{text}") in "\n".join(t for _, t in app.controller.notices)
        assert_literal(taken, f"gone-{ITEMS[5][1]}", "notification")
        # the palette lists names and idems
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: len(app.screen_stack) == 2, what="palette")
        await pilot.press(*"Select")
        await wait_for(pilot, lambda: "Select: " in shot(app).text, what="the palette's hits")
        taken = shot(app)
        assert_inert(taken, "palette")
        assert "Select: " in taken.text
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="palette closed")
        await dialog(pilot, app, "question_mark")
        assert_inert(shot(app), "help")
        await close(pilot, app)


async def test_copies_are_safe_to_paste(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyperclip

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    app = hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await fed(pilot)
        for label, text in ITEMS:
            idem = f"{label}:{text}"
            app.main.select_idem(idem)
            await pilot.pause()
            await pilot.press("y", "c")
            await wait_for(pilot, lambda: len(copied) >= 2, what="copies")
            idem_copy, payload_copy = copied[-2:]
            copied.clear()
            assert idem_copy == visible(idem)
            assert not UNSAFE.search(payload_copy.replace("\n", ""))
            # the payload copy is still the same JSON value
            assert json.loads(payload_copy) == app.controller.history.by_idem[idem].value
