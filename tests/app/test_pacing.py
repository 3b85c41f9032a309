"""How often the explorer redraws, with time driven by hand instead of waited for."""

from __future__ import annotations

from ensync_tui.app import EnsyncApp
from ensync_tui.app.messages import RecordsReceived
from ensync_tui.app.pacing import (
    INSPECT_DELAY,
    INSPECT_FOLLOW_DELAY,
    VIEW_EVERY,
    Throttle,
    inspect_delay,
)
from ensync_tui.app.widgets import Inspector, StreamView
from ensync_tui.settings import Settings
from tests.app.conftest import SIZE, SNAP_SECRET, ManualClock, build_records, wait_for


def test_a_throttle_waits_out_the_rest_of_its_interval() -> None:
    clock = ManualClock(10.0)
    throttle = Throttle(clock, 1.0)
    assert throttle.wait() == 0.0  # never done: at once
    throttle.done()
    assert throttle.wait() == 1.0
    clock.advance(0.25)
    assert throttle.wait() == 0.75 and throttle.wait(0.5) == 0.25
    clock.advance(5)
    assert throttle.wait() == 0.0


def test_the_inspector_waits_for_the_cursor_and_for_the_last_redraw_when_following() -> None:
    clock = ManualClock()
    inspected = Throttle(clock, INSPECT_FOLLOW_DELAY)
    assert inspect_delay(False, inspected) == INSPECT_DELAY
    assert inspect_delay(True, inspected) == INSPECT_DELAY  # nothing shown yet
    inspected.done()
    assert inspect_delay(True, inspected) == INSPECT_FOLLOW_DELAY
    assert inspect_delay(False, inspected) == INSPECT_DELAY  # moved by hand: once it rests
    clock.advance(0.9)
    assert inspect_delay(True, inspected) == INSPECT_DELAY


def manual_app() -> tuple[EnsyncApp, ManualClock]:
    clock = ManualClock()
    settings = Settings(url="ws://127.0.0.1:9", access_key="k", app_secret_key=SNAP_SECRET)
    return EnsyncApp(settings, start_session=False, clock=clock), clock


async def test_following_a_stream_redraws_the_inspector_once_a_second() -> None:
    app, clock = manual_app()
    records = build_records(6)
    async with app.run_test(size=SIZE) as pilot:
        stream = app.query_one(StreamView)
        inspector = app.query_one(Inspector)
        app.main.post_message(RecordsReceived(records[:3]))
        await wait_for(pilot, lambda: app.main.inspect_due, what="the first rows")
        assert inspector.entry is None
        clock.advance(INSPECT_DELAY)
        assert inspector.entry is stream.selected and stream.selected.idem == records[2].idem
        # more while following: at most one inspector redraw a second, and the
        # highlighted row waits for it (both always show the same record)
        clock.advance(VIEW_EVERY)
        app.main.post_message(RecordsReceived(records[3:]))
        await wait_for(pilot, lambda: app.main.inspect_due, what="more rows")
        await wait_for(pilot, lambda: len(stream.history) == 6 and not app.main.view_pending)
        assert stream.follow and stream.cursor == 2
        assert inspector.entry is stream.selected and stream.selected.idem == records[2].idem
        # a second after the last redraw, not a second after these records came
        clock.advance(INSPECT_FOLLOW_DELAY - VIEW_EVERY - 0.05)
        assert inspector.entry is stream.selected and stream.selected.idem == records[2].idem
        clock.advance(0.1)
        assert inspector.entry is stream.selected and stream.selected.idem == records[5].idem
        assert stream.cursor == 5


async def test_moving_by_hand_shows_the_record_once_the_cursor_rests() -> None:
    app, clock = manual_app()
    records = build_records(6)
    async with app.run_test(size=SIZE) as pilot:
        stream = app.query_one(StreamView)
        inspector = app.query_one(Inspector)
        app.main.post_message(RecordsReceived(records))
        await wait_for(pilot, lambda: app.main.inspect_due, what="the rows")
        clock.advance(INSPECT_DELAY)
        for _ in range(3):
            due = app.main.inspect_due
            await pilot.press("up")
            await wait_for(pilot, lambda due=due: app.main.inspect_due != due, what="the move")
            assert app.main.inspect_due == clock() + INSPECT_DELAY  # each move waits again
            clock.advance(INSPECT_DELAY / 2)
        assert inspector.entry.idem == records[5].idem
        clock.advance(INSPECT_DELAY / 2)
        assert inspector.entry is stream.selected and stream.selected.idem == records[2].idem


async def test_a_batch_soon_after_a_redraw_waits_for_the_next_one() -> None:
    app, clock = manual_app()
    records = build_records(4)
    async with app.run_test(size=SIZE) as pilot:
        stream = app.query_one(StreamView)
        app.main.post_message(RecordsReceived(records[:2]))
        await wait_for(
            pilot, lambda: len(app.controller.history) == 2 and not app.main.view_pending
        )
        assert stream.selected.idem == records[1].idem  # the first batch is drawn at once
        app.main.post_message(RecordsReceived(records[2:]))
        await wait_for(pilot, lambda: app.controller.history.received == 4, what="held")
        await pilot.pause()
        assert app.main.view_pending and stream.virtual_size.height == 2
        clock.advance(VIEW_EVERY)
        await pilot.pause()
        assert not app.main.view_pending and stream.virtual_size.height == 4
        # the highlight moves with the inspector, once the cursor has rested
        assert stream.selected.idem == records[1].idem
        clock.advance(INSPECT_DELAY - VIEW_EVERY)
        await pilot.pause()
        assert stream.selected.idem == records[3].idem
        assert app.query_one(Inspector).entry is stream.selected
