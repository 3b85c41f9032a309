"""A hostile engine feeds the explorer every record of tests/hostile.py.

Each record shows literally in the stream, in every inspector tab and in the
dialogs that name it; nothing reaches the terminal as an escape, nothing is
read as markup, nothing crashes; good records sent after still arrive and show.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual.widgets import TabbedContent

from ensync_tui.app import EnsyncApp
from ensync_tui.app.views import TABS
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.client import crypto
from ensync_tui.safetext import json_visible, visible
from ensync_tui.settings import Settings
from tests.app.conftest import wait_for
from tests.app.screen import assert_inert, shot
from tests.client.scripted import ScriptedServer
from tests.hostile import HOSTILE_TEXTS, hostile_records, record

NAME = "hostile/feed"
ACCESS_KEY = "hostile-access-key-0123456789abcdef"
SIZE = (200, 50)


@pytest.fixture
async def engine():
    async with ScriptedServer() as server:
        yield server


def forms(text: str) -> list[str]:
    """How ``text`` may read on screen: as plain text, or inside a JSON string."""
    return [visible(text), json_visible(json.dumps(text, ensure_ascii=False))[1:-1]]


def idem_of(frame: str) -> str:
    return json.loads(frame[len("+RECORD:") :])["idem"]


async def settle(pilot: Any, app: EnsyncApp) -> None:
    inspector = app.query_one(Inspector)
    await pilot.pause()
    await wait_for(pilot, lambda: not inspector.busy, what="the inspector", timeout=30)
    await pilot.pause()


async def connected_app(pilot: Any, app: EnsyncApp) -> None:
    app.animation_level = "none"  # tab switches do not wait for the underline to slide
    await wait_for(pilot, lambda: NAME in app.controller.subscriptions, what="subscribed")


async def test_every_hostile_record_shows_literally_everywhere(engine):
    public, secret = crypto.generate_keypair()
    settings = Settings(url=engine.url, access_key=ACCESS_KEY, app_secret_key=secret)
    settings.subscribe = [NAME]
    app = EnsyncApp(settings)
    records = hostile_records(NAME, public)
    goods = [f"good-{i}" for i in range(3)]
    async with app.run_test(size=SIZE) as pilot:
        await connected_app(pilot, app)
        for _, frame in records:
            await engine.push(frame)
        for i, idem in enumerate(goods):
            await engine.push(record(NAME, idem, crypto.encrypt_payload({"ok": i}, [public])))
        await wait_for(
            pilot, lambda: goods[-1] in app.controller.history.by_idem, what="good records"
        )
        # every record the client takes is held, in order (it may refuse some outright)
        held = [e.idem for e in app.controller.history.entries]
        sent = [idem_of(f) for _, f in records] + goods
        assert held == [idem for idem in sent if idem in held]
        assert all(idem_of(f) in held for label, f in records if label.startswith("fields-"))
        assert held[-3:] == goods
        stream = app.query_one(StreamView)
        stream.action_first()
        await pilot.pause()
        rows = shot(app)
        assert_inert(rows, "stream")
        for label, text in HOSTILE_TEXTS.items():  # the idem column starts with the label
            assert f"idem-{label}-{visible(text)[:8]}" in rows.text, label

        tabs = app.query_one("#inspector-tabs", TabbedContent)
        for label, frame in records:
            idem = idem_of(frame)
            if idem not in app.controller.history.by_idem:
                continue  # refused by the client
            app.main.select_idem(idem)
            for tab in TABS:
                tabs.active = tab
                await settle(pilot, app)
                taken = shot(app)
                where = f"{label} in {tab}"
                assert_inert(taken, where)
                assert visible(idem)[:20] in taken.text, where  # the inspector's header
                text = HOSTILE_TEXTS.get(label.removeprefix("fields-"))
                if text is not None and tab in ("tab-tree", "tab-json", "tab-meta", "tab-raw"):
                    assert any(form in taken.text for form in forms(text)), where
            assert app.is_running, label

        # good records still arrive after all that, and show
        app.main.select_idem(goods[-1])
        tabs.active = "tab-json"
        await settle(pilot, app)
        assert '"ok": 2' in shot(app).text
        assert app.controller.history.by_idem[goods[-1]].value == {"ok": 2}
    assert app.return_code in (None, 0)


async def test_dialogs_name_a_hostile_idem_literally(engine, monkeypatch):
    public, secret = crypto.generate_keypair()
    settings = Settings(url=engine.url, access_key=ACCESS_KEY, app_secret_key=secret)
    settings.subscribe = [NAME]
    app = EnsyncApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await connected_app(pilot, app)
        wanted = {"click-quit", "link", "title", "osc52", "bidi"}
        frames = [(lb, f) for lb, f in hostile_records(NAME, public) if lb[7:] in wanted]
        for _, frame in frames:
            await engine.push(frame)
        await wait_for(
            pilot, lambda: app.controller.history.received == len(frames), what="records"
        )
        for label, frame in frames:
            idem = idem_of(frame)
            for key in ("d", "x"):  # defer and discard name the idem
                app.main.select_idem(idem)
                await pilot.pause()
                await pilot.press(key)
                await wait_for(pilot, lambda: len(app.screen_stack) == 2, what=f"dialog {key}")
                taken = shot(app)
                assert_inert(taken, f"{label} in dialog {key}")
                assert visible(idem) in taken.text, f"{label} in dialog {key}"
                await pilot.press("escape")
                await wait_for(pilot, lambda: len(app.screen_stack) == 1, what="closed")
        assert app.is_running
