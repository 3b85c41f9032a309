"""Moving around the main screen: j/k/g/G, the inspector's tab keys and zoom, Esc on a
filter, and the highlighted row and the inspector agreeing while following."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, TabbedContent

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import RecordsReceived, SubscriptionsChanged
from ensync_tui.app.pacing import INSPECT_DELAY, INSPECT_FOLLOW_DELAY, VIEW_EVERY
from ensync_tui.app.screens.help import HelpScreen
from ensync_tui.app.widgets import Inspector, StreamView, SubscriptionList
from ensync_tui.settings import Settings
from tests.app.conftest import (
    SIZE,
    SNAP_SECRET,
    ManualClock,
    build_records,
    got,
    settled,
    wait_for,
)
from tests.app.screen import shot


def quiet_app() -> EnsyncApp:
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=SNAP_SECRET)
    return EnsyncApp(settings, start_session=False, clock=ManualClock())


async def held(pilot: Any, count: int = 6) -> EnsyncApp:
    app: EnsyncApp = pilot.app
    app.main.post_message(SubscriptionsChanged(["orders/created", "orders/status"], {}))
    app.main.post_message(RecordsReceived(build_records(count)))
    await wait_for(pilot, lambda: got(app, count), what="records")
    await settled(pilot, INSPECT_DELAY)
    return app


async def test_the_highlighted_row_is_the_inspected_one_while_following() -> None:
    app = quiet_app()
    records = build_records(40)
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 0)
        stream, inspector = app.query_one(StreamView), app.query_one(Inspector)
        clock = app.controller.clock
        assert isinstance(clock, ManualClock)
        # a message every 50 ms, as a busy demo sends them: at every step the row
        # drawn highlighted and the inspector's record are the same one
        for record in records:
            app.main.post_message(RecordsReceived([record]))
            await wait_for(pilot, lambda r=record: app.controller.history.by_idem.get(r.idem))
            clock.advance(0.05)
            await pilot.pause()
            if inspector.entry is not None:
                assert stream.selected is inspector.entry
                assert stream.history[stream.cursor] is inspector.entry
        assert stream.follow
        await settled(pilot, INSPECT_FOLLOW_DELAY + VIEW_EVERY)
        assert stream.selected is inspector.entry
        assert inspector.entry is not None and inspector.entry.idem == records[-1].idem


async def test_esc_clears_the_filter_after_enter_and_the_cursor_stays() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 12)
        stream = app.query_one(StreamView)
        await pilot.press("up", "up", "up")
        target = stream.selected
        assert target is not None and not stream.follow
        # a filter that first matches nothing, then only the row the cursor is on
        await pilot.press("slash", *"zz")
        await wait_for(pilot, lambda: len(stream.history) == 0, what="nothing matches")
        app.query_one("#filter", Input).value = target.idem[9:13]
        await wait_for(pilot, lambda: len(stream.history) == 1, what="one match")
        await pilot.press("enter")
        assert app.focused is stream and stream.selected is target
        await pilot.press("escape")  # from the stream, not the filter box
        await wait_for(pilot, lambda: len(stream.history) == 12, what="the filter cleared")
        assert app.controller.history.filter.text == ""
        assert not app.query_one("#filter", Input).display
        assert stream.selected is target and stream.cursor == 8


async def test_esc_keeps_the_cursor_on_its_message_when_the_filter_hid_it() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 12)
        stream = app.query_one(StreamView)
        await pilot.press("up", "up")
        target = stream.selected
        await pilot.press("slash", *"no-such-text")
        await wait_for(pilot, lambda: len(stream.history) == 0, what="nothing matches")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(stream.history) == 12, what="the filter cleared")
        assert stream.selected is target and stream.cursor == 9


async def test_esc_drops_the_chosen_subscription_view_next() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 12)
        stream = app.query_one(StreamView)
        app.main.apply_filter(name="orders/status")
        await wait_for(pilot, lambda: len(stream.history) == 4)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(stream.history) == 12, what="every name again")
        assert app.controller.history.filter.name is None


async def test_j_k_g_G_move_in_the_stream_and_the_subscriptions_list() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 12)
        stream = app.query_one(StreamView)
        assert stream.follow and stream.cursor == 11
        await pilot.press("k", "k")
        assert stream.cursor == 9 and not stream.follow
        await pilot.press("j")
        assert stream.cursor == 10
        await pilot.press("g")
        assert stream.cursor == 0
        await pilot.press("G")
        assert stream.cursor == 11 and stream.follow
        subs = app.query_one(SubscriptionList)
        subs.focus()
        await pilot.press("g")
        first = subs.highlighted
        await pilot.press("j")
        assert subs.highlighted == (first or 0) + 1
        await pilot.press("G")
        assert subs.highlighted == subs.option_count - 1
        await pilot.press("k")
        assert subs.highlighted == subs.option_count - 2


async def test_number_keys_choose_the_inspector_tab_and_z_zooms_it() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 6)
        tabs = app.query_one("#inspector-tabs", TabbedContent)
        for key, tab in zip("52341", ("raw", "json", "diff", "meta", "tree"), strict=True):
            await pilot.press(key)
            assert tabs.active == f"tab-{tab}"
        inspector = app.query_one(Inspector)
        height = inspector.size.height
        await pilot.press("z")
        await pilot.pause()
        assert app.main.maximized is inspector
        assert inspector.size.height == SIZE[1] - 1 and inspector.size.width == SIZE[0]  # + footer
        assert not app.query_one(StreamView).display or app.query_one(StreamView).size.area == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.maximized is None and inspector.size.height == height
        await pilot.press("z", "z")
        assert app.main.maximized is None


async def test_help_lists_the_moving_and_inspector_keys() -> None:
    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = "\n".join(shot(app).lines)
        assert "j k" in text and "Down / up a row (both lists)" in text
        assert "g G" in text and "First / last row" in text
        assert "1 2 3 4 5  Inspector tab, in order" in text
        assert "Zoom the inspector" in text and "Panes" in text  # all on one screen


async def test_the_palette_offers_the_tabs_and_zoom_but_not_row_moves() -> None:
    from ensync_tui.app.palette import EnsyncCommands

    app = quiet_app()
    async with app.run_test(size=SIZE) as pilot:
        await held(pilot, 3)
        texts = [hit.text async for hit in EnsyncCommands(app.screen).discover()]
        assert "Raw tab" in texts and "Zoom the inspector (z or esc back)" in texts
        assert "Down a row" not in texts
        hits = [h async for h in EnsyncCommands(app.screen).search("json tab")]
        await hits[0].command()
        await pilot.pause()
        assert app.query_one("#inspector-tabs", TabbedContent).active == "tab-json"
