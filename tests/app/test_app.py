"""The explorer's shell: connect pane, demo, keymap, help, command palette, real dialogs."""

from __future__ import annotations

from textual.widgets import Input, Static

from ensync_tui.app import EnsyncApp
from ensync_tui.app.controller import SHARED_QUEUE
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.screens.help import HelpScreen
from ensync_tui.app.widgets import StreamView, SubscriptionList
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, caught_up, got, round_trip, wait_for
from tests.app.screen import shot


async def test_without_settings_shows_how_to_connect():
    app = EnsyncApp(Settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one("#connect-help").display, what="help pane")
        text = str(app.query_one("#connect-help", Static).render())
        for hint in ("--url", "--access-key", "--app-secret-key", "ENSYNC_URL", "--demo"):
            assert hint in text
        assert not app.query_one("#main").display
        assert app.controller.status.state == "offline"
        await pilot.press("q")
    assert app.return_code == 0


async def test_unreachable_engine_is_a_state_not_a_crash():
    app = EnsyncApp(Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=None))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: app.controller.status.state == "reconnecting", what="reconnecting"
        )
        assert app.controller.status.attempt >= 1 and app.controller.status.reason
        await pilot.press("a")  # nothing selected: a notice, no crash
        assert app.controller.notices[-1] == ("warning", "no record selected")
        await pilot.press("q")
    assert app.return_code == 0


async def test_wrong_access_key_closes_with_the_reason(env):
    app = EnsyncApp(env.settings(access_key="not-a-key"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.controller.status.state == "closed", what="closed")
        assert app.controller.status.reason


async def test_demo_starts_shows_banner_and_stops():
    from ensync_tui.demo import Demo

    demo = Demo(seed=0, rate=0)
    app = EnsyncApp(Settings(), demo)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: app.controller.status.state == "connected", what="demo connected"
        )
        banner = app.query_one("#banner", Static)
        assert banner.display and "demo" in str(banner.render()).lower()
        assert "10,000 messages in flight per name" in str(banner.render())
        assert app.query_one(SubscriptionList).window == 10_000
        names = set(app.controller.settings.subscribe)
        await wait_for(
            pilot, lambda: set(app.controller.subscriptions) == names, what="demo subscriptions"
        )
        await demo.publish_sample(4)
        await wait_for(pilot, lambda: app.controller.history.received >= 1, what="demo records")
        assert {e.name for e in app.controller.history.entries} <= names
        assert all(
            not e.error
            for e in app.controller.history.entries
            if e.decrypt(app.controller.history.secret_key)
        )
        await pilot.press("q")
    assert not demo.running


async def test_keymap_overrides_the_main_screens_bindings(env):
    app = EnsyncApp(env.settings(keys={"ack": "t", "follow": "w", "help": "h"}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "orders/created" in app.controller.subscriptions)
        (idem,) = await env.publish("orders/created", {"v": 1})
        await wait_for(pilot, lambda: got(app, 1))
        await pilot.press("a")  # the key the override replaced does nothing now
        await round_trip(app, "orders/created", idem)
        assert env.state(idem) == "pending"
        assert app.controller.notices == [("warning", SHARED_QUEUE)]  # said on connecting
        await pilot.press("t")
        await wait_for(pilot, lambda: env.state(idem) == "acked", what="acked by t")
        keys = {b.id: b.key for b in app.main.key_bindings()}
        assert keys["ack"] == "t" and keys["follow"] == "w" and keys["defer"] == "d"
        assert keys["quit"] == "q"
        footer = shot(app).lines[-1]
        assert "t Ack" in footer and "a Ack" not in footer and "w Follow" in footer
        await pilot.press("up", "w")  # off follow, and back
        assert app.main.stream.follow
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help by h")


async def test_help_screen_lists_the_bindings():
    app = EnsyncApp(Settings(), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("a")  # main-screen keys are off under a dialog
        assert app.controller.notices == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_command_palette_offers_actions_names_and_idems(fixed_records):
    from ensync_tui.app.palette import EnsyncCommands

    app = EnsyncApp(Settings(message_names=["billing/paid"]), start_session=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.post_message(RecordsReceived(fixed_records))
        await wait_for(pilot, lambda: got(app, len(fixed_records)))
        provider = EnsyncCommands(app.screen)
        texts = [hit.text async for hit in provider.discover()]
        assert "Ack" in texts and "Publish" in texts and "Follow" in texts
        assert "Filter: billing/paid" in texts and "Subscribe: billing/paid" in texts
        last = fixed_records[-1].idem
        assert f"Select: {last}" in texts and f"Replay: {last}" in texts
        hits = [hit async for hit in provider.search("filter orders")]
        assert hits and all("orders" in (h.text or "") for h in hits)
        # choosing "Select: idem" moves the cursor there
        first = fixed_records[0].idem
        app.main.select_idem(first)
        await pilot.pause()
        assert app.query_one(StreamView).selected.idem == first


async def test_real_dialogs_defer_and_discard(env):
    from ensync_tui.app.screens.prompts import DeferScreen, DiscardScreen

    app = EnsyncApp(env.settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "orders/created" in app.controller.subscriptions)
        first, second = await env.publish("orders/created", {"v": 1}, n=2)
        await wait_for(pilot, lambda: caught_up(app, 2))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeferScreen))
        await pilot.press(*"30s", "enter", *"later", "enter")
        await wait_for(pilot, lambda: env.state(second) == "deferred", what="deferred")
        await pilot.press("up", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscardScreen))
        screen = app.screen
        screen.query_one("#reason", Input).value = "junk"
        await pilot.press("enter")  # the reason, then the confirmation, as the dialog asks
        await wait_for(pilot, lambda: screen.focused is screen.query_one("#ok"), what="armed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: env.state(first) == "discarded", what="discarded")
