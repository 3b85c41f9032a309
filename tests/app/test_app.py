"""The explorer's shell: connect pane, demo, keymap, help, command palette, real dialogs."""

from __future__ import annotations

from textual.widgets import Input, Static

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.widgets import StreamView
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, got, wait_for


async def test_without_settings_shows_how_to_connect():
    app = EnsyncApp(Settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one("#connect-help").display, what="help pane")
        text = str(app.query_one("#connect-help", Static).render())
        for hint in ("--url", "--access-key", "--app-secret-key", "ENSYNC_URL", "--demo"):
            assert hint in text
        assert not app.query_one("#main").display
        assert app.status.state == "offline"
        await pilot.press("q")
    assert app.return_code == 0


async def test_unreachable_engine_is_a_state_not_a_crash():
    app = EnsyncApp(Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=None))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.status.state == "reconnecting", what="reconnecting")
        assert app.status.attempt >= 1 and app.status.reason
        await pilot.press("a")  # nothing selected: a notice, no crash
        assert app.notices[-1] == ("warning", "no record selected")
        await pilot.press("q")
    assert app.return_code == 0


async def test_wrong_access_key_closes_with_the_reason(env):
    app = EnsyncApp(env.settings(access_key="not-a-key"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.status.state == "closed", what="closed")
        assert app.status.reason


async def test_demo_starts_shows_banner_and_stops():
    from ensync_tui.demo import Demo

    demo = Demo(seed=0, rate=0)
    app = EnsyncApp(Settings(), demo)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.status.state == "connected", what="demo connected")
        banner = app.query_one("#banner", Static)
        assert banner.display and "demo" in str(banner.render()).lower()
        names = set(app.settings.subscribe)
        await wait_for(pilot, lambda: set(app.subscriptions) == names, what="demo subscriptions")
        await demo.publish_sample(4)
        await wait_for(pilot, lambda: app.history.received >= 1, what="demo records")
        assert {e.name for e in app.history.entries} <= names
        assert all(not e.error for e in app.history.entries if e.decrypt(app.history.secret_key))
        await pilot.press("q")
    assert not demo.running


async def test_keymap_overrides_a_binding(env):
    app = EnsyncApp(env.settings(keys={"ack": "k", "follow": "g"}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "orders/created" in app.subscriptions)
        (idem,) = await env.publish("orders/created", {"v": 1})
        await wait_for(pilot, lambda: got(app, 1))
        await pilot.press("k")
        await wait_for(pilot, lambda: env.state(idem) == "acked", what="acked by k")
        keys = {b.id: b.key for b in app.action_bindings()}
        assert keys["ack"] == "k" and keys["follow"] == "g" and keys["defer"] == "d"


async def test_help_screen_lists_the_bindings():
    from ensync_tui.app.screens.help import HelpScreen

    app = EnsyncApp(Settings(), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("a")  # main-screen keys are off under a dialog
        assert app.notices == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_command_palette_offers_actions_names_and_idems(fixed_records):
    from ensync_tui.app.commands import EnsyncCommands

    app = EnsyncApp(Settings(message_names=["billing/paid"]), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(RecordsReceived(fixed_records))
        await wait_for(pilot, lambda: got(app, len(fixed_records)))
        provider = EnsyncCommands(app.screen)
        texts = [hit.text async for hit in provider.discover()]
        assert "Ack" in texts and "Publish" in texts and "Follow" in texts
        assert "Filter: billing/paid" in texts and "Subscribe: billing/paid" in texts
        last = fixed_records[-1]["idem"]
        assert f"Select: {last}" in texts and f"Replay: {last}" in texts
        hits = [hit async for hit in provider.search("filter orders")]
        assert hits and all("orders" in (h.text or "") for h in hits)
        # choosing "Select: idem" moves the cursor there
        first = fixed_records[0]["idem"]
        app.select_idem(first)
        await pilot.pause()
        assert app.query_one(StreamView).selected.idem == first


async def test_real_dialogs_defer_and_discard(env):
    from ensync_tui.app.screens.prompts import DeferScreen, DiscardScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "orders/created" in app.subscriptions)
        first, second = await env.publish("orders/created", {"v": 1}, n=2)
        await wait_for(pilot, lambda: got(app, 2))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeferScreen))
        await pilot.press(*"30s", "enter", *"later", "enter")
        await wait_for(pilot, lambda: env.state(second) == "deferred", what="deferred")
        await pilot.press("up", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscardScreen))
        screen = app.screen
        screen.query_one("#reason", Input).value = "junk"
        for _ in range(3):  # reason, then confirm, as the dialog asks
            if not isinstance(app.screen, DiscardScreen):
                break
            await pilot.press("enter")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: env.state(first) == "discarded", what="discarded")
